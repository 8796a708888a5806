package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func init() {
	for name, fn := range map[string]func(*testing.T, hookd.Store){
		"AuditWrittenWithEachChange":   testAuditWrittenWithEachChange,
		"AuditNotWrittenWithoutChange": testAuditNotWrittenWithoutChange,
		"AuditListFilters":             testAuditListFilters,
	} {
		cases[name] = fn
	}
}

var auditN atomic.Int64

// audited returns ctx carrying an entry of action on target.
func audited(action string, target hookd.AuditTarget) (context.Context, *hookd.AuditEntry) {
	n := auditN.Add(1)
	e := &hookd.AuditEntry{ID: fmt.Sprintf("aud_%d", n), TenantID: "acme", At: base.Add(time.Duration(n) * time.Second),
		Actor: hookd.Actor{Type: hookd.ActorKey, ID: "key_1"}, Action: action, Target: target,
		Changes: map[string]hookd.Change{"name": {From: "a", To: "b"}}}
	return hookd.WithAudit(ctx(), e), e
}

func auditActions(t *testing.T, s hookd.Store) []string {
	t.Helper()
	list, err := s.ListAudit(ctx(), hookd.AuditQuery{TenantID: "acme", Limit: 100})
	must(t, err)
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.Action + " " + e.Target.ID
	}
	return out
}

// Every write that takes an entry writes it in its own transaction, and
// the entry reads back as written.
func testAuditWrittenWithEachChange(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	w := webhook("acme", "wh_a")
	c, e := audited(hookd.AuditWebhookCreated, hookd.AuditTarget{Type: "webhook", ID: "wh_a"})
	must(t, s.CreateWebhook(c, w))
	got, err := s.ListAudit(ctx(), hookd.AuditQuery{TenantID: "acme", Limit: 10})
	must(t, err)
	if len(got) != 1 || got[0].ID != e.ID || !got[0].At.Equal(e.At) || got[0].Actor != e.Actor || got[0].Target != e.Target ||
		got[0].Changes["name"].From != "a" || got[0].Changes["name"].To != "b" || got[0].TenantID != "acme" {
		t.Fatalf("read back %+v, wrote %+v", got, e)
	}

	c, _ = audited(hookd.AuditWebhookUpdated, hookd.AuditTarget{Type: "webhook", ID: "wh_a"})
	read := w.UpdatedAt
	w.Name, w.UpdatedAt = "renamed", base.Add(time.Minute)
	must(t, errOf(s.UpdateWebhook(c, w, read)))
	tn := &hookd.Tenant{ID: "acme", Name: "Acme 2"}
	c, _ = audited(hookd.AuditTenantUpdated, hookd.AuditTarget{Type: "tenant", ID: "acme"})
	must(t, s.UpdateTenant(c, tn))
	c, _ = audited(hookd.AuditKeyCreated, hookd.AuditTarget{Type: "key", ID: "key_1"})
	must(t, s.CreateAPIKey(c, &hookd.APIKey{ID: "key_1", TenantID: "acme", Name: "k", Hash: []byte("h1"), CreatedAt: base}))
	c, _ = audited(hookd.AuditKeyRevoked, hookd.AuditTarget{Type: "key", ID: "key_1"})
	must(t, s.DeleteAPIKey(c, "acme", "key_1"))

	_, err = s.PublishEvent(ctx(), event("acme", "e1", "a.b"), []string{"wh_a"}, nil)
	must(t, err)
	ds, _ := s.ListEventDeliveries(ctx(), "acme", "e1")
	c, _ = audited(hookd.AuditDeliveriesRetried, hookd.AuditTarget{Type: "delivery", ID: ds[0].ID})
	must(t, s.RetryDelivery(c, "acme", ds[0].ID))
	c, _ = audited(hookd.AuditWebhookDeleted, hookd.AuditTarget{Type: "webhook", ID: "wh_a"})
	must(t, s.DeleteWebhook(c, "acme", "wh_a"))

	want := []string{"webhook.deleted wh_a", "deliveries.retried " + ds[0].ID, "key.revoked key_1", "key.created key_1",
		"tenant.updated acme", "webhook.updated wh_a", "webhook.created wh_a"}
	if got := auditActions(t, s); !equal(got, want) {
		t.Fatalf("audit log %q, want %q", got, want)
	}
}

// A write that changes nothing, or fails, writes no entry: the log holds
// exactly the changes that happened.
func testAuditNotWrittenWithoutChange(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	w := webhook("acme", "wh_a")
	must(t, s.CreateWebhook(ctx(), w))

	c, _ := audited(hookd.AuditWebhookCreated, hookd.AuditTarget{Type: "webhook", ID: "wh_a"})
	wantErr(t, s.CreateWebhook(c, w), hookd.ErrConflict) // the id is taken
	c, _ = audited(hookd.AuditWebhookUpdated, hookd.AuditTarget{Type: "webhook", ID: "wh_a"})
	stale := *w
	stale.Name = "stale"
	wantErr(t, errOf(s.UpdateWebhook(c, &stale, base.Add(-time.Hour))), hookd.ErrConflict) // read an older version
	c, _ = audited(hookd.AuditWebhookDeleted, hookd.AuditTarget{Type: "webhook", ID: "wh_gone"})
	wantErr(t, s.DeleteWebhook(c, "acme", "wh_gone"), hookd.ErrNotFound)
	c, _ = audited(hookd.AuditKeyRevoked, hookd.AuditTarget{Type: "key", ID: "key_gone"})
	wantErr(t, s.DeleteAPIKey(c, "acme", "key_gone"), hookd.ErrNotFound)
	c, _ = audited(hookd.AuditDeliveriesRetried, hookd.AuditTarget{Type: "webhook", ID: "wh_a"})
	n, err := s.RetryFailed(c, "acme", "wh_a", hookd.Window{}) // none FAILED
	must(t, err)
	if n != 0 {
		t.Fatalf("retried %d", n)
	}
	if got := auditActions(t, s); len(got) != 0 {
		t.Fatalf("entries without a change: %q", got)
	}
	// And without an entry in the context a change writes none.
	w.Name = "plain"
	read := w.UpdatedAt
	w.UpdatedAt = base.Add(time.Minute)
	must(t, errOf(s.UpdateWebhook(ctx(), w, read)))
	if got := auditActions(t, s); len(got) != 0 {
		t.Fatalf("entries without a context entry: %q", got)
	}
}

// The list filters by action, target and time, pages by cursor newest
// first, and stays within its tenant.
func testAuditListFilters(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	tenant(t, s, "globex")
	var entries []*hookd.AuditEntry
	for i := range 5 {
		action := hookd.AuditKeyCreated
		if i%2 == 1 {
			action = hookd.AuditKeyRevoked
		}
		id := "key_" + string(rune('a'+i))
		c, e := audited(action, hookd.AuditTarget{Type: "key", ID: id})
		if action == hookd.AuditKeyCreated {
			must(t, s.CreateAPIKey(c, &hookd.APIKey{ID: id, TenantID: "acme", Name: "k", Hash: []byte(id), CreatedAt: base}))
		} else {
			prev := "key_" + string(rune('a'+i-1))
			e.Target.ID = prev
			must(t, s.DeleteAPIKey(c, "acme", prev))
		}
		entries = append(entries, e)
	}
	g := &hookd.AuditEntry{ID: "aud_globex", TenantID: "globex", At: base, Actor: hookd.Actor{Type: hookd.ActorAdmin}, Action: hookd.AuditKeyCreated,
		Target: hookd.AuditTarget{Type: "key", ID: "key_g"}}
	must(t, s.CreateAPIKey(hookd.WithAudit(ctx(), g), &hookd.APIKey{ID: "key_g", TenantID: "globex", Name: "k", Hash: []byte("g"), CreatedAt: base}))

	list := func(q hookd.AuditQuery) []string {
		q.TenantID = "acme"
		if q.Limit == 0 {
			q.Limit = 100
		}
		got, err := s.ListAudit(ctx(), q)
		must(t, err)
		out := make([]string, len(got))
		for i, e := range got {
			out[i] = e.ID
		}
		return out
	}
	id := func(is ...int) []string {
		out := make([]string, len(is))
		for k, i := range is {
			out[k] = entries[i].ID
		}
		return out
	}
	if got := list(hookd.AuditQuery{}); !equal(got, id(4, 3, 2, 1, 0)) {
		t.Fatalf("all %q", got)
	}
	if got := list(hookd.AuditQuery{Action: hookd.AuditKeyRevoked}); !equal(got, id(3, 1)) {
		t.Fatalf("by action %q", got)
	}
	if got := list(hookd.AuditQuery{TargetID: "key_a"}); !equal(got, id(1, 0)) {
		t.Fatalf("by target %q", got)
	}
	if got := list(hookd.AuditQuery{Since: entries[1].At, Until: entries[3].At}); !equal(got, id(3, 2, 1)) {
		t.Fatalf("by time %q", got)
	}
	first, err := s.ListAudit(ctx(), hookd.AuditQuery{TenantID: "acme", Limit: 2})
	must(t, err)
	if got := list(hookd.AuditQuery{Before: first[1].Seq, Limit: 2}); len(first) != 2 || !equal(got, id(2, 1)) {
		t.Fatalf("second page %q", got)
	}
	// Deleting a tenant takes its log with it.
	must(t, s.DeleteTenant(ctx(), "globex"))
	if got, err := s.ListAudit(ctx(), hookd.AuditQuery{TenantID: "globex", Limit: 10}); err != nil || len(got) != 0 {
		t.Fatalf("globex's log after its deletion: %v %v", got, err)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
