package service

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceParent writes what OpenTelemetry's own propagator writes, for every
// flag a span context may carry.
func TestTraceParent(t *testing.T) {
	tid := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	sid := trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	for _, flags := range []trace.TraceFlags{0, trace.FlagsSampled, trace.FlagsRandom, 0xff} {
		ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags}))
		c := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(ctx, c)
		if got := traceParent(ctx); got != c["traceparent"] {
			t.Errorf("flags %02x: %q, the propagator writes %q", byte(flags), got, c["traceparent"])
		}
	}
	if got := traceParent(context.Background()); got != "" {
		t.Errorf("no span: %q", got)
	}
}
