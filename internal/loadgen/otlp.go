package loadgen

import (
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"sync"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// OTLPSink is an OTLP/HTTP trace receiver for the traced row: it keeps
// each export's body and answers 200 at once, and counts the spans only
// when asked, after the row, so that decoding takes no CPU from the
// process under measurement while it runs.
type OTLPSink struct {
	URL    string
	srv    *http.Server
	mu     sync.Mutex
	bodies [][]byte
}

// StartOTLPSink listens on 127.0.0.1; point OTEL_EXPORTER_OTLP_ENDPOINT
// at its URL.
func StartOTLPSink() (*OTLPSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &OTLPSink{URL: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, req *http.Request) {
		var r io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			r = zr
		}
		body, err := io.ReadAll(r)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		s.mu.Lock()
		s.bodies = append(s.bodies, body)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	})
	s.srv = &http.Server{Handler: mux}
	go s.srv.Serve(ln)
	return s, nil
}

// Take returns the spans and exports received since the last Take, and
// forgets them.
func (s *OTLPSink) Take() (spans, exports int, err error) {
	s.mu.Lock()
	bodies := s.bodies
	s.bodies = nil
	s.mu.Unlock()
	for _, b := range bodies {
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			return spans, exports, err
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans += len(ss.Spans)
			}
		}
	}
	return spans, len(bodies), nil
}

// Close stops the sink.
func (s *OTLPSink) Close() { s.srv.Close() }
