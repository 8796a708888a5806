// Command hookd runs the hookd webhook delivery service.
//
//	hookd serve     API + delivery workers + console (the default role)
//	hookd migrate   apply schema migrations and exit
//	hookd bench     measure throughput and latency end to end
//	hookd verify    check the signature of a saved request
//	hookd listen    a receiver for local development
//	hookd version   print the version
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/console"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/httpapi"
	"github.com/hookd/hookd/internal/procs"
	"github.com/hookd/hookd/metrics"
	"github.com/hookd/hookd/netguard"
	"github.com/hookd/hookd/postgres"
	"github.com/hookd/hookd/retention"
	"github.com/hookd/hookd/service"
	"github.com/hookd/hookd/sqlite"
	"github.com/hookd/hookd/svixapi"
	"github.com/hookd/hookd/tasks"

	// Certificate authorities for https:// webhooks where the system has
	// none, as in hookd's image, which is built on an empty base; where
	// the system has its own, they are used instead.
	_ "golang.org/x/crypto/x509roots/fallback"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	autoProcs = true
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) && !errors.Is(err, errNotVerified) {
		fmt.Fprintln(os.Stderr, "hookd:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is 0 on success and for -h (its flags asked for and printed,
// as Go's own flag handling exits), 1 when hookd verify found a request
// that does not verify (it has said why), and 2 for every other error:
// usage, bad flags, or a server that could not run.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errNotVerified):
		return 1
	}
	return 2
}

// canonicalPaths answers a request to a path not in canonical form (with
// "//", "/./" or "/../") with a 404 in its API's error shape, where
// ServeMux would redirect with an HTML body: every non-2xx answer of the
// APIs is their JSON error. The console keeps the redirect, which a
// browser follows.
func canonicalPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		clean := path.Clean(p)
		if strings.HasSuffix(p, "/") && clean != "/" {
			clean += "/"
		}
		if clean == p || p == "" || strings.HasPrefix(clean, "/console") {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		msg, _ := json.Marshal("no route " + r.Method + " " + p + ": the path is not in canonical form (" + clean + ")")
		if strings.HasPrefix(clean, "/api/") {
			fmt.Fprintf(w, `{"code":"not_found","detail":%s}`+"\n", msg)
			return
		}
		fmt.Fprintf(w, `{"error":{"code":"not_found","message":%s}}`+"\n", msg)
	})
}

// autoProcs lets serve run on one P while it is nearly idle
// (internal/procs). Only the hookd binary sets it: tests that run serve
// inside their own process keep their GOMAXPROCS.
var autoProcs bool

// errUsage makes hookd exit 2 after it has printed its usage.
var errUsage = errors.New("usage")

const usage = `hookd — webhook delivery service

Usage:
  hookd serve [flags]     run the API, the delivery workers and the console
  hookd migrate [flags]   apply schema migrations and exit
  hookd bench [flags]     measure throughput and latency end to end (see docs/PERFORMANCE.md)
  hookd verify [flags]    check the signature of a saved webhook request (see docs/SIGNATURES.md)
  hookd listen [flags]    receive webhooks on 127.0.0.1:9000 for local development, checking signatures
  hookd rekey [flags]     move the stored endpoint secrets to a new --encryption-key
  hookd svix-import [flags]  copy event types, applications and endpoints from a Svix server (see docs/SVIX.md)
  hookd version           print the version

Run "hookd serve -h" (or any command with -h) for its flags. Every flag has an environment variable;
the flag wins.
`

// run is main without the process: ready, when not nil, receives the
// listening address once the server accepts connections (for tests).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "version", "--version", "-version":
		if len(args) > 1 {
			return fmt.Errorf("hookd version takes no arguments, not %q", args[1])
		}
		fmt.Fprintln(stdout, "hookd", hookd.Version)
		return nil
	case "serve", "migrate":
	case "bench":
		cfg, err := parseBenchConfig(args[1:], stderr)
		if err != nil {
			return err
		}
		_, err = runBench(ctx, cfg, stdout)
		return err
	case "verify":
		return runVerify(args[1:], os.Stdin, stdout, stderr)
	case "listen":
		return runListen(ctx, args[1:], stdout, stderr, ready)
	case "rekey":
		return runRekey(ctx, args[1:], stdout, stderr)
	case "svix-import":
		return runSvixImport(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
	cfg, err := parseConfig(args[0], args[1:], stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.LogFormat, stderr)
	if err != nil {
		return err
	}
	if args[0] == "migrate" {
		if err := migrateDB(ctx, cfg.DB, log); err != nil {
			return err
		}
		log.Info("schema up to date: pending migrations applied, if any", "db", redactDB(cfg.DB))
		return nil
	}
	return serve(ctx, cfg, log, stderr, ready)
}

// Config is hookd serve's configuration; each field is a flag and an
// environment variable (see parseConfig for names and defaults).
type Config struct {
	Addr          string          // --addr, HOOKD_ADDR; default ":8080"
	DB            string          // --db, HOOKD_DB; default "hookd.db"
	AdminKey      string          // --admin-key, HOOKD_ADMIN_KEY; default: generated once
	EncryptionKey []byte          // --encryption-key, HOOKD_ENCRYPTION_KEY: 32 bytes, base64
	AllowNetworks string          // --allow-networks, HOOKD_ALLOW_NETWORKS
	HTTPSOnly     bool            // --https-only, HOOKD_HTTPS_ONLY; default false
	RetrySchedule []time.Duration // --retry-schedule, HOOKD_RETRY_SCHEDULE; default hookd.DefaultRetrySchedule
	LogFormat     string          // --log-format, HOOKD_LOG_FORMAT; "text" or "json"
	Role          string          // --role, HOOKD_ROLE; "all", "api" or "worker"
	Lease         time.Duration   // --lease, HOOKD_LEASE; default 2m
	PublicURL     string          // --public-url, HOOKD_PUBLIC_URL; default: each request's own scheme and host
	// FrameAncestors are the origins allowed to frame the console
	// (--console-frame-ancestors, HOOKD_CONSOLE_FRAME_ANCESTORS); none: no one.
	FrameAncestors []string
	// Brand is the console's name, logo and accent (--console-name,
	// --console-logo-url, --console-accent).
	Brand        console.Brand
	DisableAfter time.Duration // --disable-after, HOOKD_DISABLE_AFTER; default 120h; 0 never
	Retention    time.Duration // --retention, HOOKD_RETENTION; default 720h; 0 keeps everything
	// FailLogEvery limits failed-attempt log lines to one per webhook in
	// this time, and 20 a second in all (--failed-attempt-log-every,
	// HOOKD_FAILED_ATTEMPT_LOG_EVERY); default 0: every one is logged.
	FailLogEvery time.Duration
	MetricsAddr  string // --metrics-addr, HOOKD_METRICS_ADDR; default: /metrics on --addr
	// OperatorWebhook receives every tenant's operational events
	// (--operator-webhook, HOOKD_OPERATOR_WEBHOOK); OperatorSecret signs
	// them (--operator-webhook-secret; default: generated and printed once).
	OperatorWebhook string
	OperatorSecret  string
}

// failLogBurst is the cap across webhooks that comes with a limit per
// webhook: a thousand dead endpoints are a thousand lines a minute
// otherwise.
func failLogBurst(every time.Duration) int {
	if every > 0 {
		return 20
	}
	return 0
}

// env is the variable's value, or def when it is unset or empty: an empty
// value is none, as parseFlags and HOOKD_HTTPS_ONLY take it (an outside
// audit: HOOKD_ADDR="" from a template listened on a random port).
func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parseFlags parses args, then sets each flag they did not give from its
// environment variable, prefix and the flag's name in capitals with _ for
// - (HOOKD_LISTEN_SECRET for hookd listen's --secret): every flag has one,
// and the flag wins (the contract). A bad value names its variable.
func parseFlags(fs *flag.FlagSet, prefix string, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := prefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok && v != "" && !given[f.Name] && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, e)
			}
		}
	})
	return err
}

// blameVariable says which environment variable gave the bad value that
// err, naming its flag (--retention must be …), is about, when no flag on
// the command line did: the operator looks where it came from.
func blameVariable(fs *flag.FlagSet, err error) error {
	if err == nil {
		return nil
	}
	m := flagName.FindStringSubmatch(err.Error())
	if m == nil || fs.Lookup(m[1]) == nil {
		return err
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == m[1] })
	name := "HOOKD_" + strings.ToUpper(strings.ReplaceAll(m[1], "-", "_"))
	if given || os.Getenv(name) == "" {
		return err
	}
	return fmt.Errorf("%w (the value comes from %s)", err, name)
}

var flagName = regexp.MustCompile(`^--([a-z][a-z-]*)`)

func parseConfig(cmd string, args []string, stderr io.Writer) (cfg *Config, err error) {
	fs := flag.NewFlagSet("hookd "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr     = fs.String("addr", env("HOOKD_ADDR", ":8080"), "listen address (HOOKD_ADDR)")
		db       = fs.String("db", env("HOOKD_DB", "hookd.db"), "SQLite path or sqlite://PATH, or a postgres:// URL (HOOKD_DB)")
		adminKey = fs.String("admin-key", env("HOOKD_ADMIN_KEY", ""), "the operator's key; generated and printed once when unset and none is stored (HOOKD_ADMIN_KEY)")
		encKey   = fs.String("encryption-key", env("HOOKD_ENCRYPTION_KEY", ""), "32 bytes, base64: encrypts endpoint secrets at rest with AES-256-GCM (HOOKD_ENCRYPTION_KEY)")
		allow    = fs.String("allow-networks", env("HOOKD_ALLOW_NETWORKS", ""), "comma-separated CIDRs the SSRF guard lets through, e.g. 127.0.0.0/8 (HOOKD_ALLOW_NETWORKS)")
		https    = fs.Bool("https-only", false, "refuse http:// webhook URLs, for production; --https-only alone turns it on (HOOKD_HTTPS_ONLY=true)")
		retry    = fs.String("retry-schedule", env("HOOKD_RETRY_SCHEDULE", ""), "comma-separated Go durations: the wait before attempt 2, 3, … (HOOKD_RETRY_SCHEDULE; default "+scheduleString(hookd.DefaultRetrySchedule)+")")
		logFmt   = fs.String("log-format", env("HOOKD_LOG_FORMAT", "text"), "text or json (HOOKD_LOG_FORMAT)")
		role     = fs.String("role", env("HOOKD_ROLE", "all"), "all, api or worker (HOOKD_ROLE)")
		public   = fs.String("public-url", env("HOOKD_PUBLIC_URL", ""), "the scheme and host visitors reach hookd at, e.g. https://hooks.example.com: portal links use it, and an https one marks console cookies Secure behind a TLS proxy (HOOKD_PUBLIC_URL; default: each request's own)")
		opHook   = fs.String("operator-webhook", env("HOOKD_OPERATOR_WEBHOOK", ""), "a URL that receives every tenant's operational events (hookd.*), signed per Standard Webhooks; the SSRF guard does not apply to it (HOOKD_OPERATOR_WEBHOOK)")
		opSecret = fs.String("operator-webhook-secret", env("HOOKD_OPERATOR_WEBHOOK_SECRET", ""), "the operator webhook's whsec_ secret (HOOKD_OPERATOR_WEBHOOK_SECRET; default: generated once and printed)")
		metrics  = fs.String("metrics-addr", env("HOOKD_METRICS_ADDR", ""), "a separate listen address for /metrics, e.g. :9090 (HOOKD_METRICS_ADDR; default: /metrics on --addr)")
		disable  = fs.String("disable-after", env("HOOKD_DISABLE_AFTER", "120h"), "disable a webhook whose every attempt has failed for this long, with a delivery out of attempts; 0 never (HOOKD_DISABLE_AFTER)")
		failLog  = fs.String("failed-attempt-log-every", env("HOOKD_FAILED_ATTEMPT_LOG_EVERY", "0"), "log at most one failed attempt per webhook in this time, e.g. 1m, and 20 a second in all, counting the rest in the next line; 0 logs every failed attempt (HOOKD_FAILED_ATTEMPT_LOG_EVERY)")
		keep     = fs.String("retention", env("HOOKD_RETENTION", "720h"), "how long a finished event (every delivery of it SUCCESS, FAILED or CANCELED) is kept with its deliveries and attempts; statistics keep hourly totals of what goes; 0 keeps everything (HOOKD_RETENTION)")
		frames   = fs.String("console-frame-ancestors", env("HOOKD_CONSOLE_FRAME_ANCESTORS", ""), "origins allowed to frame the console, space- or comma-separated, e.g. https://app.example.com (CSP frame-ancestors; its cookies become SameSite=None, Secure and Partitioned so a framed console keeps its session) (HOOKD_CONSOLE_FRAME_ANCESTORS; default: none may)")
		cName    = fs.String("console-name", env("HOOKD_CONSOLE_NAME", "hookd"), "the product name the console shows in its top bar and titles, for a platform that presents it as its own (HOOKD_CONSOLE_NAME)")
		cLogo    = fs.String("console-logo-url", env("HOOKD_CONSOLE_LOGO_URL", ""), "an https image the console shows in its top bar instead of its name (HOOKD_CONSOLE_LOGO_URL)")
		cAccent  = fs.String("console-accent", env("HOOKD_CONSOLE_ACCENT", "#3b4cca"), "the console's accent colour, #rrggbb, at least 4.5:1 against white (HOOKD_CONSOLE_ACCENT)")
		lease    = fs.String("lease", env("HOOKD_LEASE", "2m"), "how long a claimed delivery is this process's: a process that dies has its deliveries sent again after this (an attempt that could outlast it is given a longer lease before it starts, so none is ever sent twice while its process lives) (HOOKD_LEASE)")
	)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	// A boolean flag's variable is read only when the flag is not given,
	// so that the flag wins, a bad variable included (the contract).
	httpsGiven := false
	fs.Visit(func(f *flag.Flag) { httpsGiven = httpsGiven || f.Name == "https-only" })
	if v := os.Getenv("HOOKD_HTTPS_ONLY"); v != "" && !httpsGiven {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("HOOKD_HTTPS_ONLY: %q is not true or false", v)
		}
		*https = on
	}
	defer func() { err = blameVariable(fs, err) }()
	if fs.NArg() > 0 {
		if _, err := strconv.ParseBool(fs.Arg(0)); err == nil {
			return nil, fmt.Errorf("unexpected argument %q: a boolean flag takes its value after =, as in --https-only=%s", fs.Arg(0), fs.Arg(0))
		}
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg = &Config{Addr: *addr, DB: *db, AdminKey: *adminKey, AllowNetworks: *allow, HTTPSOnly: *https, LogFormat: *logFmt, Role: *role, MetricsAddr: *metrics,
		OperatorWebhook: *opHook, OperatorSecret: *opSecret,
		PublicURL: strings.TrimRight(*public, "/")}
	if cfg.PublicURL != "" {
		if u, perr := url.Parse(cfg.PublicURL); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			return nil, fmt.Errorf("--public-url must be a scheme and host such as https://hooks.example.com, not %q", cfg.PublicURL)
		}
	}
	for _, o := range strings.FieldsFunc(*frames, func(r rune) bool { return r == ',' || r == ' ' }) {
		u, perr := url.Parse(o)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("--console-frame-ancestors takes origins such as https://app.example.com, not %q", o)
		}
		cfg.FrameAncestors = append(cfg.FrameAncestors, u.Scheme+"://"+u.Host)
	}
	cfg.Brand = console.Brand{Name: *cName, LogoURL: *cLogo, Accent: *cAccent}
	if err := cfg.Brand.Validate(); err != nil {
		return nil, fmt.Errorf("--console-name, --console-logo-url, --console-accent: %w", err)
	}
	if *encKey != "" {
		cfg.EncryptionKey, err = base64.StdEncoding.DecodeString(*encKey)
		if err != nil || len(cfg.EncryptionKey) != 32 {
			return nil, errors.New("--encryption-key must be 32 bytes in base64 (e.g. from: openssl rand -base64 32)")
		}
	}
	cfg.RetrySchedule = hookd.DefaultRetrySchedule
	if *retry != "" {
		if cfg.RetrySchedule, err = hookd.ParseRetrySchedule(*retry); err != nil {
			return nil, fmt.Errorf("--retry-schedule: %w", err)
		}
	}
	if _, err := netguard.ParseAllowList(cfg.AllowNetworks); err != nil {
		return nil, fmt.Errorf("--allow-networks: %w", err)
	}
	if cfg.OperatorWebhook != "" {
		if u, perr := url.Parse(cfg.OperatorWebhook); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--operator-webhook must be an absolute http:// or https:// URL, not %q", cfg.OperatorWebhook)
		}
	}
	if cfg.OperatorSecret != "" {
		if err := hookd.ValidateSecret(hookd.SchemeStandard, cfg.OperatorSecret); err != nil {
			return nil, fmt.Errorf("--operator-webhook-secret: %w", err)
		}
	}
	if cfg.DisableAfter, err = time.ParseDuration(*disable); err != nil || cfg.DisableAfter < 0 {
		return nil, fmt.Errorf("--disable-after must be a duration such as 120h, or 0 for never, not %q", *disable)
	}
	if cfg.Retention, err = time.ParseDuration(*keep); err != nil || cfg.Retention < 0 || (cfg.Retention > 0 && cfg.Retention < time.Second) {
		return nil, fmt.Errorf("--retention must be a duration of a second or more such as 720h, or 0 to keep everything, not %q", *keep)
	}
	if cfg.FailLogEvery, err = time.ParseDuration(*failLog); err != nil || cfg.FailLogEvery < 0 {
		return nil, fmt.Errorf("--failed-attempt-log-every must be a duration such as 1m, or 0 to log every failed attempt, not %q", *failLog)
	}
	if cfg.Lease, err = time.ParseDuration(*lease); err != nil || cfg.Lease <= 0 {
		return nil, fmt.Errorf("--lease must be a positive duration such as 2m, not %q", *lease)
	}
	if i := strings.Index(cfg.DB, "://"); i > 0 && !isPostgres(cfg.DB) && cfg.DB[:i] != "sqlite" {
		// Else it would be taken for a SQLite file's path, and fail as
		// "unable to open database file".
		return nil, fmt.Errorf("--db must be a SQLite file's path (or sqlite://path) or a postgres:// URL; hookd does not speak %s://", cfg.DB[:i])
	}
	switch cfg.Role {
	case "all", "api", "worker":
	default:
		return nil, fmt.Errorf("--role must be all, api or worker, not %q", cfg.Role)
	}
	switch cfg.LogFormat {
	case "text", "json":
	default:
		return nil, fmt.Errorf("--log-format must be text or json, not %q", cfg.LogFormat)
	}
	return cfg, nil
}

func scheduleString(s []time.Duration) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return slog.New(slog.NewTextHandler(w, nil)), nil
}

func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

func redactDB(db string) string {
	if isPostgres(db) {
		if i := strings.Index(db, "@"); i > 0 {
			return db[:strings.Index(db, "://")+3] + "…" + db[i:]
		}
	}
	return db
}

func migrateDB(ctx context.Context, db string, log *slog.Logger) error {
	if isPostgres(db) {
		return postgres.Migrate(ctx, db, log)
	}
	return sqlite.Migrate(ctx, db, log)
}

// processClock is the process's clock: the wall clock, shifted by
// HOOKD_TEST_CLOCK_SKEW (a Go duration) for the tests that show replicas
// whose clocks disagree still never send a delivery twice. On PostgreSQL
// the store keeps the database's clock whatever this one says.
func processClock() (hookd.Clock, error) {
	v := os.Getenv("HOOKD_TEST_CLOCK_SKEW")
	if v == "" {
		return nil, nil
	}
	skew, err := time.ParseDuration(v)
	if err != nil {
		return nil, fmt.Errorf("HOOKD_TEST_CLOCK_SKEW: %w", err)
	}
	return func() time.Time { return time.Now().Add(skew) }, nil
}

// taskConfig is the task runner's defaults, with HOOKD_TEST_TASK_PAUSE
// and HOOKD_TEST_TASK_LEASE (Go durations) for the tests that kill a
// process mid-replay: a pause between chunks to stop it in, and a lease
// short enough that the next process takes the task over soon.
func taskConfig() (tasks.Config, error) {
	var c tasks.Config
	for name, d := range map[string]*time.Duration{"HOOKD_TEST_TASK_PAUSE": &c.Pause, "HOOKD_TEST_TASK_LEASE": &c.Lease} {
		if v := os.Getenv(name); v != "" {
			var err error
			if *d, err = time.ParseDuration(v); err != nil {
				return c, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return c, nil
}

// openStore opens the database. A SQLite store keeps the process's clock;
// a PostgreSQL store, shared by processes whose clocks may disagree, the
// database's.
func openStore(ctx context.Context, cfg *Config, log *slog.Logger, clock hookd.Clock) (hookd.Store, error) {
	var box *hookd.SecretBox
	if cfg.EncryptionKey != nil {
		var err error
		if box, err = hookd.NewSecretBox(cfg.EncryptionKey); err != nil {
			return nil, err
		}
	}
	if isPostgres(cfg.DB) {
		return postgres.Open(ctx, postgres.Config{URL: cfg.DB, Box: box, Logger: log})
	}
	return sqlite.Open(ctx, sqlite.Config{Path: cfg.DB, Box: box, Logger: log, Clock: clock})
}

// showOnce shows a key or secret hookd generated, the only time it can: as
// a block of text for a person at a terminal or, with --log-format json,
// as one JSON object, so that a log pipeline reading stderr line by line
// keeps it whole.
func showOnce(stderr io.Writer, cfg *Config, msg, name, value, hint string) {
	if cfg.LogFormat == "json" {
		b, _ := json.Marshal(map[string]string{"time": time.Now().UTC().Format(time.RFC3339Nano), "level": "WARN", "msg": msg, name: value, "hint": hint})
		fmt.Fprintf(stderr, "%s\n", b)
		return
	}
	fmt.Fprintf(stderr, "\n%s:\n\n    %s\n\n%s\n\n", msg, value, hint)
}

// adminKeyHash returns the hash the API checks the admin key against: the
// configured key's, else the stored one's, else a new key's, printed once.
func adminKeyHash(ctx context.Context, cfg *Config, store hookd.Store, stderr io.Writer) ([]byte, error) {
	if cfg.AdminKey != "" {
		return hookd.HashKey(cfg.AdminKey), nil
	}
	h, err := store.AdminKeyHash(ctx)
	if err == nil {
		return h, nil
	}
	if !errors.Is(err, hookd.ErrNotFound) {
		return nil, err
	}
	key := hookd.GenerateAPIKey("hk_admin_")
	h = hookd.HashKey(key)
	if err := store.SetAdminKeyHash(ctx, h); err != nil {
		return nil, err
	}
	showOnce(stderr, cfg, "hookd generated an admin key. It is shown only this once; only its hash is stored", "adminKey", key,
		"Use it as: Authorization: Bearer "+key)
	return h, nil
}

// operatorWebhook makes the stored operator webhook what the flags say:
// its URL, its secret (the flag's; else the stored one; else a new one,
// printed once), enabled while --operator-webhook is set and disabled
// when it is not. It subscribes to every hookd.* event.
func operatorWebhook(ctx context.Context, cfg *Config, store hookd.Store, clock hookd.Clock, stderr io.Writer) error {
	wh, err := store.GetWebhook(ctx, hookd.OperatorTenant, hookd.OperatorWebhook)
	switch {
	case errors.Is(err, hookd.ErrNotFound) && cfg.OperatorWebhook == "":
		return nil
	case errors.Is(err, hookd.ErrNotFound):
		now := clock.Now()
		if err := store.CreateTenant(ctx, &hookd.Tenant{ID: hookd.OperatorTenant, Name: "hookd operator", CreatedAt: now}); err != nil && !errors.Is(err, hookd.ErrConflict) {
			return fmt.Errorf("operator webhook: %w", err)
		}
		secret := cfg.OperatorSecret
		if secret == "" {
			secret = hookd.GenerateSecret(hookd.SchemeStandard)
			showOnce(stderr, cfg, "hookd generated the operator webhook's secret. It is shown only this once", "operatorWebhookSecret", secret,
				"Verify the operator webhook's requests with it, or set --operator-webhook-secret.")
		}
		wh = &hookd.Webhook{ID: hookd.OperatorWebhook, TenantID: hookd.OperatorTenant, Name: "operator", URL: cfg.OperatorWebhook,
			Events: []string{"hookd.*"}, Timeout: hookd.DefaultTimeout, Enabled: true, SSLVerification: true,
			MaxAttempts: len(cfg.RetrySchedule) + 1, Secret: secret, CreatedAt: now, UpdatedAt: now}
		if err := store.CreateWebhook(ctx, wh); err != nil && !errors.Is(err, hookd.ErrConflict) {
			return fmt.Errorf("operator webhook: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("operator webhook: %w", err)
	}
	_, _, err = hookd.EditWebhook(ctx, store, clock, hookd.OperatorTenant, hookd.OperatorWebhook, func(w *hookd.Webhook) error {
		if cfg.OperatorWebhook == "" {
			w.Enabled, w.DisabledReason = false, hookd.DisabledManual
			return nil
		}
		w.URL, w.Enabled, w.DisabledReason, w.DisabledAt = cfg.OperatorWebhook, true, "", time.Time{}
		if cfg.OperatorSecret != "" && cfg.OperatorSecret != w.Secret {
			w.Rotate(cfg.OperatorSecret, 0, clock.Now())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("operator webhook: %w", err)
	}
	return nil
}

func writeAllocProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func serve(ctx context.Context, cfg *Config, log *slog.Logger, stderr io.Writer, ready chan<- string) error {
	// HOOKD_CPUPROFILE=FILE writes a CPU profile of the whole run (see
	// docs/PERFORMANCE.md): how the figures there were worked on.
	if path := os.Getenv("HOOKD_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	// HOOKD_MEMPROFILE=FILE writes what the run allocated, where, when it
	// ends (go tool pprof -sample_index=alloc_space).
	if path := os.Getenv("HOOKD_MEMPROFILE"); path != "" {
		defer func() {
			if err := writeAllocProfile(path); err != nil {
				log.Warn("write the allocation profile", "err", err)
			}
		}()
	}
	if autoProcs && procs.Enabled() {
		pc, err := procs.New(procs.Config{}, log)
		if err != nil {
			return err
		}
		pc.Start(ctx)
		defer pc.Stop()
	}
	clock, err := processClock()
	if err != nil {
		return err
	}
	tracer, stopTracing, err := startTracing(ctx, log)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(sctx); err != nil {
			log.Warn("flush traces", "err", err)
		}
	}()
	store, err := openStore(ctx, cfg, log, clock)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := hookd.CheckEncryptionKey(ctx, store, cfg.EncryptionKey); err != nil {
		return err
	}
	hash, err := adminKeyHash(ctx, cfg, store, stderr)
	if err != nil {
		return err
	}
	if err := operatorWebhook(ctx, cfg, store, clock, stderr); err != nil {
		return err
	}
	if cfg.OperatorSecret != "" && cfg.OperatorWebhook == "" {
		// Not an error: leaving the URL out is how the operator webhook is
		// turned off. Said, as a misspelled URL variable looks the same.
		log.Warn("--operator-webhook-secret is set without --operator-webhook: no operational events are sent to the operator")
	}
	allow, _ := netguard.ParseAllowList(cfg.AllowNetworks)
	guard := netguard.New(allow)
	m := metrics.New()
	svcCfg := service.Config{
		Store: store, Logger: log, Clock: clock, Guard: guard,
		HTTPSOnly: cfg.HTTPSOnly, DefaultMaxAttempts: len(cfg.RetrySchedule) + 1, Observer: m, Tracer: tracer,
	}
	var engine *delivery.Engine // running: this process delivers
	engCfg := delivery.Config{Store: store, Logger: log, Clock: clock, Guard: guard, RetrySchedule: cfg.RetrySchedule,
		Lease: cfg.Lease, DisableAfter: cfg.DisableAfter, Observer: m, Tracer: tracer, FailureLogEvery: cfg.FailLogEvery, FailureLogBurst: failLogBurst(cfg.FailLogEvery)}
	if cfg.Role == "api" {
		// An api process claims nothing, but makes test sends itself (the
		// contract's "sends one signed request now, waits for it"), with an
		// engine it never starts.
		tester, err := delivery.New(engCfg)
		if err != nil {
			return err
		}
		svcCfg.Tester = tester
	} else {
		engine, err = delivery.New(engCfg)
		if err != nil {
			return err
		}
		if err := engine.Start(ctx); err != nil {
			return err
		}
		svcCfg.Notify, svcCfg.Changed, svcCfg.Tester, svcCfg.Taker = engine.Notify, engine.Changed, engine, engine
	}
	if w, ok := store.(hookd.Waker); ok {
		// Every process, an API-only one too, waits for the others to learn
		// of a change before answering it.
		svcCfg.Settle = w.Settle
	}
	// Tasks (replays) run on the processes that deliver.
	var runner *tasks.Runner
	if engine != nil {
		tcfg, err := taskConfig()
		if err != nil {
			engine.Stop()
			return err
		}
		tcfg.Wake, tcfg.Clock, tcfg.Logger, tcfg.Observer = engine.Notify, clock, log, m
		if runner, err = tasks.New(store, tcfg); err != nil {
			engine.Stop()
			return err
		}
		svcCfg.NotifyTasks = runner.Notify
	}
	svc := service.New(svcCfg)
	api := httpapi.New(httpapi.Config{Service: svc, Logger: log, Clock: clock, AdminKeyHash: hash, PublicURL: cfg.PublicURL})
	var handler http.Handler
	if cfg.Role == "worker" {
		// A worker answers health checks only.
		mux := http.NewServeMux()
		mux.Handle("GET /healthz", api)
		mux.Handle("GET /readyz", api)
		if cfg.MetricsAddr == "" {
			mux.Handle("GET /metrics", m.Handler())
		}
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"code":"not_found","message":"this process runs --role worker: it serves no API"}}`+"\n")
		})
		handler = mux
	} else {
		con, err := console.New(console.Config{
			Service: svc, Logger: log, Clock: clock, AdminKeyHash: hash,
			SecureCookies: strings.HasPrefix(cfg.PublicURL, "https://"), FrameAncestors: cfg.FrameAncestors, Brand: cfg.Brand,
		})
		if err != nil {
			if engine != nil {
				engine.Stop()
			}
			return err
		}
		mux := http.NewServeMux()
		if cfg.MetricsAddr == "" {
			mux.Handle("GET /metrics", m.Handler())
		}
		mux.Handle("/console/", con)
		svix := svixapi.New(svixapi.Config{Service: svc, AdminKeyHash: hash, Logger: log, Clock: clock, PublicURL: cfg.PublicURL})
		mux.Handle("/api/v1/", svix)
		mux.Handle("/api/v1", svix) // its 404, where ServeMux would redirect with an HTML body
		mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
		mux.Handle("/", api)
		handler = canonicalPaths(mux)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		if engine != nil {
			engine.Stop()
		}
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// A test send waits for its attempt (up to the longest webhook
		// timeout) before it answers.
		WriteTimeout: hookd.MaxTimeout + 30*time.Second,
		IdleTimeout:  120 * time.Second,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// The queue's gauges are sampled by every process (an --role api one
	// showed 0 beside a backlog); old events are pruned, and tasks run, by
	// the processes that deliver.
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go m.Sample(sampleCtx, store, 2*time.Second, clock, log)
	if engine != nil {
		pruner, err := retention.New(store, retention.Config{Retention: cfg.Retention, Clock: clock, Logger: log})
		if err != nil {
			ln.Close()
			engine.Stop()
			return err
		}
		pruner.Start(sampleCtx)
		defer pruner.Stop()
		runner.Start(sampleCtx)
		defer runner.Stop()
	}
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			if engine != nil {
				engine.Stop()
			}
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		mmux := http.NewServeMux()
		mmux.Handle("GET /metrics", m.Handler())
		msrv := &http.Server{Handler: mmux, ReadHeaderTimeout: 10 * time.Second}
		go msrv.Serve(mln)
		defer msrv.Close()
		log.Info("metrics listening", "addr", mln.Addr().String())
	}
	log.Info("hookd listening", "addr", ln.Addr().String(), "db", redactDB(cfg.DB), "role", cfg.Role, "version", hookd.Version)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if engine != nil {
			engine.Stop()
		}
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// First no new requests, then let the engine finish what it sends.
	err = srv.Shutdown(shutCtx)
	if engine != nil {
		engine.Stop()
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
