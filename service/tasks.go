package service

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hookd/hookd"
)

// Replay starts a task that makes a new delivery to a webhook of every
// event created in w that it subscribes to (with onlyMissing, of those
// that have none to it yet), and returns the task.
func (s *Service) Replay(ctx context.Context, tenantID, webhookID string, w hookd.Window, onlyMissing bool) (*hookd.Task, error) {
	v := &hookd.ValidationError{}
	if w.Since.IsZero() {
		v.Add("since", "is required")
	}
	if !w.Since.IsZero() && !w.Until.IsZero() && w.Until.Before(w.Since) {
		v.Add("until", "is before since")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	wh, err := s.Webhook(ctx, tenantID, webhookID)
	if err != nil {
		return nil, err
	}
	if !wh.Enabled {
		return nil, hookd.Errorf(hookd.ErrConflict, "webhook %s is disabled: enable it before replaying to it", wh.ID)
	}
	params, err := json.Marshal(hookd.ReplayParams{WebhookID: wh.ID, Since: w.Since, Until: w.Until, OnlyMissing: onlyMissing})
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	now := s.clock.Now()
	t := &hookd.Task{ID: hookd.NewID(hookd.PrefixTask, now), TenantID: tenantID, Kind: hookd.TaskReplay,
		Status: hookd.TaskRunning, CreatedAt: now, Params: params}
	ctx, e := s.audited(ctx, tenantID)
	e.Action, e.Target, e.Changes = hookd.AuditDeliveriesReplayed, hookd.AuditTarget{Type: "webhook", ID: wh.ID}, windowChanges(w)
	e.Changes["task"] = hookd.Change{To: t.ID}
	if onlyMissing {
		e.Changes["onlyMissing"] = hookd.Change{To: true}
	}
	if err := s.store.CreateTask(ctx, t); err != nil {
		return nil, notFound(err, "tenant %s not found", tenantID)
	}
	if s.cfg.NotifyTasks != nil {
		s.cfg.NotifyTasks()
	}
	return t, nil
}

// Task returns a tenant's task.
func (s *Service) Task(ctx context.Context, tenantID, id string) (*hookd.Task, error) {
	t, err := s.store.GetTask(ctx, tenantID, id)
	if isNotFound(err) {
		return nil, hookd.Errorf(hookd.ErrNotFound, "task %s not found", id)
	}
	return t, err
}

// FindTask returns any tenant's task by its id: for the admin's Svix API,
// whose task ids name no tenant.
func (s *Service) FindTask(ctx context.Context, id string) (*hookd.Task, error) {
	t, err := s.store.FindTask(ctx, id)
	if isNotFound(err) {
		return nil, hookd.Errorf(hookd.ErrNotFound, "task %s not found", id)
	}
	return t, err
}

// Recover queues a webhook's failed deliveries in w again, as RetryFailed,
// and keeps a finished task of it (kind recover, its total and done the
// deliveries queued), so that the Svix API's recover answers an id that
// reads back. The task is written after the retry: should that write
// fail, the deliveries are queued all the same and the caller sees the
// error.
func (s *Service) Recover(ctx context.Context, tenantID, webhookID string, w hookd.Window) (*hookd.Task, error) {
	n, err := s.RetryFailed(ctx, tenantID, webhookID, w)
	if err != nil {
		return nil, err
	}
	params, err := json.Marshal(hookd.ReplayParams{WebhookID: webhookID, Since: w.Since, Until: w.Until})
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	now := s.clock.Now()
	t := &hookd.Task{ID: hookd.NewID(hookd.PrefixTask, now), TenantID: tenantID, Kind: hookd.TaskRecover,
		Status: hookd.TaskFinished, Total: n, Done: n, CreatedAt: now, FinishedAt: now, Params: params}
	if err := s.store.CreateTask(ctx, t); err != nil {
		return nil, notFound(err, "tenant %s not found", tenantID)
	}
	return t, nil
}
