package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// UnreadableSecret checks a webhook whose stored secret this process
// cannot open (another key sealed it, or it is damaged): sealer and reader
// are two stores on one database, sealer with the key the secrets are
// sealed with, reader with another or none. The webhook is read all the
// same, marked, so its tenant still lists, matches and publishes (one such
// webhook failed every publish of its tenant); a write that does not
// rotate keeps what is stored; a rotation replaces it.
func UnreadableSecret(t *testing.T, sealer, reader hookd.Store) {
	tenant(t, sealer, "acme")
	sealed := webhook("acme", "wh_a")
	sealed.PreviousSecrets = []hookd.OldSecret{{Secret: hookd.GenerateSecret(hookd.SchemeStandard), ExpiresAt: base.Add(time.Hour)}}
	must(t, sealer.CreateWebhook(ctx(), sealed))

	got, err := reader.GetWebhook(ctx(), "acme", "wh_a")
	must(t, err)
	if got.SecretUnreadable == "" || got.Secret != "" || got.PreviousSecrets != nil || got.Sealed == nil {
		t.Fatalf("read with another key: unreadable %q, secret %q, previous %v", got.SecretUnreadable, got.Secret, got.PreviousSecrets)
	}
	if _, err := got.ShownSecret(); !errors.Is(err, hookd.ErrConflict) {
		t.Fatalf("ShownSecret = %v, want a conflict", err)
	}
	if ws, err := reader.EnabledWebhooks(ctx(), "acme"); err != nil || len(ws) != 1 {
		t.Fatalf("EnabledWebhooks = %d, %v", len(ws), err)
	}
	if _, n, err := reader.ListWebhooks(ctx(), hookd.WebhookQuery{TenantID: "acme", Page: hookd.Page{Limit: 10}}); err != nil || n != 1 {
		t.Fatalf("ListWebhooks = %d, %v", n, err)
	}
	res, err := reader.PublishEvent(ctx(), event("acme", "evt_1", "a.b"), []string{"wh_a"}, nil)
	if err != nil || res.Deliveries != 1 {
		t.Fatalf("PublishEvent = %+v, %v", res, err)
	}

	// An edit that does not rotate keeps the stored secrets as they are.
	read := got.UpdatedAt
	got.Name = "renamed"
	got.Touch(base.Add(time.Minute))
	if _, err := reader.UpdateWebhook(ctx(), got, read); err != nil {
		t.Fatalf("UpdateWebhook: %v", err)
	}
	back, err := sealer.GetWebhook(ctx(), "acme", "wh_a")
	must(t, err)
	if back.Name != "renamed" || back.SecretUnreadable != "" || back.Secret != sealed.Secret ||
		len(back.PreviousSecrets) != 1 || back.PreviousSecrets[0] != sealed.PreviousSecrets[0] {
		t.Fatalf("after an edit by the other key: name %q, unreadable %q, secret kept %v, previous %v",
			back.Name, back.SecretUnreadable, back.Secret == sealed.Secret, back.PreviousSecrets)
	}

	// A rotation gives it a secret the reader's key opens, and keeps none
	// of the unreadable ones signing.
	got, err = reader.GetWebhook(ctx(), "acme", "wh_a")
	must(t, err)
	read = got.UpdatedAt
	fresh := hookd.GenerateSecret(hookd.SchemeStandard)
	got.Rotate(fresh, time.Hour, base.Add(2*time.Minute))
	got.Touch(base.Add(2 * time.Minute))
	if _, err := reader.UpdateWebhook(ctx(), got, read); err != nil {
		t.Fatalf("UpdateWebhook after a rotation: %v", err)
	}
	got, err = reader.GetWebhook(ctx(), "acme", "wh_a")
	must(t, err)
	if got.SecretUnreadable != "" || got.Secret != fresh || got.PreviousSecrets != nil {
		t.Fatalf("after a rotation: unreadable %q, secret new %v, previous %v", got.SecretUnreadable, got.Secret == fresh, got.PreviousSecrets)
	}
}
