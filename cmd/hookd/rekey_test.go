package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/sqlite"
)

// hookd refuses to start with a key that does not open the stored secrets,
// or without one, and says which key it wants; hookd rekey moves them to
// another key.
func TestEncryptionKeyChecked(t *testing.T) {
	db := filepath.Join(t.TempDir(), "k.db")
	keyA := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	keyB := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	keyC := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))
	rawA, _ := base64.StdEncoding.DecodeString(keyA)
	rawB, _ := base64.StdEncoding.DecodeString(keyB)
	fpA, fpB := hookd.KeyFingerprint(rawA), hookd.KeyFingerprint(rawB)

	url, _, stop := start(t, "--db", db, "--admin-key", "k", "--encryption-key", keyA, "--allow-networks", "127.0.0.0/8")
	c := &client{t: t, base: url, key: "k"}
	c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	secret := c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "h", "url": "https://127.0.0.1:1/", "events": []string{"*"}})["secret"]
	stop()

	refused := func(want string, args ...string) {
		t.Helper()
		err := run(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--admin-key", "k"}, args...), io.Discard, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("serve %v: %v, want a refusal naming %q", args, err, want)
		}
	}
	refused("fingerprint is " + fpA)                         // no key
	refused("fingerprint is "+fpA, "--encryption-key", keyB) // another key
	refused("this --encryption-key's is "+fpB, "--encryption-key", keyB)

	// A database from before fingerprints: the key is checked against a
	// stored secret, then its fingerprint is recorded.
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: db})
	must(t, err)
	must(t, st.SetSetting(context.Background(), hookd.SettingKeyFingerprint, []byte{}))
	st.Close()
	refused("does not open the stored endpoint secrets", "--encryption-key", keyB)
	refused("stored encrypted; start hookd with the --encryption-key")

	var out bytes.Buffer
	if err := run(context.Background(), []string{"rekey", "--db", db, "--encryption-key", keyB, "--new-encryption-key", keyA}, &out, io.Discard, nil); err == nil {
		t.Fatal("rekey from a key that does not open the secrets succeeded")
	}
	if err := run(context.Background(), []string{"rekey", "--db", db, "--encryption-key", keyA, "--new-encryption-key", keyB}, &out, io.Discard, nil); err != nil {
		t.Fatalf("rekey: %v", err)
	}
	if !strings.Contains(out.String(), "re-encrypted 1 secrets") || !strings.Contains(out.String(), fpB) {
		t.Fatalf("rekey said %q", out.String())
	}
	refused("fingerprint is "+fpB, "--encryption-key", keyA)
	// Run again, or with a wrong old key: refused, saying which it is.
	for _, tc := range []struct{ old, new, want string }{
		{keyA, keyB, "stored with the new key already"},
		{keyC, keyA, "--encryption-key (the old key) is not it"},
	} {
		err := run(context.Background(), []string{"rekey", "--db", db, "--encryption-key", tc.old, "--new-encryption-key", tc.new}, io.Discard, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hookd rekey") {
			t.Errorf("rekey from %s: %v", tc.old, err)
		}
	}
	url, _, stop = start(t, "--db", db, "--admin-key", "k", "--encryption-key", keyB)
	defer stop()
	c.base = url
	list := c.must(200, "GET", "/v1/tenants/acme/webhooks", nil)["data"].([]any)
	id := list[0].(map[string]any)["id"].(string)
	if got := c.must(200, "GET", "/v1/tenants/acme/webhooks/"+id+"/secret", nil)["secret"]; got != secret {
		t.Fatalf("the secret after rekey is %v, want %v", got, secret)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
