package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hookd/hookd"
)

// startTracing returns the provider the service and the engine start
// their spans from: one exporting over OTLP/HTTP when the standard
// OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set, configured by
// the standard OTEL_* variables; otherwise a no-op, and tracing costs
// nothing (a caller's traceparent is still passed on: the transports read
// it whatever the provider). stop flushes what is buffered. The provider
// is handed to its users, not set as OpenTelemetry's global: the global's
// tracers delegate to the first provider ever set, so a second hookd in
// one process (tests) would trace into the first one's, shut down.
func startTracing(ctx context.Context, log *slog.Logger) (tracer trace.TracerProvider, stop func(context.Context) error, err error) {
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	// An export that fails is said in hookd's log, in its format, not on
	// the standard logger's plain lines (OpenTelemetry's default). The
	// handler is global; the last hookd started in a process owns it.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("export traces", "err", err) }))
	exp, err := otlpExporter(ctx, log)
	if err != nil {
		return nil, nil, err
	}
	// hookd's name and version, which OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES may override (later detectors win). No
	// schema URL of hookd's own: a resource merged from two schema versions
	// (semconv's and the SDK's) is an error, and was once silently
	// unknown_service.
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("hookd"), semconv.ServiceVersion(hookd.Version)),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil && res == nil {
		return nil, nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return tp, tp.Shutdown, nil
}

// otlpExporter is the OTLP exporter the standard
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL (or OTEL_EXPORTER_OTLP_PROTOCOL) asks
// for: http/protobuf, the default, or grpc (an outside audit: a collector
// on gRPC's :4317 got nothing, silently). Each reads the other OTEL_*
// settings itself. Another (http/json, often set for a whole cluster) is
// said and exported as http/protobuf: hookd starts all the same.
func otlpExporter(ctx context.Context, log *slog.Logger) (sdktrace.SpanExporter, error) {
	name, proto := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		name, proto = "OTEL_EXPORTER_OTLP_PROTOCOL", os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch proto {
	case "", "http/protobuf":
		return otlptracehttp.New(ctx)
	case "grpc":
		return otlptracegrpc.New(ctx)
	}
	log.Warn(fmt.Sprintf("%s=%q: hookd exports traces over grpc or http/protobuf; exporting over http/protobuf", name, proto))
	return otlptracehttp.New(ctx)
}
