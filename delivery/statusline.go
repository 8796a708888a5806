package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// statusConn is an HTTP/1.1 connection that remembers the status line of
// the answer to the request being sent on it. The contract judges an attempt
// by its status line alone, but net/http hands a response over only once all
// its headers have come: a receiver that sends "200 OK" and then stalls, or
// follows it with a header net/http refuses, would otherwise read as a
// timeout or an error. HTTP/2 needs none of this: its status comes in one
// frame with the headers.
type statusConn struct {
	net.Conn

	// active mirrors scanning, for Read to skip the lock once the status
	// line is read: an answer's later reads cost one atomic load.
	active atomic.Bool
	mu     sync.Mutex
	// From expect until the final status line is read (or given up on).
	scanning bool
	interim  bool      // skipping a 1xx answer's headers, to the blank line
	lineEnd  bool      // interim: the last byte that counts ended a line
	line     [13]byte  // "HTTP/1.1 200 "
	n        int       // bytes of line read
	seen     int       // bytes scanned since expect, bounded by maxStatusScan
	status   int       // the final answer's status code; 0 until read
	statusAt time.Time // when it was read
}

// maxStatusScan bounds what is scanned for the final status line: interim
// (1xx) answers before it cost at most this much.
const maxStatusScan = 16 << 10

// expect starts watching for the answer to a request about to be written.
// HTTP/1.1 sends one request at a time on a connection, and the previous
// answer was read to its end before the connection was handed out again.
func (c *statusConn) expect() {
	c.mu.Lock()
	c.scanning, c.interim, c.lineEnd, c.n, c.seen, c.status = true, false, false, 0, 0, 0
	c.active.Store(true)
	c.mu.Unlock()
}

// finalStatus is the status code of the answer's final status line and
// when it was read, or 0 when none was.
func (c *statusConn) finalStatus() (int, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.statusAt
}

func (c *statusConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.active.Load() {
		c.mu.Lock()
		if c.scanning {
			c.scan(p[:n])
			c.active.Store(c.scanning)
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *statusConn) scan(b []byte) {
	for _, ch := range b {
		c.seen++
		if c.seen > maxStatusScan {
			c.scanning = false
			return
		}
		if c.interim {
			switch ch {
			case '\r':
			case '\n':
				if c.lineEnd { // a blank line: the interim answer ended
					c.interim, c.lineEnd, c.n = false, false, 0
					continue
				}
				c.lineEnd = true
			default:
				c.lineEnd = false
			}
			continue
		}
		c.line[c.n] = ch
		c.n++
		if c.n < len(c.line) && ch != '\n' {
			continue
		}
		code := parseStatusLine(c.line[:c.n])
		switch {
		case code >= 100 && code < 200 && code != 101: // 101 ends HTTP, as net/http reads it
			// The rest of this line, its headers, then a blank line.
			c.interim, c.lineEnd = true, ch == '\n'
		default: // the final answer's, or not HTTP at all (0)
			c.status, c.scanning = code, false
			if code != 0 {
				c.statusAt = time.Now()
			}
			return
		}
	}
}

// parseStatusLine reads the code of "HTTP/1.x NNN" and the byte after it;
// 0 when b is not one.
func parseStatusLine(b []byte) int {
	if len(b) < 13 || string(b[:7]) != "HTTP/1." || (b[7] != '0' && b[7] != '1') || b[8] != ' ' || (b[12] != ' ' && b[12] != '\r' && b[12] != '\n') {
		return 0
	}
	code := 0
	for _, d := range b[9:12] {
		if d < '0' || d > '9' {
			return 0
		}
		code = code*10 + int(d-'0')
	}
	if code < 100 {
		return 0
	}
	return code
}

// watchStatus arranges for the attempt made with the returned context to
// note the HTTP/1.1 connection it is sent on; *conn is that connection (nil
// when it is HTTP/2, or none was had).
func watchStatus(ctx context.Context, conn **statusConn) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			sc, _ := info.Conn.(*statusConn)
			if sc != nil {
				sc.expect()
			}
			*conn = sc // nil for HTTP/2, should a retry land there
		},
	})
}

var errTLSHandshakeTimeout = errors.New("TLS handshake timeout")

// tlsDialer makes TLS connections as the transport would, but hands an
// HTTP/1.1 one over inside a statusConn. One that agreed on HTTP/2 goes
// over as it is, so the transport speaks HTTP/2 on it.
func tlsDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error), base *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cfg := base.Clone()
		if cfg.ServerName == "" {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				host = addr
			}
			cfg.ServerName = host
		}
		hctx, cancel := context.WithTimeout(ctx, tlsHandshakeTimeout)
		defer cancel()
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(hctx); err != nil {
			raw.Close()
			if ctx.Err() == nil && hctx.Err() != nil {
				// Its own bound, not the attempt's: said as net/http says it.
				return nil, errTLSHandshakeTimeout
			}
			return nil, err
		}
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			return tc, nil
		}
		return &statusConn{Conn: tc}, nil
	}
}
