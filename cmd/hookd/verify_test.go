package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerifyCommand(t *testing.T) {
	// The Standard Webhooks specification's vector, saved as received.
	saved := "POST /hooks HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/json\r\nContent-Length: 20\r\n" +
		"webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\r\nwebhook-timestamp: 1614265330\r\n" +
		"webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\r\n\r\n" + `{"test": 2432232314}` + "\n"
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.http", saved)
	headersOnly := write("bare.http", strings.SplitN(saved, "\r\n", 2)[1]) // no request line
	tampered := write("bad.http", strings.Replace(saved, "2432232314", "2432232315", 1))
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	tests := []struct {
		name    string
		args    []string
		wantErr error
		want    []string
	}{
		{"verifies", []string{"--secret", secret, "--tolerance", "100000h", good}, nil, []string{"OK"}},
		{"without the request line", []string{"--secret", secret, "--tolerance", "100000h", headersOnly}, nil, []string{"OK"}},
		{"second secret of a rotation", []string{"--secret", "whsec_b3RoZXJvdGhlcm90aGVyb3RoZXI=", "--secret", secret, "--tolerance", "100000h", good}, nil, []string{"OK"}},
		{"old timestamp, right signature", []string{"--secret", secret, good}, errNotVerified, []string{"FAIL", "timestamp outside the tolerance", "signature itself is right"}},
		{"tampered body", []string{"--secret", secret, "--tolerance", "100000h", tampered}, errNotVerified, []string{"FAIL", "no signature matches", "re-encoded"}},
		{"wrong scheme", []string{"--secret", secret, "--scheme", "github", good}, errNotVerified, []string{"FAIL", "X-Hub-Signature-256", "Headers present"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(t.Context(), append([]string{"verify"}, tt.args...), &out, &errOut, nil)
			if !errors.Is(err, tt.wantErr) && !(err == nil && tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v\n%s%s", err, tt.wantErr, out.String(), errOut.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"verify", good}, &out, &errOut, nil); err == nil || errors.Is(err, errNotVerified) {
		t.Fatalf("no --secret: err = %v", err)
	}
}
