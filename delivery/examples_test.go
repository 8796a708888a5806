package delivery

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// The Node and Python snippets of docs/SIGNATURES.md (kept runnable in
// docs/examples) verify what hookd signs, and refuse a changed body.
func TestSignatureExamples(t *testing.T) {
	secret := hookd.GenerateSecret(hookd.SchemeStandard)
	body := []byte(`{"id":"evt_1","type":"a.b","timestamp":"2026-01-02T03:04:05Z","data":{"ü":"✓"}}`)
	h := http.Header{}
	ts := time.Now().Unix()
	if _, err := sign(h, nil, []string{hookd.GenerateSecret(hookd.SchemeStandard), secret}, "evt_1", "a.b", ts, body); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ interpreter, file string }{{"node", "verify_standard.js"}, {"python3", "verify_standard.py"}} {
		t.Run(tc.interpreter, func(t *testing.T) {
			if _, err := exec.LookPath(tc.interpreter); err != nil {
				t.Skipf("%s is not installed", tc.interpreter)
			}
			run := func(body []byte) string {
				cmd := exec.Command(tc.interpreter, filepath.Join("..", "docs", "examples", tc.file), secret)
				cmd.Env = append(cmd.Environ(), "WEBHOOK_ID=evt_1", "WEBHOOK_TIMESTAMP="+strconv.FormatInt(ts, 10), "WEBHOOK_SIGNATURE="+h.Get(HeaderSignature))
				cmd.Stdin = strings.NewReader(string(body))
				out, _ := cmd.CombinedOutput()
				return strings.TrimSpace(string(out))
			}
			if got := run(body); got != "OK" {
				t.Fatalf("hookd's signature: %s", got)
			}
			if got := run(append(body, '\n')); got != "FAIL: no signature matches" {
				t.Fatalf("a changed body: %s", got)
			}
		})
	}
}
