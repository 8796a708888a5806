package hookd

import (
	"context"
	"encoding/json"
	"time"
)

// A Task is a long operation a user started (a replay), run in the
// background in bounded chunks by package tasks. Its row records how far
// it got, so a task outlives the process running it: another claims it
// when the holder's lease runs out, and goes on from the last chunk
// committed.
type Task struct {
	ID         string
	TenantID   string
	Kind       string // TaskReplay
	Status     TaskStatus
	Total      int // the items the task goes through; counted by its first chunk
	Done       int
	Error      string // why it failed
	CreatedAt  time.Time
	FinishedAt time.Time // zero while running

	// What the task does: its kind's parameters (ReplayParams).
	Params json.RawMessage
	// Progress, for the runner: Prepared once Total, Cursor and End are
	// set; the items after Cursor up to End are left.
	Prepared bool
	Cursor   int64
	End      int64
	// Token fences the runner's writes to its claim.
	Token int64
}

// TaskStatus is a task's state.
type TaskStatus string

const (
	TaskRunning  TaskStatus = "running"
	TaskFinished TaskStatus = "finished"
	TaskFailed   TaskStatus = "failed"
)

// TaskReplay is a replay of stored events to one webhook.
const TaskReplay = "replay"

// TaskRecover is a retry of a webhook's failed deliveries in a window (the
// Svix API's recover). hookd queues them at once, in one statement, so the
// task is stored already finished: its id reads back, as Svix's do.
const TaskRecover = "recover"

// PrefixTask starts task ids.
const PrefixTask = "task_"

// ReplayParams is a replay task's parameters: a new delivery to the
// webhook of every event created in the window that it subscribes to when
// the chunk is made; with OnlyMissing, only of events that have no
// delivery to it yet.
type ReplayParams struct {
	WebhookID   string    `json:"webhookId"`
	Since       time.Time `json:"since"`
	Until       time.Time `json:"until,omitzero"`
	OnlyMissing bool      `json:"onlyMissing,omitempty"`
}

// Tasks is the store's primitives for tasks; the runner that calls them
// lives in package tasks, once for both engines.
type Tasks interface {
	// CreateTask stores a task as t.Status says (a finished one with its
	// Total, Done and FinishedAt), and the audit entry in ctx, in the same
	// transaction.
	CreateTask(ctx context.Context, t *Task) error
	// GetTask returns a tenant's task, or ErrNotFound.
	GetTask(ctx context.Context, tenantID, id string) (*Task, error)
	// FindTask returns a task by its id alone, whichever tenant's, or
	// ErrNotFound: for the admin's Svix API, whose task ids are global.
	FindTask(ctx context.Context, id string) (*Task, error)
	// ClaimTask leases the oldest running task that no live lease holds,
	// for p.Lease by the store's clock, under a new Token; nil when there
	// is none. Two runners never hold the same task.
	ClaimTask(ctx context.Context, p ClaimTaskParams) (*Task, error)
	// ReplaySpan returns the first and last seq and the number of the
	// tenant's events created in w (inclusive); count 0 when none. A test
	// send's event is never among them, here or in ReplayEvents.
	ReplaySpan(ctx context.Context, tenantID string, w Window) (first, last int64, count int, err error)
	// ReplayEvents returns up to p.Limit of the tenant's events with seq
	// in (p.After, p.Through] created in p.Window, in seq order.
	ReplayEvents(ctx context.Context, p ReplayEventsParams) ([]*Event, error)
	// AdvanceTask writes one chunk, in one transaction, only while the
	// task is running under p.Token (else ErrLeaseLost and nothing is
	// written): the deliveries p.Deliveries asks for, the task's progress,
	// and its lease renewed for p.Lease.
	AdvanceTask(ctx context.Context, p AdvanceTaskParams) (*AdvanceTaskResult, error)
}

// ClaimTaskParams are a ClaimTask's.
type ClaimTaskParams struct {
	Lease time.Duration
}

// ReplayEventsParams select one chunk of a replay's events.
type ReplayEventsParams struct {
	TenantID string
	After    int64 // seq, exclusive
	Through  int64 // seq, inclusive
	Window   Window
	Limit    int
}

// AdvanceTaskParams are one chunk of a task's work.
type AdvanceTaskParams struct {
	TaskID string
	Token  int64
	Lease  time.Duration
	// Prepare sets Total, Cursor and End (the task's first chunk).
	Prepare bool
	Total   int
	End     int64
	Cursor  int64 // the task's new cursor
	Done    int   // added to the task's done
	// Deliveries to create, in the same transaction; nil for none.
	Deliveries *NewDeliveries
	// Status ends the task when not TaskRunning (Error says why it failed).
	Status TaskStatus
	Error  string
}

// NewDeliveries are a chunk's new deliveries of stored events to one
// webhook, made only while it exists and is enabled, and marked due.
type NewDeliveries struct {
	TenantID  string
	WebhookID string
	// EventSeqs[i] gets the delivery IDs[i].
	EventSeqs []int64
	IDs       []string
	// OnlyMissing skips the events that have a delivery to the webhook.
	OnlyMissing bool
}

// AdvanceTaskResult is what a chunk wrote.
type AdvanceTaskResult struct {
	Created int // deliveries
}

// MarshalJSON is the task as the API shows it: finishedAt is null while
// it runs, and error is there only when it failed.
func (t *Task) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID         string     `json:"id"`
		Kind       string     `json:"kind"`
		Status     TaskStatus `json:"status"`
		Total      int        `json:"total"`
		Done       int        `json:"done"`
		CreatedAt  time.Time  `json:"createdAt"`
		FinishedAt *time.Time `json:"finishedAt"`
		Error      string     `json:"error,omitempty"`
	}{t.ID, t.Kind, t.Status, t.Total, t.Done, t.CreatedAt, timeOrNil(t.FinishedAt), t.Error})
}
