package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"strings"

	"github.com/hookd/hookd/verify"
)

// errNotVerified makes `hookd verify` exit 1 (2 is for usage errors) after
// it has printed why.
var errNotVerified = errors.New("the request does not verify")

const verifyUsage = `Usage: hookd verify --secret SECRET [--scheme NAME] [flags] [FILE]

Checks the signature of a saved webhook request: FILE (or stdin) holds the
request as received, headers then a blank line then the body, with or
without the request line ("POST /path HTTP/1.1"). Prints whether it
verifies and, if not, why. Exit status: 0 verifies, 1 does not, 2 usage.

Every flag can also be set by the variable HOOKD_VERIFY_ and its name
(--secret: HOOKD_VERIFY_SECRET); a flag given wins.

Flags:
`

// runVerify is `hookd verify`.
func runVerify(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hookd verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, verifyUsage); fs.PrintDefaults() }
	v := verifierFlags(fs)
	if err := parseFlags(fs, "HOOKD_VERIFY_", args); err != nil {
		return err
	}
	if len(v.Secrets) == 0 {
		fs.Usage()
		return errors.New("--secret is required")
	}
	in := stdin
	if name := fs.Arg(0); name != "" && name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	raw, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	h, body, err := parseSavedRequest(raw)
	if err != nil {
		return fmt.Errorf("reading the saved request: %w", err)
	}
	err = v.Verify(h, body)
	if err == nil {
		fmt.Fprintf(stdout, "OK: the signature verifies (scheme %s, body %d bytes)\n", v.Scheme, len(body))
		return nil
	}
	fmt.Fprintf(stdout, "FAIL: %v\n", err)
	switch {
	case errors.Is(err, verify.ErrTimestamp):
		old := *v
		old.Tolerance = -1
		if old.Verify(h, body) == nil {
			fmt.Fprintln(stdout, "  The signature itself is right: only the timestamp is outside the tolerance (a replay, a clock off, or a request saved a while ago; try --tolerance).")
		}
	case errors.Is(err, verify.ErrNoMatch):
		fmt.Fprintf(stdout, "  Checked %d body bytes. Common causes: the wrong secret (after a rotation, try both with --secret twice),\n", len(body))
		fmt.Fprintln(stdout, "  a body that was re-encoded (parsed and re-serialised JSON, changed line endings) before verifying, or the wrong --scheme.")
	case errors.Is(err, verify.ErrMissingHeader):
		fmt.Fprintf(stdout, "  Headers present: %s\n", strings.Join(headerNames(h), ", "))
	}
	return errNotVerified
}

// verifierFlags defines the flags that describe a verifier, shared by
// hookd verify and hookd listen; the verifier is filled in by fs.Parse.
func verifierFlags(fs *flag.FlagSet) *verify.Verifier {
	v := &verify.Verifier{}
	fs.Var((*multiFlag)(&v.Secrets), "secret", "the webhook's secret (repeat it to try several); for standard-ed25519 the whpk_ public key")
	fs.StringVar(&v.Scheme, "scheme", verify.Standard, "the signature scheme: "+strings.Join(verify.Schemes, ", "))
	fs.DurationVar(&v.Tolerance, "tolerance", verify.DefaultTolerance, "how far the signed timestamp may be from now")
	fs.StringVar(&v.Template.Header, "header", "", "hmac-sha256: the signature header")
	fs.StringVar(&v.Template.Content, "content", "", "hmac-sha256: what is signed, e.g. {timestamp}.{body}")
	fs.StringVar(&v.Template.Encoding, "encoding", "hex", "hmac-sha256: hex or base64")
	fs.StringVar(&v.Template.Prefix, "prefix", "", "hmac-sha256: the signature's prefix, e.g. sha256=")
	fs.StringVar(&v.Template.TimestampHeader, "timestamp-header", "", "hmac-sha256: the timestamp header (default webhook-timestamp)")
	fs.StringVar(&v.Template.EventHeader, "event-header", "", "hmac-sha256: the event type header (default hookd-event-type)")
	return v
}

// parseSavedRequest reads headers, a blank line and the body; a leading
// request line is skipped. Without a Content-Length, the body is the rest
// of the input.
func parseSavedRequest(raw []byte) (http.Header, []byte, error) {
	if first, _, _ := bytes.Cut(raw, []byte("\n")); bytes.Contains(first, []byte(" HTTP/")) {
		_, raw, _ = bytes.Cut(raw, []byte("\n"))
	}
	r := bufio.NewReader(bytes.NewReader(raw))
	mime, err := textproto.NewReader(r).ReadMIMEHeader()
	if err != nil && !(errors.Is(err, io.EOF) && len(mime) > 0) {
		return nil, nil, fmt.Errorf("headers: %w", err)
	}
	body, _ := io.ReadAll(r)
	h := http.Header(mime)
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err == nil && n <= len(body) {
			body = body[:n] // drop what an editor or a shell added after the body
		}
	}
	return h, body, nil
}

func headerNames(h http.Header) []string {
	out := make([]string, 0, len(h))
	for k := range h {
		out = append(out, k)
	}
	return out
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }
