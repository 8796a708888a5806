package traceparent

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Format and Inject write what OpenTelemetry's own propagator writes, for
// every flag a span context may carry, and Context reads it back.
func TestAgreesWithThePropagator(t *testing.T) {
	tid := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	sid := trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	for _, flags := range []trace.TraceFlags{0, trace.FlagsSampled, trace.FlagsRandom, 0xff} {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags})
		ctx := trace.ContextWithSpanContext(context.Background(), sc)
		want := http.Header{}
		propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(want))
		if got := Format(ctx); got != want.Get("traceparent") {
			t.Errorf("flags %02x: %q, the propagator writes %q", byte(flags), got, want.Get("traceparent"))
		}
		h := http.Header{}
		Inject(ctx, h)
		if h.Get("traceparent") != want.Get("traceparent") || len(h) != 1 {
			t.Errorf("flags %02x: injected %v, the propagator %v", byte(flags), h, want)
		}
		back := trace.SpanContextFromContext(Context(context.Background(), Format(ctx)))
		if !back.IsRemote() || back.TraceID() != tid || back.SpanID() != sid || back.TraceFlags() != flags&(trace.FlagsSampled|trace.FlagsRandom) {
			t.Errorf("flags %02x: read back %+v", byte(flags), back)
		}
	}
	if got := Format(context.Background()); got != "" {
		t.Errorf("no span: %q", got)
	}
	h := http.Header{}
	if Inject(context.Background(), h); len(h) != 0 {
		t.Errorf("no span: injected %v", h)
	}
	for _, bad := range []string{"", "junk", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"} {
		if sc := trace.SpanContextFromContext(Context(context.Background(), bad)); sc.IsValid() {
			t.Errorf("%q read as %+v", bad, sc)
		}
	}
}

// A request's traceparent is its span's parent; a request without a valid
// one starts a trace, whatever span its context carried before.
func TestExtract(t *testing.T) {
	tid := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	other := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled})
	base := trace.ContextWithSpanContext(context.Background(), other)
	h := http.Header{}
	h.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if sc := trace.SpanContextFromContext(Extract(base, h)); !sc.IsRemote() || sc.TraceID() != tid {
		t.Errorf("with a traceparent: %+v", sc)
	}
	for _, v := range []string{"", "junk"} {
		h := http.Header{}
		if v != "" {
			h.Set("traceparent", v)
		}
		if sc := trace.SpanContextFromContext(Extract(base, h)); sc.IsValid() {
			t.Errorf("traceparent %q: parent %+v", v, sc)
		}
	}
}
