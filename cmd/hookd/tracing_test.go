package main

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an in-process OTLP/HTTP trace receiver.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Write(out)
}

func (o *otlpReceiver) named(name string) *tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.spans {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, a publish is a span under the
// caller's traceparent, each attempt a span under the publish, and the
// receiver gets the attempt's traceparent.
func TestTracing(t *testing.T) {
	otlp := &otlpReceiver{}
	collector := httptest.NewServer(otlp)
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	var gotParent sync.Map
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotParent.Store("traceparent", r.Header.Get("traceparent"))
	}))
	defer rcv.Close()
	url, _, stopServe := start(t, "--db", filepath.Join(t.TempDir(), "t.db"), "--admin-key", "adm", "--allow-networks", "127.0.0.0/8")
	stop := sync.OnceFunc(stopServe)
	defer stop()
	c := &client{t: t, base: url, key: "adm"}
	c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	c.must(201, "POST", "/v1/event-types", map[string]any{"name": "a.b", "description": ""})
	c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "r", "url": rcv.URL, "events": []string{"*"}})

	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest("POST", url+"/v1/tenants/acme/events", strings.NewReader(`{"type":"a.b","data":{}}`))
	req.Header.Set("Authorization", "Bearer adm")
	req.Header.Set("traceparent", "00-"+traceID+"-"+callerSpan+"-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 202 {
		t.Fatalf("publish: %v %v", res, err)
	}
	res.Body.Close()
	eventually(t, "the delivery", func() bool { _, ok := gotParent.Load("traceparent"); return ok })
	stop() // flushes the spans
	publish, attempt := otlp.named("publish a.b"), otlp.named("POST")
	if publish == nil || attempt == nil {
		t.Fatalf("spans: publish %v, attempt %v", publish, attempt)
	}
	if hex.EncodeToString(publish.TraceId) != traceID || hex.EncodeToString(publish.ParentSpanId) != callerSpan {
		t.Errorf("the publish span is not the caller's child: trace %x parent %x", publish.TraceId, publish.ParentSpanId)
	}
	if hex.EncodeToString(attempt.TraceId) != traceID || hex.EncodeToString(attempt.ParentSpanId) != hex.EncodeToString(publish.SpanId) ||
		attempt.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("the attempt span is not the publish span's child: %v", attempt)
	}
	got, _ := gotParent.Load("traceparent")
	if want := "00-" + traceID + "-" + hex.EncodeToString(attempt.SpanId) + "-01"; got != want {
		t.Errorf("the receiver got traceparent %q, want %q", got, want)
	}
}
