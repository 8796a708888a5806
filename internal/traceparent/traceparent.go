// Package traceparent reads and writes the W3C traceparent header hookd
// keeps with an event and sends with its attempts, without the carrier
// maps OpenTelemetry's propagator takes: both run once per event or
// attempt, whether or not the process records spans.
package traceparent

import (
	"context"
	"encoding/hex"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Header is the header's name, as net/http keys it.
const Header = "Traceparent"

// Format returns the traceparent of ctx's span context (version 00, as
// propagation.TraceContext writes it), or "" when it has none.
func Format(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	tid, sid := sc.TraceID(), sc.SpanID()
	b := make([]byte, 0, 55)
	b = append(b, "00-"...)
	b = hex.AppendEncode(b, tid[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, sid[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, []byte{byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))})
	return string(b)
}

// Inject sets h's traceparent to ctx's span context, if it has one.
func Inject(ctx context.Context, h http.Header) {
	if v := Format(ctx); v != "" {
		h[Header] = []string{v}
	}
}

// Extract returns ctx with the caller's traceparent from request headers
// h, if valid. Always W3C Trace Context, not OpenTelemetry's configurable
// global propagator: the contract passes a publish's trace on to every
// attempt whether or not the process records spans. A request without a
// valid traceparent gets an empty span context, so that the publish span
// knows it is a root at once: looking for a parent that is not there walks
// the whole chain of the request's context, values of net/http's and
// hookd's own (1 % of a traced publish's CPU). So the header alone is the
// parent: a span put in the request's context before (hookd's transports
// start none; a server span of middleware wrapped around them would be one)
// is not.
func Extract(ctx context.Context, h http.Header) context.Context {
	if out := (propagation.TraceContext{}).Extract(ctx, propagation.HeaderCarrier(h)); out != ctx {
		return out
	}
	return trace.ContextWithSpanContext(ctx, trace.SpanContext{})
}

// Context returns ctx with the remote span context v describes, checked
// by OpenTelemetry's own propagator; ctx unchanged when v is not valid.
func Context(ctx context.Context, v string) context.Context {
	if v == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, one(v))
}

// one is a carrier of a traceparent alone.
type one string

func (o one) Get(key string) string {
	if key == "traceparent" {
		return string(o)
	}
	return ""
}
func (one) Set(string, string) {}
func (one) Keys() []string     { return []string{"traceparent"} }
