// Package sqlite implements hookd.Store on an embedded SQLite database
// (modernc.org/sqlite, pure Go: no cgo toolchain needed to build hookd).
//
// Durability: WAL mode with synchronous=FULL, so a commit is on disk when it
// returns. Every write goes through one writer goroutine that runs whatever
// writes are waiting in a single transaction (group commit): one fsync is
// shared by the whole batch. A batch of queue transactions alone (claims,
// outcomes, leases: hookd.Queue) commits with synchronous=NORMAL: in the
// WAL, safe from a process crash at once, and on disk with the next full
// commit or checkpoint, so a power cut may undo the last few (one more
// send, which at-least-once allows) but never a publish. Writes almost never fail, so a batch runs
// without savepoints; when one write fails, the transaction is rolled back
// and the batch runs again with a savepoint around each write, so the
// failing write rolls back alone. A write function may therefore run twice,
// and must have no effect outside its transaction.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
	_ "modernc.org/sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures Open. The zero value of every field but Path is usable.
type Config struct {
	// Path is the database file; "sqlite://" in front is accepted.
	Path string
	// Box encrypts endpoint secrets at rest; nil stores them as they are.
	Box *hookd.SecretBox
	// Clock is the time source; nil means the wall clock.
	Clock hookd.Clock
	// Logger receives the store's own diagnostics; nil discards them.
	Logger *slog.Logger
	// MaxBatch caps how many writes share one transaction. Default 256.
	MaxBatch int
	// Linger is how long a batch of queue transactions alone (claims,
	// outcomes: commits that need not reach the disk at once) may wait for a
	// publish to share its commit, while publishes come at least this often:
	// one commit an event instead of two at a platform's usual rates. The
	// wait ends as soon as a publish arrives. Default 5ms; negative: never.
	Linger time.Duration
	// ReadConns is the size of the read pool. Default 8.
	ReadConns int
	// CheckpointEvery is how often the WAL is copied into the database
	// file, off the writer's path. Default 1s.
	CheckpointEvery time.Duration
	// WALLimit bounds the WAL file: once a checkpoint finds more than this
	// in it, the next one waits for readers to move on and starts the WAL
	// over (RESTART), and the file is cut back to this size. Default 64 MiB.
	WALLimit int64
}

// Store is the SQLite hookd.Store.
type Store struct {
	cfg   Config
	clock hookd.Clock
	log   *slog.Logger
	box   *hookd.SecretBox
	wdb   *sql.DB // one connection, owned by the writer goroutine
	rdb   *sql.DB // read pool
	cdb   *sql.DB // the checkpointer's connection
	// pageSize is the database's page size: the WAL holds one page a frame.
	pageSize int64
	// restart asks the writer to start the WAL over (restartWAL).
	restart atomic.Bool
	cpDone  chan struct{}
	writes  chan *writeReq
	stmts   map[string]*sql.Stmt // prepared on wdb; used by the writer goroutine only
	// txStmts are stmts bound to the writer's transaction txOf, each bound
	// once a transaction (see txStmt).
	txOf    *sql.Tx
	txStmts map[string]*sql.Stmt
	// relaxed: wdb's synchronous is NORMAL now (the writer's alone).
	relaxed bool
	// lingering, when set (tests), is called as the writer starts to
	// linger.
	lingering func()
	reads     sync.Map // query text → *sql.Stmt prepared on rdb
	stop      chan struct{}
	done      chan struct{}
	once      sync.Once
}

var _ hookd.Store = (*Store)(nil)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("sqlite: store closed")

// Open opens (creating if needed) the database, applies migrations and
// starts the writer.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	path := strings.TrimPrefix(cfg.Path, "sqlite://")
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	if cfg.Linger == 0 {
		cfg.Linger = 5 * time.Millisecond
	}
	if cfg.ReadConns <= 0 {
		cfg.ReadConns = 8
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = time.Second
	}
	if cfg.WALLimit <= 0 {
		cfg.WALLimit = 64 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// temp_store=MEMORY keeps statement sub-journals (multi-row statements
	// inside a transaction) off the disk: they were an eighth of the writer's
	// time as temp-file writes.
	// auto_vacuum is set on the writer's connection only, before
	// journal_mode (the driver runs busy_timeout first and the other
	// _pragma parameters in alphabetical order, whatever the DSN's): a new
	// database frees the space it no longer needs (the pruner runs
	// incremental_vacuum after deleting), and SQLite takes it only while
	// the file is empty, before WAL mode writes its header. On a database
	// made before, it changes nothing until a full VACUUM
	// (docs/OPERATIONS.md). Setting it writes the header in a write
	// transaction, so on a reader's connection it made every new reader
	// wait for a gap in the writer's transactions: under full write load,
	// up to its busy timeout, and then fail.
	pragmas := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=temp_store(2)"
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?"
	dsn := base + pragmas
	// The writer gets an 8 MiB page cache (4x SQLite's default): it
	// touches the queue's indexes on every batch. 32 MiB ran no faster
	// and took ~50 MB more memory (each 4 KiB page takes an 8 KiB slot of
	// the driver's allocator), and SQLite scans the whole cache at the
	// commit after a B-tree balance that swapped two pages' numbers
	// (docs/PERFORMANCE.md, session 13). Readers keep SQLite's default.
	// Its automatic checkpoints are off: a checkpoint fsyncs the database
	// file, and inside the writer's commit it stalled every waiting caller.
	// The checkpointer goroutine does them on its own connection instead.
	// journal_size_limit cuts the WAL file back when the WAL starts over,
	// so a burst does not leave a large file behind.
	wdb, err := sql.Open("sqlite", base+"_pragma=auto_vacuum(2)&"+pragmas+"&_txlock=immediate&_pragma=cache_size(-8192)&_pragma=wal_autocheckpoint(0)"+
		"&_pragma=journal_size_limit("+strconv.FormatInt(cfg.WALLimit, 10)+")")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	if err := migrate(ctx, wdb, cfg.Logger); err != nil {
		wdb.Close()
		// The first statement is where a missing directory or an
		// unwritable file shows: name the file.
		return nil, fmt.Errorf("sqlite database %s: %w", cfg.Path, err)
	}
	rdb, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	rdb.SetMaxOpenConns(cfg.ReadConns)
	rdb.SetMaxIdleConns(cfg.ReadConns)
	s := &Store{
		cfg: cfg, clock: cfg.Clock, log: cfg.Logger, box: cfg.Box, wdb: wdb, rdb: rdb,
		writes:  make(chan *writeReq, 4*cfg.MaxBatch),
		stmts:   map[string]*sql.Stmt{},
		txStmts: map[string]*sql.Stmt{},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		cpDone:  make(chan struct{}),
	}
	for _, q := range hot {
		st, err := wdb.PrepareContext(ctx, q)
		if err != nil {
			wdb.Close()
			rdb.Close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		s.stmts[q] = st
	}
	// The checkpointer gives up quickly when readers are in the way (it
	// tries again on its next tick) rather than hold up the writer.
	cdb, err := sql.Open("sqlite", strings.Replace(dsn, "busy_timeout(10000)", "busy_timeout(200)", 1))
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	cdb.SetMaxOpenConns(1)
	s.cdb = cdb
	if err := cdb.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&s.pageSize); err != nil {
		cdb.Close()
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	go s.writer()
	go s.checkpointer()
	return s, nil
}

// checkpointer copies the WAL into the database file every CheckpointEvery
// (PASSIVE: it never blocks the writer or readers), so that the writer never
// pays for it. A PASSIVE checkpoint copies frames but never starts the WAL
// over: under steady reads and writes some reader always holds a mark in
// it, and the file grew without end (12 GB in 5 minutes at 1,000 events/s).
// So once the WAL holds more than WALLimit, the checkpointer copies what is
// there and asks the writer to start the WAL over (restartWAL), and
// journal_size_limit cuts the file back when it does.
func (s *Store) checkpointer() {
	defer close(s.cpDone)
	t := time.NewTicker(s.cfg.CheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.checkpoint(); err != nil {
				s.log.Warn("wal checkpoint", "err", err)
			}
		}
	}
}

func (s *Store) checkpoint() error {
	var busy, frames, copied int64
	if err := s.cdb.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		return err
	}
	if frames*s.pageSize <= s.cfg.WALLimit {
		return nil
	}
	// Copy what came in meanwhile too, so the writer's restart has little
	// left to do, then ask for it.
	if err := s.cdb.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		return err
	}
	s.restart.Store(true)
	select { // wake an idle writer
	case s.writes <- &writeReq{ctx: context.Background(), fn: func(*sql.Tx) error { return nil }, done: make(chan error, 1)}:
	default:
	}
	return nil
}

// Migrate applies pending migrations and returns (for `hookd migrate`).
func Migrate(ctx context.Context, path string, log *slog.Logger) error {
	s, err := Open(ctx, Config{Path: path, Logger: log})
	if err != nil {
		return err
	}
	return s.Close()
}

func migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	known := 0
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migrate: bad file name %s", name)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if err := applyMigration(ctx, db, version, string(body)); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		known = version
	}
	var newest int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sqlrow.WarnSchemaAhead(log, newest, known)
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, version int, body string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, time.Now().UnixMicro()); err != nil {
		return err
	}
	return tx.Commit()
}

// Close stops the writer after the writes already queued and closes the
// database.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	if s.cdb != nil {
		<-s.cpDone
		// A last full checkpoint leaves the database file complete.
		_, _ = s.cdb.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		s.cdb.Close()
	}
	for _, st := range s.stmts {
		st.Close()
	}
	s.reads.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	err1 := s.rdb.Close()
	err2 := s.wdb.Close()
	return errors.Join(err1, err2)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.queryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

type writeReq struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
	done chan error
	// relaxed: the write need not be on disk when it returns, only safe
	// from a process crash (a queue transaction).
	relaxed bool
}

// write runs fn in the writer's current transaction and returns once that
// transaction is committed, on disk (or fn failed and was rolled back
// alone).
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.submit(ctx, &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// writeRelaxed is write for a queue transaction: committed when it returns,
// but on disk only with a later full commit or checkpoint, unless it shares
// its batch with a write that needs the disk.
func (s *Store) writeRelaxed(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.submit(ctx, &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1), relaxed: true})
}

func (s *Store) submit(ctx context.Context, req *writeReq) error {
	select {
	case s.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return ErrClosed
	}
	// Once queued the write may commit, so wait for the outcome even if ctx
	// ends: the caller must not report failure for a stored write.
	return <-req.done
}

func (s *Store) writer() {
	defer close(s.done)
	batch := make([]*writeReq, 0, s.cfg.MaxBatch)
	var pace pace
	for {
		batch = batch[:0]
		select {
		case req := <-s.writes:
			batch = append(batch, req)
		case <-s.stop:
			// Drain what was queued before Close.
			for {
				select {
				case req := <-s.writes:
					s.runBatch([]*writeReq{req})
				default:
					return
				}
			}
		}
		batch = s.fill(batch)
		if relaxedOnly(batch) && pace.frequent(s.cfg.Linger) {
			batch = s.linger(batch)
		}
		if !relaxedOnly(batch) {
			pace.durable(time.Now())
		}
		s.runBatch(batch)
		if s.restart.Swap(false) {
			s.restartWAL()
		}
	}
}

// fill adds the writes waiting now, up to MaxBatch.
func (s *Store) fill(batch []*writeReq) []*writeReq {
	for len(batch) < s.cfg.MaxBatch {
		select {
		case req := <-s.writes:
			batch = append(batch, req)
		default:
			return batch
		}
	}
	return batch
}

// linger waits up to Linger for a write that needs the disk, so that the
// batch of queue transactions shares its commit instead of paying for one
// of its own, and takes what else is waiting then.
func (s *Store) linger(batch []*writeReq) []*writeReq {
	if s.lingering != nil {
		s.lingering()
	}
	t := time.NewTimer(s.cfg.Linger)
	defer t.Stop()
	for len(batch) < s.cfg.MaxBatch {
		select {
		case req := <-s.writes:
			batch = append(batch, req)
			if !req.relaxed {
				return s.fill(batch)
			}
		case <-t.C:
			return batch
		case <-s.stop:
			return batch
		}
	}
	return batch
}

func relaxedOnly(batch []*writeReq) bool {
	for _, req := range batch {
		if !req.relaxed {
			return false
		}
	}
	return true
}

// pace follows how often batches with a write that needs the disk (a
// publish, an edit) run: lingering pays only while one is likely soon.
type pace struct {
	last time.Time
	gap  time.Duration // moving average of the time between them
}

func (p *pace) durable(now time.Time) {
	if !p.last.IsZero() {
		g := now.Sub(p.last)
		if p.gap == 0 {
			p.gap = g
		} else {
			p.gap = (3*p.gap + g) / 4
		}
	}
	p.last = now
}

// frequent reports whether such batches come at least every linger, and
// the last came recently enough for that to still hold.
func (p *pace) frequent(linger time.Duration) bool {
	return linger > 0 && p.gap > 0 && p.gap <= linger && time.Since(p.last) < 4*linger
}

// restartWAL runs on the writer, between batches, when the checkpointer
// found the WAL over WALLimit: a RESTART checkpoint there never competes
// with the writer for its lock (from another connection it lost that race
// under steady load, and the WAL grew past 300 MB). The checkpointer has
// just copied nearly every frame, so what is left to copy is small; readers
// are waited for briefly, and if one stays the checkpointer asks again.
func (s *Store) restartWAL() {
	var busy, frames, copied int64
	_, _ = s.wdb.Exec(`PRAGMA busy_timeout = 100`)
	err := s.wdb.QueryRow(`PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &frames, &copied)
	_, _ = s.wdb.Exec(`PRAGMA busy_timeout = 10000`)
	if err != nil {
		s.log.Warn("wal restart", "err", err)
	}
}

func (s *Store) runBatch(batch []*writeReq) {
	errs := make([]error, len(batch))
	if err := s.setRelaxed(relaxedOnly(batch)); err != nil {
		for _, req := range batch {
			req.done <- err
		}
		return
	}
	// Writes almost never fail, so a batch first runs without savepoints
	// (two statements fewer per write). If any write fails, the whole
	// transaction is rolled back and the batch runs again with a savepoint
	// per write, so that the failure rolls back alone. Write functions
	// start from scratch on each run, so running one twice is safe.
	err := s.runTx(batch, errs, false)
	if errors.Is(err, errRerun) {
		clear(errs)
		err = s.runTx(batch, errs, true)
	}
	for i, req := range batch {
		if err != nil {
			req.done <- err
		} else {
			req.done <- errs[i]
		}
	}
}

var errRerun = errors.New("rerun with savepoints")

// setRelaxed sets the writer's synchronous for the next batch: NORMAL for a
// batch of queue transactions alone, else FULL. Failing to relax is only
// slower; failing to go back to FULL fails the batch, as its commit would
// not be on disk when its writers are told it is.
func (s *Store) setRelaxed(relaxed bool) error {
	if relaxed == s.relaxed {
		return nil
	}
	mode := "FULL"
	if relaxed {
		mode = "NORMAL"
	}
	if _, err := s.wdb.Exec(`PRAGMA synchronous = ` + mode); err != nil {
		if relaxed {
			s.log.Warn("relax synchronous", "err", err)
			return nil
		}
		return fmt.Errorf("synchronous = FULL: %w", err)
	}
	s.relaxed = relaxed
	return nil
}

func (s *Store) runTx(batch []*writeReq, errs []error, savepoints bool) error {
	tx, err := s.wdb.Begin()
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	single := len(batch) == 1
	ran := 0
	for i, req := range batch {
		if req.ctx.Err() != nil {
			errs[i] = req.ctx.Err()
			continue
		}
		if !savepoints {
			if errs[i] = req.fn(tx); errs[i] != nil {
				_ = tx.Rollback()
				if single {
					return errs[i]
				}
				return errRerun
			}
			ran++
			continue
		}
		if _, err := tx.Exec(`SAVEPOINT w`); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("savepoint: %w", err)
		}
		if errs[i] = req.fn(tx); errs[i] != nil {
			if _, err := tx.Exec(`ROLLBACK TO w`); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("rollback to savepoint: %w", err)
			}
		} else {
			ran++
		}
		if _, err := tx.Exec(`RELEASE w`); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("release savepoint: %w", err)
		}
	}
	if ran == 0 {
		return tx.Rollback()
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// exec and query run a statement in the writer's transaction. Hot
// statements (the hot list, all fixed texts) are prepared once, at Open, on
// the writer's one connection: parsing SQL was a third of the writer's time
// before. They cannot be prepared later: the only connection is inside the
// writer's transaction then. Variable-length lists travel as one JSON
// parameter (json_each) so that their text stays fixed.
func (s *Store) exec(tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := s.txStmt(tx, query); st != nil {
		return st.Exec(args...)
	}
	return tx.Exec(query, args...)
}

func (s *Store) query(tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if st := s.txStmt(tx, query); st != nil {
		return st.Query(args...)
	}
	return tx.Query(query, args...)
}

// txStmt is the hot statement query bound to tx, or nil when query is not
// hot. database/sql binds a statement to a transaction with a new *Stmt
// registered with the pool (Tx.Stmt), which an outcome's update paid once
// an outcome; bound once a transaction, a batch of a hundred outcomes pays
// it once. A transaction's bound statements close with it; the writer
// goroutine alone calls this, one transaction at a time.
func (s *Store) txStmt(tx *sql.Tx, query string) *sql.Stmt {
	if tx != s.txOf {
		s.txOf = tx
		clear(s.txStmts)
	}
	if st, ok := s.txStmts[query]; ok {
		return st
	}
	st, ok := s.stmts[query]
	if !ok {
		return nil
	}
	st = tx.Stmt(st)
	s.txStmts[query] = st
	return st
}

// hot lists the statements of the delivery path: publish, claim, record.
var hot = []string{
	insertEvent, insertDeliveries, insertLeased, waitingFor, markPublished,
	dueWebhooks, readBudgets, spendBudget, failDue, dueOf, leaseOne, claimRead, requeueDrop, requeueSet, nextDue,
	insertAttempt, updateDelivery, updateCanceled, releaseLease, releaseCanceled, extendLease, extendCanceledLease, markDue,
	webhookHealth, updateHealth, noteSuccess, disableGone, disableFailing,
}

// queryRow and queryRead run a read through a statement prepared once per
// text (database/sql prepares it once on each pooled connection). The texts
// are a small fixed set, so the cache stays small.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.readStmt(ctx, query)
	if err != nil {
		return s.rdb.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (s *Store) queryRead(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.readStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (s *Store) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.reads.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.rdb.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.reads.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// insertErr names what went wrong with an insert as PostgreSQL's store
// does: a taken key is ErrConflict, a row it refers to that is gone (its
// tenant) ErrNotFound.
func insertErr(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case isUnique(err):
		return fmt.Errorf("%s: %w", what, hookd.ErrConflict)
	case strings.Contains(err.Error(), "FOREIGN KEY constraint failed"):
		return fmt.Errorf("%s: %w", what, hookd.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// changedOrGone explains a conditional write that changed nothing: the row
// is there and did not meet the condition (conflict, an ErrConflict that
// says why), or it is gone (ErrNotFound).
func changedOrGone(tx *sql.Tx, table, tenantID, id, what string, conflict error) error {
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM `+table+` WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&n); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n > 0 {
		return fmt.Errorf("%s %s: %w", what, id, conflict)
	}
	return fmt.Errorf("%s: %w", what, hookd.ErrNotFound)
}

func notFound(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, hookd.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}
