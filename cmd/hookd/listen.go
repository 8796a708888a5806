package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookd/hookd/verify"
)

const listenUsage = `Usage: hookd listen [--addr 127.0.0.1:9000] [--secret SECRET] [--scheme NAME] [--status 200] [--fail-rate 0] [--save DIR]

A webhook receiver for local development. Point a webhook's url at it (hookd
must run with --allow-networks 127.0.0.0/8 to deliver to this machine). It
prints one line per request: its webhook-id, event type and attempt, whether
its signature verifies with --secret (and if not, why), the status it
answers, and the start of the body. With --save, each request is also kept
as it came (headers, a blank line, the body) in DIR/0001.http, 0002.http…,
for hookd verify or your own verifying code.

Every flag can also be set by the variable HOOKD_LISTEN_ and its name
(--secret: HOOKD_LISTEN_SECRET); a flag given wins.

Flags:
`

// listenBodyShown is how much of each body a line shows; listenMaxBody
// is the most read of one.
const (
	listenBodyShown = 96
	listenMaxBody   = 2 << 20
)

// runListen is hookd listen. ready, when not nil, receives the listening
// address once requests are accepted (for tests).
func runListen(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("hookd listen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, listenUsage); fs.PrintDefaults() }
	addr := fs.String("addr", "127.0.0.1:9000", "the address to listen on")
	status := fs.Int("status", http.StatusOK, "the status to answer with")
	failRate := fs.Float64("fail-rate", 0, "the share of requests, 0 to 1, answered 500 instead (spread evenly), to watch retries")
	save := fs.String("save", "", "a directory to keep each request in, as it came, for hookd verify (made if missing)")
	v := verifierFlags(fs)
	if err := parseFlags(fs, "HOOKD_LISTEN_", args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *status < 200 || *status > 599 {
		return fmt.Errorf("--status must be an HTTP status from 200 to 599, not %d", *status)
	}
	if math.IsNaN(*failRate) || *failRate < 0 || *failRate > 1 {
		return fmt.Errorf("--fail-rate must be from 0 to 1, not %v", *failRate)
	}
	if !slices.Contains(verify.Schemes, v.Scheme) {
		return fmt.Errorf("--scheme must be one of %s, not %q", strings.Join(verify.Schemes, ", "), v.Scheme)
	}
	if len(v.Secrets) > 0 {
		if err := v.Check(); err != nil {
			return fmt.Errorf("--secret: %w", err)
		}
	}
	if *save != "" {
		if err := os.MkdirAll(*save, 0o755); err != nil {
			return fmt.Errorf("--save: %w", err)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	l := &listener{v: v, status: *status, failRate: *failRate, save: *save, out: stdout}
	checking := "signatures are not checked (no --secret)"
	if len(v.Secrets) > 0 {
		checking = "checking " + v.Scheme + " signatures"
	}
	fmt.Fprintf(stdout, "hookd listen: receiving webhooks at http://%s/ (%s; answering %d", ln.Addr(), checking, *status)
	if *failRate > 0 {
		fmt.Fprintf(stdout, ", or 500 to %.0f%% of requests", *failRate*100)
	}
	fmt.Fprintln(stdout, ")")
	srv := &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// A development receiver stops at once: a sender whose request is cut
	// off sends it again.
	return srv.Close()
}

// listener prints and answers each request.
type listener struct {
	v        *verify.Verifier
	status   int
	failRate float64
	save     string // a directory, or ""

	mu  sync.Mutex
	n   int // requests so far
	out io.Writer
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, listenMaxBody+1))
	verdict := "unchecked (no --secret)"
	switch {
	case err != nil:
		verdict = "unreadable body: " + err.Error()
	case len(body) > listenMaxBody:
		verdict = "unchecked: the body is over 2 MiB (hookd sends at most 1 MiB)"
	case len(l.v.Secrets) > 0:
		if err := l.v.Verify(r.Header, body); err != nil {
			verdict = "bad signature: " + err.Error()
		} else {
			verdict = "verified"
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	code := l.status
	// Fail exactly failRate of the requests, spread evenly, so that a
	// retry schedule can be watched without luck deciding.
	if math.Floor(float64(l.n)*l.failRate) > math.Floor(float64(l.n-1)*l.failRate) {
		code = http.StatusInternalServerError
	}
	saved := ""
	switch {
	case l.save == "" || err != nil:
	case len(body) > listenMaxBody:
		// A copy cut at the limit would verify as a bad signature later.
		saved = " saved=(not saved: the body is over 2 MiB)"
	default:
		saved = " saved=" + l.keep(r, body)
	}
	fmt.Fprintf(l.out, "%s %s %s webhook-id=%s type=%s attempt=%s %s → %d %s%s\n",
		time.Now().Format("15:04:05"), r.Method, printable(r.URL.RequestURI(), 200),
		field(r.Header, "webhook-id"), field(r.Header, "hookd-event-type"), field(r.Header, "hookd-attempt"),
		printable(verdict, 300), code, snippet(body), saved)
	w.WriteHeader(code)
}

// keep writes request n as it came (its request line, headers, a blank
// line, the body) to the save directory, and returns the file's path, or
// why it could not.
func (l *listener) keep(r *http.Request, body []byte) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", r.Method, r.URL.RequestURI(), r.Proto)
	r.Header.Write(&b)
	b.WriteString("\r\n")
	b.Write(body)
	path := filepath.Join(l.save, fmt.Sprintf("%04d.http", l.n))
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return "(not saved: " + printable(err.Error(), 200) + ")"
	}
	return path
}

// field is a header's value as one word: nothing a sender puts in a header
// can make a line seem to say something else ("… verified → 200").
func field(h http.Header, name string) string {
	v := h.Get(name)
	if v == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || !unicode.IsGraphic(r) {
			return '_'
		}
		return r
	}, printable(v, 100))
}

// snippet is the start of a body, on one line.
func snippet(body []byte) string {
	if len(body) <= listenBodyShown {
		return printable(string(body), listenBodyShown)
	}
	return printable(string(body), listenBodyShown) + "… (" + strconv.Itoa(len(body)) + " bytes)"
}

// printable makes text from the network safe to print on a terminal: no
// control characters (escape sequences, line breaks), valid UTF-8, at most
// max bytes.
func printable(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if r != ' ' && !unicode.IsGraphic(r) { // control and format characters: escapes, bidi overrides
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
