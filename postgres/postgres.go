// Package postgres implements hookd.Store on PostgreSQL (pgx v5, pgxpool),
// for running several hookd processes on one database. It passes the same
// storetest conformance suite as the SQLite store.
//
// Differences from SQLite, by design: there is no single writer: every
// write is its own transaction and PostgreSQL's concurrent commits share
// WAL flushes. Claims use FOR UPDATE SKIP LOCKED, so processes never claim
// the same row.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures Open.
type Config struct {
	// URL is a postgres:// connection URL.
	URL string
	// Schema, when set, is created if missing and used as the search path
	// (tests give each run its own).
	Schema string
	// Box encrypts endpoint secrets at rest; nil stores them as they are.
	Box    *hookd.SecretBox
	Clock  hookd.Clock
	Logger *slog.Logger
	// MaxConns sizes the pool. Default 16.
	MaxConns int32
	// OpTimeout bounds each of the delivery path's transactions (a claim,
	// a batch of outcomes, a batch of publishes). Default 30s.
	OpTimeout time.Duration
	// StatementTimeout is the server's statement_timeout for every
	// connection, unless the URL sets one. Default 60s; it must not be
	// shorter than OpTimeout.
	StatementTimeout time.Duration
	// KeepAlive is the TCP keepalive period of connections, and
	// tcp_user_timeout is twice it: a database that vanishes from the
	// network is noticed within about that, not after the kernel's 15
	// minutes. Default 15s.
	KeepAlive time.Duration
	// IdleInTransactionTimeout is the server's
	// idle_in_transaction_session_timeout for every connection, unless the
	// URL sets one: a process frozen mid-transaction (stopped, swapped out)
	// would otherwise hold its row locks until it wakes, and every other
	// process's records on those webhooks would time out, their
	// deliveries sent again once their leases end. hookd's transactions
	// never wait on anything but the database between statements. Default
	// 5s: well inside the engine's record retries (twice its StoreTimeout).
	IdleInTransactionTimeout time.Duration
}

// Store is the PostgreSQL hookd.Store.
type Store struct {
	pool      *pgxpool.Pool
	box       *hookd.SecretBox
	clock     hookd.Clock // nil: the database's clock
	log       *slog.Logger
	opTimeout time.Duration
	wake      string // the NOTIFY channel (wakeChannel)
	publishes chan *publishReq
	stop      chan struct{}
	pubDone   chan struct{}
	closeOnce sync.Once
}

var _ hookd.Store = (*Store)(nil)

// Open connects, applies migrations and returns the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 16
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 30 * time.Second
	}
	if cfg.StatementTimeout <= 0 {
		cfg.StatementTimeout = 60 * time.Second
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 15 * time.Second
	}
	if cfg.IdleInTransactionTimeout <= 0 {
		cfg.IdleInTransactionTimeout = 5 * time.Second
	}
	if cfg.StatementTimeout < cfg.OpTimeout {
		return nil, fmt.Errorf("postgres: StatementTimeout (%s) is shorter than OpTimeout (%s)", cfg.StatementTimeout, cfg.OpTimeout)
	}
	pc.MaxConns = cfg.MaxConns
	if _, set := pc.ConnConfig.RuntimeParams["statement_timeout"]; !set {
		pc.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10)
	}
	if _, set := pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
		pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(cfg.IdleInTransactionTimeout.Milliseconds(), 10)
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: cfg.KeepAlive, Control: userTimeout(2 * cfg.KeepAlive)}
	pc.ConnConfig.DialFunc = d.DialContext
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Schema != "" {
		if err := CreateSchema(ctx, cfg.URL, cfg.Schema); err != nil {
			return nil, err
		}
		pc.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, box: cfg.Box, clock: cfg.Clock, log: cfg.Logger, opTimeout: cfg.OpTimeout, wake: wakeChannel(cfg.Schema),
		publishes: make(chan *publishReq, 4*maxPublishBatch), stop: make(chan struct{}), pubDone: make(chan struct{})}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	go s.publisher()
	return s, nil
}

// CreateSchema creates a schema if it is missing (for test runs: a hookd
// process is pointed at it with search_path in its URL).
func CreateSchema(ctx context.Context, url, schema string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize())
	return err
}

// DropSchema removes a schema made for a test run.
func DropSchema(ctx context.Context, url, schema string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	return err
}

// Migrate applies pending migrations and returns (for `hookd migrate`).
func Migrate(ctx context.Context, url string, log *slog.Logger) error {
	s, err := Open(ctx, Config{URL: url, Logger: log})
	if err != nil {
		return err
	}
	return s.Close()
}

// migrate applies the embedded migrations under an advisory lock, so that
// replicas starting together apply each one once.
func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7061746368)`); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	// A migration may rebuild an index of a large table: the connections'
	// statement_timeout is not for it.
	if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	known := 0
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migrate: bad file name %s", name)
		}
		known = version
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if n > 0 {
			continue
		}
		body, _ := migrations.ReadFile(name)
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, version, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
	}
	var newest int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sqlrow.WarnSchemaAhead(s.log, newest, known)
	return tx.Commit(ctx)
}

// Close stops the publisher after the publishes already queued and closes
// the pool.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.pubDone
		s.pool.Close()
	})
	return nil
}

func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// wrap maps a driver error to the store contract's sentinels.
func wrap(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s: %w", what, hookd.ErrNotFound)
	case pgCode(err) == "23505": // unique_violation
		return fmt.Errorf("%s: %w", what, hookd.ErrConflict)
	case pgCode(err) == "23503": // foreign_key_violation: what it points to is gone
		return fmt.Errorf("%s: %w", what, hookd.ErrNotFound)
	case unreachable(err):
		return fmt.Errorf("%s: %w: %w", what, hookd.ErrUnavailable, err)
	case refused(err):
		return fmt.Errorf("%s: %w: %w", what, hookd.ErrRefused, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// unreachable tells a database that is away (down, restarting, refusing
// connections) from a failed statement, so that callers answer 503 and
// try again rather than report a fault.
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	}
	code := pgCode(err)
	// Class 08: connection exception; 57P01–57P03: the server is shutting
	// down or not yet accepting connections.
	return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03"
}

// refused tells a value the database will not hold: a data exception
// (class 22: bad encoding, out of range, …) or a check or not-null
// violation.
func refused(err error) bool {
	code := pgCode(err)
	return strings.HasPrefix(code, "22") || code == "23514" || code == "23502"
}

// changedOrGone explains a conditional write that changed nothing: the row
// is there and did not meet the condition (conflict, an ErrConflict that
// says why), or it is gone (ErrNotFound).
func changedOrGone(ctx context.Context, tx pgx.Tx, table, tenantID, id, what string, conflict error) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&n); err != nil {
		return wrap(what, err)
	}
	if n > 0 {
		return fmt.Errorf("%s %s: %w", what, id, conflict)
	}
	return fmt.Errorf("%s: %w", what, hookd.ErrNotFound)
}

// exec runs one statement and wants it to change a row.
func (s *Store) execOne(ctx context.Context, what, query string, args ...any) error {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return wrap(what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, hookd.ErrNotFound)
	}
	return nil
}

// collect reads rows with scan into a slice (never nil).
func collect[T any](rows pgx.Rows, err error, what string, scan func(sqlrow.Scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, wrap(what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, wrap(what, err)
		}
		out = append(out, v)
	}
	return out, wrap(what, rows.Err())
}
