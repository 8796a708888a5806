package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/tasks"
)

func init() {
	for name, fn := range map[string]func(*testing.T, hookd.Store, *Clock){
		"TaskClaimIsLeased":            testTaskClaimIsLeased,
		"FinishedTaskIsNeverClaimed":   testFinishedTask,
		"FindTaskByIDAlone":            testFindTask,
		"StaleTaskChunkChangesNothing": testStaleTaskChunk,
		"ReplayChunkMarksDue":          testReplayChunkMarksDue,
		"ReplayOnlyMissing":            testReplayOnlyMissing,
		"ReplayEventsInWindow":         testReplayEventsInWindow,
		"ReplaySkipsTestSends":         testReplaySkipsTestSends,
		"ReplaySpanEventsOutOfOrder":   testReplaySpanOutOfOrder,
		"ReplayRunsInChunks":           testReplayRunsInChunks,
		"ReplayResumesWithoutDoubling": testReplayResumes,
	} {
		timed[name] = fn
	}
}

const taskLease = 30 * time.Second

// newReplay stores a replay task of acme's events to webhook since since.
func newReplay(t *testing.T, s hookd.Store, clock *Clock, webhook string, since time.Time, onlyMissing bool) *hookd.Task {
	t.Helper()
	params, _ := json.Marshal(hookd.ReplayParams{WebhookID: webhook, Since: since, OnlyMissing: onlyMissing})
	task := &hookd.Task{ID: hookd.NewID(hookd.PrefixTask, clock.Now()), TenantID: "acme", Kind: hookd.TaskReplay,
		Status: hookd.TaskRunning, CreatedAt: clock.Now(), Params: params}
	must(t, s.CreateTask(ctx(), task))
	return task
}

func claimTask(t *testing.T, s hookd.Store) *hookd.Task {
	t.Helper()
	task, err := s.ClaimTask(ctx(), hookd.ClaimTaskParams{Lease: taskLease})
	must(t, err)
	return task
}

// seqs returns the seqs of acme's events, oldest first.
func seqs(t *testing.T, s hookd.Store, ids ...string) []int64 {
	t.Helper()
	out := make([]int64, len(ids))
	for i, id := range ids {
		ev, err := s.GetEvent(ctx(), "acme", id)
		must(t, err)
		out[i] = ev.Seq
	}
	return out
}

func newIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = hookd.NewID(hookd.PrefixDelivery, time.Now())
	}
	return ids
}

// deliveriesTo counts each event's deliveries to a webhook.
func deliveriesTo(t *testing.T, s hookd.Store, webhook string) map[string]int {
	t.Helper()
	ds, _, err := s.ListDeliveries(ctx(), hookd.DeliveryQuery{TenantID: "acme", WebhookID: webhook, Limit: 10000})
	must(t, err)
	n := map[string]int{}
	for _, d := range ds {
		n[d.EventID]++
	}
	return n
}

// A claimed task is its runner's until the lease runs out; then another
// claim takes it with a new token.
func testTaskClaimIsLeased(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	task := newReplay(t, s, clock, "wh_a", base, false)
	first := claimTask(t, s)
	if first == nil || first.ID != task.ID || first.Status != hookd.TaskRunning {
		t.Fatalf("claim: %+v, want task %s", first, task.ID)
	}
	if again := claimTask(t, s); again != nil {
		t.Fatalf("a leased task was claimed again: %+v", again)
	}
	clock.Advance(taskLease)
	second := claimTask(t, s)
	if second == nil || second.ID != task.ID || second.Token == first.Token {
		t.Fatalf("after the lease ran out: %+v (first token %d)", second, first.Token)
	}
}

// A task stored finished (a recover's record) keeps its counts and end,
// and no runner claims it.
func testFinishedTask(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	now := clock.Now()
	task := &hookd.Task{ID: hookd.NewID(hookd.PrefixTask, now), TenantID: "acme", Kind: hookd.TaskRecover,
		Status: hookd.TaskFinished, Total: 7, Done: 7, CreatedAt: now, FinishedAt: now.Add(time.Millisecond), Params: []byte(`{}`)}
	must(t, s.CreateTask(ctx(), task))
	got, err := s.GetTask(ctx(), "acme", task.ID)
	must(t, err)
	if got.Status != hookd.TaskFinished || got.Kind != hookd.TaskRecover || got.Total != 7 || got.Done != 7 || !got.FinishedAt.Equal(task.FinishedAt) {
		t.Fatalf("read back: %+v", got)
	}
	if claimed := claimTask(t, s); claimed != nil {
		t.Fatalf("a finished task was claimed: %+v", claimed)
	}
	running := newReplay(t, s, clock, "wh_a", base, false)
	if got, _ := s.GetTask(ctx(), "acme", running.ID); got.Status != hookd.TaskRunning || !got.FinishedAt.IsZero() {
		t.Fatalf("a running task: %+v", got)
	}
}

// FindTask reads a task without its tenant; GetTask keeps to the tenant.
func testFindTask(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	tenant(t, s, "other")
	task := newReplay(t, s, clock, "wh_a", base, false)
	got, err := s.FindTask(ctx(), task.ID)
	must(t, err)
	if got.ID != task.ID || got.TenantID != "acme" {
		t.Fatalf("found %+v", got)
	}
	if _, err := s.FindTask(ctx(), "task_nope"); !errors.Is(err, hookd.ErrNotFound) {
		t.Fatalf("an unknown task: %v", err)
	}
	if _, err := s.GetTask(ctx(), "other", task.ID); !errors.Is(err, hookd.ErrNotFound) {
		t.Fatalf("another tenant's task through GetTask: %v", err)
	}
}

// A chunk written under a lease that was taken over writes nothing: no
// delivery, no progress.
func testStaleTaskChunk(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 2)
	task := newReplay(t, s, clock, "wh_a", base, false)
	stale := claimTask(t, s)
	clock.Advance(taskLease)
	current := claimTask(t, s)
	chunk := func(token int64) error {
		_, err := s.AdvanceTask(ctx(), hookd.AdvanceTaskParams{TaskID: task.ID, Token: token, Lease: taskLease, Cursor: 100, Done: 2,
			Deliveries: &hookd.NewDeliveries{TenantID: "acme", WebhookID: "wh_a", EventSeqs: seqs(t, s, "e00000", "e00001"), IDs: newIDs(2)}})
		return err
	}
	if err := chunk(stale.Token); !errors.Is(err, hookd.ErrLeaseLost) {
		t.Fatalf("a chunk under a lost lease: %v, want ErrLeaseLost", err)
	}
	if n := deliveriesTo(t, s, "wh_a"); len(n) != 0 {
		t.Fatalf("the stale chunk made deliveries: %v", n)
	}
	if got, _ := s.GetTask(ctx(), "acme", task.ID); got.Done != 0 || got.Cursor != 0 {
		t.Fatalf("the stale chunk moved the task: done %d cursor %d", got.Done, got.Cursor)
	}
	must(t, chunk(current.Token))
	if got, _ := s.GetTask(ctx(), "acme", task.ID); got.Done != 2 || got.Cursor != 100 {
		t.Fatalf("the current chunk: done %d cursor %d", got.Done, got.Cursor)
	}
}

// A chunk's deliveries are PENDING, due at once (a claim finds them), and
// made only to an enabled webhook.
func testReplayChunkMarksDue(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_off")
	publish(t, s, "e", 3)
	task := newReplay(t, s, clock, "wh_a", base, false)
	claimed := claimTask(t, s)
	all := seqs(t, s, "e00000", "e00001", "e00002")
	res, err := s.AdvanceTask(ctx(), hookd.AdvanceTaskParams{TaskID: task.ID, Token: claimed.Token, Lease: taskLease, Cursor: all[2], Done: 3,
		Deliveries: &hookd.NewDeliveries{TenantID: "acme", WebhookID: "wh_a", EventSeqs: all, IDs: newIDs(3)}})
	must(t, err)
	if res.Created != 3 {
		t.Fatalf("created %d, want 3", res.Created)
	}
	if got := claim(t, s, 10, nil); len(got.Claims) != 3 {
		t.Fatalf("a claim found %d of the replayed deliveries, want 3", len(got.Claims))
	}
	disable(t, s, "wh_off")
	res, err = s.AdvanceTask(ctx(), hookd.AdvanceTaskParams{TaskID: task.ID, Token: claimed.Token, Lease: taskLease, Cursor: all[2],
		Deliveries: &hookd.NewDeliveries{TenantID: "acme", WebhookID: "wh_off", EventSeqs: all, IDs: newIDs(3)}})
	must(t, err)
	if res.Created != 0 {
		t.Fatalf("a disabled webhook was given %d deliveries", res.Created)
	}
}

// OnlyMissing makes a delivery only of the events with none to the webhook.
func testReplayOnlyMissing(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b")
	publish(t, s, "had", 2, "wh_a", "wh_b")
	publish(t, s, "new", 2, "wh_a")
	task := newReplay(t, s, clock, "wh_b", base, true)
	claimed := claimTask(t, s)
	all := seqs(t, s, "had00000", "had00001", "new00000", "new00001")
	advance := func(missing bool) int {
		res, err := s.AdvanceTask(ctx(), hookd.AdvanceTaskParams{TaskID: task.ID, Token: claimed.Token, Lease: taskLease, Cursor: all[3],
			Deliveries: &hookd.NewDeliveries{TenantID: "acme", WebhookID: "wh_b", EventSeqs: all, IDs: newIDs(4), OnlyMissing: missing}})
		must(t, err)
		return res.Created
	}
	if n := advance(true); n != 2 {
		t.Fatalf("onlyMissing created %d, want 2", n)
	}
	if got := deliveriesTo(t, s, "wh_b"); len(got) != 4 || got["had00000"] != 1 || got["new00000"] != 1 {
		t.Fatalf("after onlyMissing: %v, want one delivery of each event", got)
	}
	if n := advance(true); n != 0 {
		t.Fatalf("onlyMissing again created %d, want 0", n)
	}
	if n := advance(false); n != 4 {
		t.Fatalf("a full replay created %d, want 4", n)
	}
}

// ReplaySpan and ReplayEvents select by creation time and seq bounds.
func testReplayEventsInWindow(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publishNow(t, s, clock, "old")
	clock.Advance(time.Hour)
	from := clock.Now()
	for _, id := range []string{"in1", "in2", "in3"} {
		publishNow(t, s, clock, id)
		clock.Advance(time.Minute)
	}
	until := clock.Now().Add(-time.Second)
	clock.Advance(time.Hour)
	publishNow(t, s, clock, "late")
	in := seqs(t, s, "in1", "in2", "in3")
	first, last, count, err := s.ReplaySpan(ctx(), "acme", hookd.Window{Since: from, Until: until})
	must(t, err)
	if first != in[0] || last != in[2] || count != 3 {
		t.Fatalf("span: first %d last %d count %d, want %d %d 3", first, last, count, in[0], in[2])
	}
	if _, _, n, _ := s.ReplaySpan(ctx(), "acme", hookd.Window{Since: from}); n != 4 {
		t.Fatalf("span with no end: %d events, want 4", n)
	}
	evs, err := s.ReplayEvents(ctx(), hookd.ReplayEventsParams{TenantID: "acme", After: in[0], Through: last + 100,
		Window: hookd.Window{Since: from, Until: until}, Limit: 10})
	must(t, err)
	if len(evs) != 2 || evs[0].ID != "in2" || evs[1].ID != "in3" {
		t.Fatalf("events after in1 in the window: %v", evs)
	}
	evs, _ = s.ReplayEvents(ctx(), hookd.ReplayEventsParams{TenantID: "acme", After: 0, Through: in[1], Window: hookd.Window{Since: from}, Limit: 10})
	if len(evs) != 2 || evs[0].ID != "in1" {
		t.Fatalf("events through in2: %v", evs)
	}
}

// A test send's event is the sender's alone: a replay, to that webhook or
// another, neither counts nor sends it.
func testReplaySkipsTestSends(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	from := clock.Now()
	publishNow(t, s, clock, "e1")
	ev := event("acme", "evt_test", "webhook.test")
	ev.Timestamp = clock.Now()
	must(t, errOf(s.CreateTestDelivery(ctx(), ev, "wh_a", lease)))
	publishNow(t, s, clock, "e2")
	first, last, count, err := s.ReplaySpan(ctx(), "acme", hookd.Window{Since: from})
	must(t, err)
	in := seqs(t, s, "e1", "e2")
	if first != in[0] || last != in[1] || count != 2 {
		t.Fatalf("span: first %d last %d count %d, want %d %d 2", first, last, count, in[0], in[1])
	}
	evs, err := s.ReplayEvents(ctx(), hookd.ReplayEventsParams{TenantID: "acme", Through: last, Window: hookd.Window{Since: from}, Limit: 10})
	must(t, err)
	if len(evs) != 2 || evs[0].ID != "e1" || evs[1].ID != "e2" {
		t.Fatalf("replayed %v", evs)
	}
}

// Publishes in flight together may take their seq in another order than
// their timestamps: an event stamped in the window but stored before one
// stamped just before it still counts in the window's span.
func testReplaySpanOutOfOrder(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publishNow(t, s, clock, "old")
	clock.Advance(time.Hour)
	from := clock.Now()
	clock.Advance(time.Second)
	publishNow(t, s, clock, "in") // stamped in the window, stored first
	clock.Advance(-2 * time.Minute)
	publishNow(t, s, clock, "before") // stamped before the window, stored after
	clock.Advance(2 * time.Minute)
	in := seqs(t, s, "in")
	first, last, count, err := s.ReplaySpan(ctx(), "acme", hookd.Window{Since: from})
	must(t, err)
	if first != in[0] || last != in[0] || count != 1 {
		t.Fatalf("span: first %d last %d count %d, want %d %d 1", first, last, count, in[0], in[0])
	}
}

func runner(t *testing.T, s hookd.Store, clock *Clock, chunk int, wake func()) *tasks.Runner {
	t.Helper()
	r, err := tasks.New(s, tasks.Config{Chunk: chunk, Lease: taskLease, Clock: clock.Now, Wake: wake})
	must(t, err)
	return r
}

// A replay goes through the window in chunks and makes one delivery of
// each event the webhook subscribes to now, matched as publish matches.
func testReplayRunsInChunks(t *testing.T, s hookd.Store, clock *Clock) {
	tenant(t, s, "acme")
	wh := webhook("acme", "wh_a")
	wh.Events = []string{"a.*"}
	must(t, s.CreateWebhook(ctx(), wh))
	publish(t, s, "e", 7, "wh_a")
	other := event("acme", "other", "c.d") // a type wh_a does not subscribe to
	_, err := s.PublishEvent(ctx(), other, nil, nil)
	must(t, err)
	task := newReplay(t, s, clock, "wh_a", base, false)
	wakes := 0
	ran, err := runner(t, s, clock, 3, func() { wakes++ }).RunOne(ctx())
	must(t, err)
	got, _ := s.GetTask(ctx(), "acme", task.ID)
	if !ran || got.Status != hookd.TaskFinished || got.Total != 8 || got.Done != 8 || got.FinishedAt.IsZero() {
		t.Fatalf("after the run: ran %v, %+v", ran, got)
	}
	n := deliveriesTo(t, s, "wh_a")
	if len(n) != 7 || n["other"] != 0 {
		t.Fatalf("deliveries per event: %v, want 2 of each of the 7 a.b events", n)
	}
	for id, c := range n {
		if c != 2 {
			t.Fatalf("event %s has %d deliveries, want 2", id, c)
		}
	}
	if wakes != 3 {
		t.Fatalf("woke the engine %d times, want once a chunk (3)", wakes)
	}
	if ran, _ := runner(t, s, clock, 3, nil).RunOne(ctx()); ran {
		t.Fatal("a finished task ran again")
	}
}

// A replay whose runner stopped after a chunk is taken over once its
// lease runs out, and goes on after the last chunk written: every event
// is replayed once, none twice.
func testReplayResumes(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 10, "wh_a")
	task := newReplay(t, s, clock, "wh_a", base, false)
	c, cancel := context.WithCancel(ctx())
	defer cancel()
	_, err := runner(t, s, clock, 4, cancel).RunOne(c) // dies after its first chunk
	if err == nil {
		t.Fatal("the first runner was not stopped by its first chunk")
	}
	mid, _ := s.GetTask(ctx(), "acme", task.ID)
	if mid.Status != hookd.TaskRunning || mid.Done != 4 {
		t.Fatalf("after one chunk: %+v", mid)
	}
	if ran, _ := runner(t, s, clock, 4, nil).RunOne(ctx()); ran {
		t.Fatal("a task was taken over while its lease held")
	}
	clock.Advance(taskLease)
	ran, err := runner(t, s, clock, 4, nil).RunOne(ctx())
	must(t, err)
	got, _ := s.GetTask(ctx(), "acme", task.ID)
	if !ran || got.Status != hookd.TaskFinished || got.Done != 10 {
		t.Fatalf("after the take-over: %+v", got)
	}
	for id, n := range deliveriesTo(t, s, "wh_a") {
		if n != 2 {
			t.Fatalf("event %s has %d deliveries, want 2", id, n)
		}
	}
}
