package main

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an in-process OTLP/HTTP trace receiver.
type otlpReceiver struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	services map[string]bool // the resources' service.name
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	o.take(&req)
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Write(out)
}

// otlpGRPC is the same receiver over OTLP/gRPC.
type otlpGRPC struct {
	coltrace.UnimplementedTraceServiceServer
	o *otlpReceiver
}

func (g otlpGRPC) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	g.o.take(req)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func (o *otlpReceiver) take(req *coltrace.ExportTraceServiceRequest) {
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				if o.services == nil {
					o.services = map[string]bool{}
				}
				o.services[a.GetValue().GetStringValue()] = true
			}
		}
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
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
	traced(t, otlp)
}

// The standard OTEL_EXPORTER_OTLP_PROTOCOL=grpc exports over OTLP/gRPC (a
// collector on :4317); another protocol is refused at the start.
func TestTracingOverGRPC(t *testing.T) {
	otlp := &otlpReceiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(srv, otlpGRPC{o: otlp})
	go srv.Serve(ln)
	defer srv.Stop()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String()) // http: no TLS
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	traced(t, otlp)

	// Another is said, and exported as http/protobuf: hookd starts.
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")
	_, stderr, stop := start(t, "--db", filepath.Join(t.TempDir(), "j.db"), "--admin-key", "adm")
	stop()
	if !strings.Contains(stderr.String(), "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") {
		t.Fatalf("an unsupported protocol not said:\n%s", stderr.String())
	}
}

// traced checks a publish's and its attempt's spans as otlp received them.
func traced(t *testing.T, otlp *otlpReceiver) {
	t.Helper()
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
	if len(otlp.services) != 1 || !otlp.services["hookd"] {
		t.Errorf("spans from services %v, want hookd", otlp.services)
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

// Without OTEL_EXPORTER_OTLP_ENDPOINT nothing is recorded, yet a publish
// that carries a traceparent still passes its trace on (the contract, on
// /v1 and on the Svix-compatible API), and one without sends none.
func TestTraceparentPassedOnUntraced(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	var got sync.Map // event id → traceparent received
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("webhook-id"), r.Header.Get("traceparent"))
	}))
	defer rcv.Close()
	url, _, stop := start(t, "--db", filepath.Join(t.TempDir(), "t.db"), "--admin-key", "adm", "--allow-networks", "127.0.0.0/8")
	defer stop()
	c := &client{t: t, base: url, key: "adm"}
	c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	c.must(201, "POST", "/v1/event-types", map[string]any{"name": "a.b", "description": ""})
	c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "r", "url": rcv.URL, "events": []string{"*"}})

	publish := func(path, body, traceparent string) {
		t.Helper()
		req, _ := http.NewRequest("POST", url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer adm")
		req.Header.Set("Content-Type", "application/json")
		if traceparent != "" {
			req.Header.Set("traceparent", traceparent)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode/100 != 2 {
			t.Fatalf("publish %s: %v %v", path, res, err)
		}
		res.Body.Close()
	}
	const v1Trace, svixTrace = "4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"
	publish("/v1/tenants/acme/events", `{"id":"traced","type":"a.b","data":{}}`, "00-"+v1Trace+"-00f067aa0ba902b7-01")
	publish("/api/v1/app/acme/msg/", `{"eventId":"svix-traced","eventType":"a.b","payload":{}}`, "00-"+svixTrace+"-b7ad6b7169203331-00")
	publish("/v1/tenants/acme/events", `{"id":"untraced","type":"a.b","data":{}}`, "")
	for _, id := range []string{"traced", "svix-traced", "untraced"} {
		eventually(t, "the delivery of "+id, func() bool { _, ok := got.Load(id); return ok })
	}
	for id, trace := range map[string]string{"traced": v1Trace, "svix-traced": svixTrace} {
		tp, _ := got.Load(id)
		if parts := strings.Split(tp.(string), "-"); len(parts) != 4 || parts[1] != trace {
			t.Errorf("event %s: the receiver got traceparent %q, want trace id %s", id, tp, trace)
		}
	}
	if tp, _ := got.Load("untraced"); tp != "" {
		t.Errorf("an event published without traceparent was sent traceparent %q", tp)
	}
}
