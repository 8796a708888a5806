package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/traceparent"
	"github.com/hookd/hookd/netguard"
)

// sender makes the HTTP requests. Connections are kept alive and reused per
// endpoint; every connection is checked by the SSRF guard on the address
// actually dialled.
type sender struct {
	verified    *http.Client
	insecure    *http.Client // for webhooks with sslVerification false
	operator    *http.Client // for the operator's webhook: no SSRF guard
	ua          string
	bodyTimeout time.Duration
}

// maxHeaderBytes bounds what the transport reads of a response's headers
// (net/http's default is 10 MiB); hookd.MaxResponseHeaders of them is kept.
const maxHeaderBytes = 256 << 10

// tlsHandshakeTimeout bounds a TLS handshake with a receiver, in
// tlsDialer (the transport's own bound does not apply to a dialer's
// handshake; a variable for tests).
var tlsHandshakeTimeout = 10 * time.Second

func newSender(guard *netguard.Policy, ua string, bodyTimeout time.Duration) *sender {
	mk := func(skipVerify bool, control func(string, string, syscall.RawConn) error) *http.Client {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: control}
		tlsConfig := &tls.Config{InsecureSkipVerify: skipVerify, NextProtos: []string{"h2", "http/1.1"}} //nolint:gosec // per-webhook opt-out
		tr := &http.Transport{
			Proxy: nil, // a proxy would dial for us, past the guard
			// Both hand over HTTP/1.1 connections as statusConns, so that an
			// attempt is judged by its status line (statusline.go).
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &statusConn{Conn: c}, nil
			},
			DialTLSContext:         tlsDialer(d.DialContext, tlsConfig),
			MaxIdleConns:           4096,
			MaxIdleConnsPerHost:    256,
			IdleConnTimeout:        90 * time.Second,
			ExpectContinueTimeout:  time.Second,
			MaxResponseHeaderBytes: maxHeaderBytes,
			// No Accept-Encoding added behind the attempt log's back: the
			// receiver's answer is kept as it came (a gzip body it sends
			// unasked is kept as its bytes, not unpacked or lost).
			DisableCompression: true,
			ForceAttemptHTTP2:  true,
			TLSClientConfig:    tlsConfig,
		}
		return &http.Client{
			Transport: tr,
			// A redirect is an answer, not a place to go: it fails the attempt.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &sender{verified: mk(false, guard.Control), insecure: mk(true, guard.Control), operator: mk(false, nil), ua: ua, bodyTimeout: bodyTimeout}
}

// send makes one attempt of delivering body to wh and returns it. Every
// problem is the attempt's Error; the error returned is the request's own,
// when it got no answer, for callers that tell kinds of failure apart. The status line decides the
// outcome: it must come within the webhook's timeout, and a 2xx is a
// success even if the body then stalls (the body is read, for the log
// only, within bodyTimeout more).
func (s *sender) send(ctx context.Context, wh *hookd.Webhook, eventID, eventType, deliveryID string, number int, body []byte, now time.Time) (*hookd.Attempt, error) {
	a := &hookd.Attempt{Number: number, StartedAt: now}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var timedOut atomic.Bool
	timer := time.AfterFunc(wh.Timeout, func() { timedOut.Store(true); cancel() })
	defer func() { timer.Stop() }()
	var conn *statusConn // the HTTP/1.1 connection the request goes on
	req, err := http.NewRequestWithContext(watchStatus(ctx, &conn), http.MethodPost, wh.URL, bytes.NewReader(body))
	if err != nil {
		a.Error = "bad webhook URL: " + err.Error()
		return a, nil
	}
	// Room for every header set below: the default map holds 8, and a
	// ninth (traceparent, a second signature) would grow it on every send.
	h := make(http.Header, 12+len(wh.Headers))
	req.Header = h
	for k, v := range wh.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", s.ua)
	h.Set(HeaderID, eventID)
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set("hookd-event-type", eventType)
	h.Set("hookd-delivery-id", deliveryID)
	h.Set("hookd-attempt", strconv.Itoa(number))
	if wh.SecretUnreadable != "" {
		// Sent unsigned it would pass for hookd's with a receiver that
		// does not check, and fail with every one that does.
		a.Error = "not sent: hookd cannot read this webhook's signing secret (" + wh.SecretUnreadable + "); rotate the secret to give it a new one"
		return a, nil
	}
	signed, err := sign(h, wh.Signature, wh.SigningSecrets(now), eventID, eventType, now.Unix(), body)
	if err != nil {
		a.Error = "cannot sign: " + err.Error()
		return a, nil
	}
	// The attempt's span, for a receiver that traces too (nothing when the
	// attempt is not traced).
	traceparent.Inject(ctx, h)
	a.RequestHeaders = logHeaders(h, signed)

	client := s.verified
	switch {
	case wh.TenantID == hookd.OperatorTenant && wh.ID == hookd.OperatorWebhook:
		client = s.operator // its URL is the operator's, not a tenant's
	case !wh.SSLVerification:
		client = s.insecure
	}
	start := time.Now()
	res, err := client.Do(req)
	a.Duration = time.Since(start)
	if err != nil {
		if code, at := statusOf(conn); code != 0 && at.Sub(start) <= wh.Timeout {
			// The status line came in time (one read as the timeout closed
			// the connection is late); its headers then stalled or were not
			// HTTP. The status line decides: a 2xx succeeded, a 410 is
			// gone, another is its status's failure, not a timeout.
			a.StatusCode, a.Duration = code, at.Sub(start)
			if code >= 200 && code < 300 {
				a.Success = true
			} else {
				a.Error = fmt.Sprintf("HTTP %d; the response's headers did not follow", code)
			}
			// Told apart from an answer: the send held its worker until
			// the client gave up, as a silent endpoint's does.
			return a, fmt.Errorf("%w: %w", errHeadersStalled, err)
		}
		if timedOut.Load() {
			err = context.DeadlineExceeded
		}
		a.Error = describe(err, wh.Timeout)
		return a, err
	}
	// The status line came in time: from here only the body's own
	// deadline applies.
	if timer.Stop() {
		timer = time.AfterFunc(s.bodyTimeout, cancel)
	}
	a.StatusCode = res.StatusCode
	// Kept as sent: the store's codec cleans and caps what it keeps
	// (hookd.Attempt.Cleaned).
	a.ResponseHeaders = flatten(res.Header)
	// Read at most what the log keeps; a huge or endless body costs nothing
	// more than that.
	a.ResponseBody, _ = io.ReadAll(io.LimitReader(res.Body, hookd.MaxResponseBody))
	// Drain a little more so the connection can be reused, then give up.
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		a.Success = true
	case res.StatusCode >= 300 && res.StatusCode < 400:
		a.Error = fmt.Sprintf("redirect (%d) not followed", res.StatusCode)
		if loc := res.Header.Get("Location"); loc != "" {
			a.Error += ": Location " + loc
		}
	default:
		a.Error = fmt.Sprintf("HTTP %d", res.StatusCode)
	}
	return a, nil
}

// statusOf is the status line conn read for the attempt, and when; 0
// without one.
func statusOf(conn *statusConn) (int, time.Time) {
	if conn == nil {
		return 0, time.Time{}
	}
	return conn.finalStatus()
}

func (s *sender) closeIdle() {
	s.verified.CloseIdleConnections()
	s.insecure.CloseIdleConnections()
	s.operator.CloseIdleConnections()
}

// errHeadersStalled is send's error for an attempt its status line
// decided while the headers after it never came.
var errHeadersStalled = errors.New("the response's headers stalled")

func describe(err error, timeout time.Duration) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("timeout: no answer within %s", timeout)
	case errors.Is(err, netguard.ErrBlocked):
		// The tenant reads this: the kind of address, not which (the
		// operator's log line has it).
		if be := (*netguard.BlockedError)(nil); errors.As(err, &be) {
			return "the receiver's address is " + be.Kind + ": " + netguard.ErrBlocked.Error()
		}
		return netguard.ErrBlocked.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

func flatten(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = strings.Join(v, ", ")
	}
	return out
}

func logHeaders(h http.Header, signed []string) map[string]string {
	out := flatten(h)
	for _, name := range signed {
		delete(out, http.CanonicalHeaderKey(name))
	}
	for k := range out {
		if hookd.SensitiveHeader(k) {
			out[k] = "[redacted]"
		}
	}
	return out
}
