package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func init() {
	for name, fn := range map[string]func(*testing.T, hookd.Store){
		"Settings":                 testSettings,
		"InitSetting":              testInitSetting,
		"EncryptedSecret":          testEncryptedSecret,
		"ResealRewritesEverything": testResealRewritesEverything,
		"ResealAllOrNothing":       testResealAllOrNothing,
		"ChildOfMissingTenant":     testChildOfMissingTenant,
		"SealingAfterRekeyRefused": testSealingAfterRekeyRefused,
	} {
		cases[name] = fn
	}
}

// InitSetting sets a setting only where it is not set: the first value
// stays, and each caller learns which.
func testInitSetting(t *testing.T, s hookd.Store) {
	got, err := s.InitSetting(ctx(), "fp", []byte("a"))
	if err != nil || string(got) != "a" {
		t.Fatalf("first: %q %v", got, err)
	}
	got, err = s.InitSetting(ctx(), "fp", []byte("b"))
	if err != nil || string(got) != "a" {
		t.Fatalf("second: %q %v, want the first to stay", got, err)
	}
	must(t, s.SetSetting(ctx(), "fp", []byte{}))
	if got, err = s.InitSetting(ctx(), "fp", []byte("c")); err != nil || string(got) != "c" {
		t.Fatalf("over an empty one: %q %v", got, err)
	}
}

func testSettings(t *testing.T, s hookd.Store) {
	_, err := s.Setting(ctx(), "x")
	wantErr(t, err, hookd.ErrNotFound)
	must(t, s.SetSetting(ctx(), "x", []byte("1")))
	must(t, s.SetSetting(ctx(), "x", []byte("2")))
	if v, err := s.Setting(ctx(), "x"); err != nil || string(v) != "2" {
		t.Fatalf("setting = %q, %v", v, err)
	}
}

// EncryptedSecret finds a secret stored encrypted, if the store encrypts
// (the suite runs with and without a key), and never a plain one.
func testEncryptedSecret(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	_, err := s.EncryptedSecret(ctx())
	wantErr(t, err, hookd.ErrNotFound)
	must(t, s.CreateWebhook(ctx(), webhook("acme", "wh_a")))
	v, err := s.EncryptedSecret(ctx())
	switch {
	case err == nil && !strings.HasPrefix(v, "aes:"):
		t.Fatalf("encrypted secret %q", v)
	case err != nil && !errors.Is(err, hookd.ErrNotFound):
		t.Fatal(err)
	}
}

// Reseal rewrites every secret, a rotation's previous one included, and
// records the fingerprint.
func testResealRewritesEverything(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	a, b := webhook("acme", "wh_a"), webhook("acme", "wh_b")
	b.PreviousSecrets = []hookd.OldSecret{{Secret: hookd.GenerateSecret(hookd.SchemeStandard), ExpiresAt: base.Add(24 * time.Hour)}}
	unsigned := webhook("acme", "wh_c")
	unsigned.Signature, unsigned.Secret = &hookd.Signature{Scheme: hookd.SchemeGitHub}, ""
	d := webhook("acme", "wh_d") // rotated three times: a previous secret, two older ones
	for i := range 3 {
		d.PreviousSecrets = append(d.PreviousSecrets, hookd.OldSecret{Secret: hookd.GenerateSecret(hookd.SchemeStandard), ExpiresAt: base.Add(time.Duration(3-i) * time.Hour)})
	}
	for _, w := range []*hookd.Webhook{a, b, unsigned, d} {
		must(t, s.CreateWebhook(ctx(), w))
	}
	var seen []string
	// Every value becomes "[]": a secret to the store, and an empty list
	// where the older secrets' list was (a fake cannot tell the sealed
	// values apart: encrypted, they are all aes:…).
	n, err := s.Reseal(ctx(), hookd.ResealParams{Fingerprint: "f1", Reseal: func(stored string) (string, error) {
		seen = append(seen, stored)
		return "plain:[]", nil
	}})
	must(t, err)
	if n != 6 || len(seen) != 6 {
		t.Fatalf("resealed %d (%d seen), want 6: three secrets, two previous ones and one list of older ones; none for an unsigned webhook", n, len(seen))
	}
	if got, err := s.GetWebhook(ctx(), "acme", "wh_d"); err != nil || got.Secret != "[]" || len(got.PreviousSecrets) != 1 ||
		got.PreviousSecrets[0].Secret != "[]" || !got.PreviousSecrets[0].ExpiresAt.Equal(d.PreviousSecrets[0].ExpiresAt) {
		t.Fatalf("after reseal: %+v %v", got, err)
	}
	if fp, err := s.Setting(ctx(), hookd.SettingKeyFingerprint); err != nil || string(fp) != "f1" {
		t.Fatalf("fingerprint %q %v", fp, err)
	}
	got, err := s.GetWebhook(ctx(), "acme", "wh_b")
	must(t, err)
	if got.Secret != "[]" || len(got.PreviousSecrets) != 1 || got.PreviousSecrets[0].Secret != "[]" {
		t.Fatalf("after reseal: %q %+v", got.Secret, got.PreviousSecrets)
	}
}

// Once hookd rekey has moved the secrets to another key (the recorded
// fingerprint is not this store's key's), a webhook write, which would seal
// its secrets with the old key, is refused and writes nothing: such a
// secret no process could open. No fingerprint recorded decides nothing.
func testSealingAfterRekeyRefused(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	a := webhook("acme", "wh_a")
	must(t, s.CreateWebhook(ctx(), a)) // none recorded
	must(t, s.SetSetting(ctx(), hookd.SettingKeyFingerprint, []byte("another-key")))
	wantErr(t, s.CreateWebhook(ctx(), webhook("acme", "wh_b")), hookd.ErrUnavailable)
	read := a.UpdatedAt
	a.Name = "renamed"
	a.Touch(a.UpdatedAt)
	wantErr(t, errOf(s.UpdateWebhook(ctx(), a, read)), hookd.ErrUnavailable)
	if got, err := s.GetWebhook(ctx(), "acme", "wh_a"); err != nil || got.Name == "renamed" {
		t.Fatalf("after a refused update: %+v %v", got, err)
	}
	wantErr(t, errOf(s.GetWebhook(ctx(), "acme", "wh_b")), hookd.ErrNotFound)
}

// A Reseal that fails part way changes nothing.
func testResealAllOrNothing(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	a, b := webhook("acme", "wh_a"), webhook("acme", "wh_b")
	must(t, s.CreateWebhook(ctx(), a))
	must(t, s.CreateWebhook(ctx(), b))
	must(t, s.SetSetting(ctx(), hookd.SettingKeyFingerprint, []byte("old")))
	calls := 0
	_, err := s.Reseal(ctx(), hookd.ResealParams{Fingerprint: "new", Reseal: func(string) (string, error) {
		if calls++; calls == 2 {
			return "", errors.New("cannot open")
		}
		return "plain:changed", nil
	}})
	if err == nil {
		t.Fatal("a failed reseal reported success")
	}
	for _, w := range []*hookd.Webhook{a, b} {
		got, err := s.GetWebhook(ctx(), "acme", w.ID)
		must(t, err)
		if got.Secret != w.Secret {
			t.Fatalf("%s's secret changed by a failed reseal", w.ID)
		}
	}
	if fp, _ := s.Setting(ctx(), hookd.SettingKeyFingerprint); string(fp) != "old" {
		t.Fatalf("fingerprint %q after a failed reseal", fp)
	}
}

// A row made under a tenant that is gone (deleted meanwhile) is not found,
// on every engine, not a fault.
func testChildOfMissingTenant(t *testing.T, s hookd.Store) {
	wantErr(t, s.CreateWebhook(ctx(), webhook("gone", "wh_a")), hookd.ErrNotFound)
	wantErr(t, s.CreateAPIKey(ctx(), &hookd.APIKey{ID: "key_a", TenantID: "gone", Name: "k", Hash: []byte("h"), CreatedAt: base}), hookd.ErrNotFound)
	wantErr(t, s.CreateConsoleSession(ctx(), &hookd.ConsoleSession{ID: "cs_a", TenantID: "gone", LinkHash: []byte("l"),
		ExpiresAt: base.Add(3600e9), CreatedAt: base}), hookd.ErrNotFound)
}
