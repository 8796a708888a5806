package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/hookd/hookd/internal/loadgen"

	"github.com/hookd/hookd/postgres"
)

// benchConfig is `hookd bench`'s configuration.
type benchConfig struct {
	Hookd      string        // the hookd binary to run; default this executable
	Scenarios  []string      // which rows to run
	Duration   time.Duration // publishing time per scenario
	Rate       float64       // offered events/s; 0: as fast as accepted
	Publishers int           // concurrent publishing connections
	Backlog    int           // deliveries created before workers start (backlog row)
	DrainWait  time.Duration // how long to wait for deliveries after publishing stops
	JSON       bool
	DB         string // passed to hookd as --db; default a fresh SQLite file per scenario
	// The fairness row: a backlog of FairBacklog deliveries to one fast
	// webhook while another tenant publishes FairRate events/s.
	FairBacklog int
	FairRate    float64
	// The replay row: a replay of ReplayHistory delivered events while
	// another tenant publishes ReplayLiveRate events/s.
	ReplayHistory  int
	ReplayLiveRate float64
	// The soak row: SoakRate events/s for SoakDuration.
	SoakDuration time.Duration
	SoakRate     float64
	// The prune row's history of delivered events.
	PruneHistory int
	// The replica rows' backlog of deliveries.
	ReplicaBacklog int
	Progress       io.Writer
	// Env is added to hookd's environment (the traced rows).
	Env []string
}

var allScenarios = []string{"baseline", "relay", "fanout1", "traced", "traced10", "half", "traced-half", "fanout10", "fanout100", "payload64k", "isolation-control", "isolation", "backlog", "fairness", "prune", "replay", "soak", "rate100", "rate500"}

// extraScenarios run only when named: replicas needs PostgreSQL (several
// processes on one database).
var extraScenarios = []string{"replicas"}

// isolationRate is the offered rate of the two isolation rows unless --rate
// is given: below saturation, so that the rows compare latency, not queues.
const isolationRate = 150

func parseBenchConfig(args []string, stderr io.Writer) (*benchConfig, error) {
	fs := flag.NewFlagSet("hookd bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	self, _ := os.Executable()
	cfg := &benchConfig{Progress: stderr}
	fs.StringVar(&cfg.Hookd, "hookd", self, "the hookd binary to measure")
	scen := fs.String("scenarios", strings.Join(allScenarios, ","), "comma-separated: "+strings.Join(allScenarios, ", ")+" (half: fanout1 offered half the rate fanout1 reached; the isolation rows: 20 endpoints at 150 events/s, 2 of them hanging in the second; fairness: one tenant's backlog drains while another publishes; prune: fanout1 while the pruner deletes a --prune-history of delivered events; replay: a replay of --replay-history delivered events while another tenant publishes --replay-live-rate events/s; rate100, rate500: fanout1 offered 100 or 500 events/s, for the CPU an event costs at a platform's usual rates; traced, traced10: fanout1 with every event (or 10 % of events) traced, exported over OTLP/HTTP to a sink in the bench; traced-half: the half row's load with every event traced, for what tracing costs an event at equal work; soak: a steady rate for --soak-duration, with the WAL, database and RSS watched; and, only when named, replicas: a --replica-backlog drained by 1, 2 and 3 --role worker processes on one PostgreSQL --db)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "publishing time per scenario")
	fs.Float64Var(&cfg.Rate, "rate", 0, "offered events/s; 0 publishes as fast as hookd accepts")
	fs.IntVar(&cfg.Publishers, "publishers", 64, "concurrent publishers")
	fs.IntVar(&cfg.Backlog, "backlog", 1_000_000, "pending deliveries created before workers start, for the backlog row")
	fs.DurationVar(&cfg.DrainWait, "drain-wait", 5*time.Minute, "how long to wait for deliveries after publishing stops")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&cfg.DB, "db", "", "hookd's --db (default: a fresh SQLite file per scenario)")
	fs.IntVar(&cfg.FairBacklog, "fair-backlog", 100_000, "the fairness row's backlog of deliveries to one tenant's fast webhook")
	fs.Float64Var(&cfg.FairRate, "fair-rate", 50, "the fairness row's other tenant's events/s, published while the backlog drains")
	fs.IntVar(&cfg.ReplayHistory, "replay-history", 100_000, "the replay row's history: delivered events, fan-out 1, replayed by one task")
	fs.Float64Var(&cfg.ReplayLiveRate, "replay-live-rate", 200, "the replay row's other tenant's events/s, published before and during the replay")
	fs.IntVar(&cfg.PruneHistory, "prune-history", 1_000_000, "the prune row's history: delivered events, fan-out 1, older than --retention when the row starts")
	fs.IntVar(&cfg.ReplicaBacklog, "replica-backlog", 200_000, "the replicas rows' backlog: deliveries, fan-out 10, drained by 1, 2 and 3 workers")
	fs.DurationVar(&cfg.SoakDuration, "soak-duration", 10*time.Minute, "the soak row's publishing time")
	fs.Float64Var(&cfg.SoakRate, "soak-rate", 1000, "the soak row's events/s")
	if err := parseFlags(fs, "HOOKD_BENCH_", args); err != nil {
		return nil, err
	}
	for _, s := range strings.Split(*scen, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(allScenarios, s) && !slices.Contains(extraScenarios, s) {
			return nil, fmt.Errorf("unknown scenario %q", s)
		}
		if s == "replicas" && !isPostgres(cfg.DB) {
			return nil, errors.New("the replicas rows need --db postgres://… (several processes on one database)")
		}
		cfg.Scenarios = append(cfg.Scenarios, s)
	}
	return cfg, nil
}

// BenchRow is one line of the report.
type BenchRow struct {
	Scenario        string  `json:"scenario"`
	Fanout          int     `json:"fanout"`
	PayloadBytes    int     `json:"payloadBytes"`
	OfferedRate     float64 `json:"offeredEventsPerSec,omitempty"`
	AcceptedPerSec  float64 `json:"acceptedEventsPerSec"`
	DeliveredPerSec float64 `json:"deliveredPerSec"`
	Delivered       int64   `json:"delivered"`
	Expected        int64   `json:"expected"`
	P50Ms           float64 `json:"p50Ms"`
	P90Ms           float64 `json:"p90Ms"`
	P99Ms           float64 `json:"p99Ms"`
	MaxMs           float64 `json:"maxMs"`
	CPUCores        float64 `json:"hookdCpuCores"`
	// CPUPerEventUs is hookd's CPU time per accepted event, from the
	// first publish to the last delivery (load rows).
	CPUPerEventUs float64 `json:"cpuPerEventUs,omitempty"`
	// What hookd wrote per accepted event (from /proc/PID/io): calls of
	// the write family, files and sockets, and bytes to the disk (on
	// SQLite: WAL frames, a page each, and checkpoints).
	// DBCPUPerEventUs is the CPU an accepted event cost PostgreSQL's
	// processes on this machine (--db postgres://… on localhost), over the
	// same span as CPUPerEventUs.
	DBCPUPerEventUs    float64 `json:"dbCpuPerEventUs,omitempty"`
	WriteCallsPerEvent float64 `json:"hookdWriteCallsPerEvent,omitempty"`
	DiskKBPerEvent     float64 `json:"hookdDiskKBPerEvent,omitempty"`
	PeakRSSMB          float64 `json:"hookdPeakRssMB"`
	OfBaseline         float64 `json:"ofBaseline,omitempty"`
	// The soak row's watch of the process and its files.
	WALPeakMB       float64 `json:"walPeakMB,omitempty"`
	DBBytesPerEvent float64 `json:"dbBytesPerEvent,omitempty"`
	RSSStartMB      float64 `json:"rssStartMB,omitempty"`
	RSSEndMB        float64 `json:"rssEndMB,omitempty"`
	// Duplicates counts deliveries received more than once (rows that
	// track it).
	Duplicates int64 `json:"duplicates"`
	// FailedAttempts counts the attempts of the row's hookd that failed,
	// by OpenTelemetry error.type (from its /metrics): a delivery whose
	// first attempt failed waits for the retry schedule (5 s first), which
	// is what a row's max latency of seconds is.
	FailedAttempts map[string]int `json:"failedAttempts,omitempty"`
	// PublishMaxMs is the slowest accepted publish call (load rows): the
	// publish side's share of a max latency.
	PublishMaxMs float64 `json:"publishMaxMs,omitempty"`
	// PublishMaxConnMs and PublishMaxServerMs are where that call's time
	// went: waiting for a connection (a dial unless PublishMaxReused), and
	// from its request written to hookd's status line.
	PublishMaxConnMs   float64 `json:"publishMaxConnMs,omitempty"`
	PublishMaxServerMs float64 `json:"publishMaxServerMs,omitempty"`
	PublishMaxReused   bool    `json:"publishMaxReused,omitempty"`
	// SpansExported counts the spans the traced rows' hookd exported.
	SpansExported int64  `json:"spansExported,omitempty"`
	Note          string `json:"note,omitempty"`
}

// BenchReport is the whole run.
type BenchReport struct {
	Machine string     `json:"machine"`
	Rows    []BenchRow `json:"rows"`
}

func runBench(ctx context.Context, cfg *benchConfig, stdout io.Writer) (*BenchReport, error) {
	rcv, err := loadgen.StartReceiver()
	if err != nil {
		return nil, err
	}
	defer rcv.Close()
	rep := &BenchReport{Machine: fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())}
	var baseline float64
	var fanout1, half float64 // the fanout1 row's deliveries/s, the half row's CPU µs an event
	for _, sc := range cfg.Scenarios {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		var row *BenchRow
		switch sc {
		case "baseline":
			row, err = runBaseline(ctx, cfg, rcv)
			if row != nil {
				baseline = row.DeliveredPerSec
			}
		case "relay":
			row, err = runRelay(ctx, cfg, rcv)
		case "fanout1":
			row, err = runLoad(ctx, cfg, rcv, loadSpec{name: sc, fanout: 1, payload: 1024, rate: cfg.Rate})
			if row != nil {
				fanout1 = row.DeliveredPerSec
			}
		case "traced", "traced10":
			row, err = runTraced(ctx, cfg, rcv, loadSpec{name: sc, fanout: 1, payload: 1024, rate: cfg.Rate}, sc == "traced10")
			if row != nil && fanout1 > 0 {
				row.Note += fmt.Sprintf("; %.1f %% of the fanout1 row's deliveries/s", 100*row.DeliveredPerSec/fanout1)
			}
		case "half", "traced-half":
			if fanout1 == 0 {
				return rep, fmt.Errorf("the %s row needs the fanout1 row first", sc)
			}
			spec := loadSpec{name: sc, fanout: 1, payload: 1024, rate: fanout1 / 2}
			if sc == "half" {
				row, err = runLoad(ctx, cfg, rcv, spec)
				if row != nil {
					half = row.CPUPerEventUs
				}
				break
			}
			if half == 0 {
				return rep, errors.New("the traced-half row needs the half row first")
			}
			// At saturation a traced row delivers less with the same
			// cores, in smaller group commits, so its throughput says more
			// than what tracing costs; at the half row's rate both do the
			// same work, and the CPU an event compares.
			row, err = runTraced(ctx, cfg, rcv, spec, false)
			if row != nil && row.CPUPerEventUs > 0 {
				row.Note += fmt.Sprintf("; hookd's CPU an event %+.1f %% against the half row's", 100*(row.CPUPerEventUs/half-1))
			}
		case "rate100", "rate500":
			r := 100.0
			if sc == "rate500" {
				r = 500
			}
			row, err = runLoad(ctx, cfg, rcv, loadSpec{name: sc, fanout: 1, payload: 1024, rate: r})
		case "fanout10":
			row, err = runLoad(ctx, cfg, rcv, loadSpec{name: sc, fanout: 10, payload: 1024, rate: cfg.Rate})
		case "fanout100":
			row, err = runLoad(ctx, cfg, rcv, loadSpec{name: sc, fanout: 100, payload: 1024, rate: cfg.Rate})
		case "payload64k":
			row, err = runLoad(ctx, cfg, rcv, loadSpec{name: sc, fanout: 1, payload: 64 << 10, rate: cfg.Rate})
		case "isolation-control", "isolation":
			r := cfg.Rate
			if r == 0 {
				r = isolationRate
			}
			hanging := 0
			if sc == "isolation" {
				hanging = 2
			}
			row, err = runLoad(ctx, cfg, rcv, loadSpec{name: sc, fanout: 20, hanging: hanging, payload: 1024, rate: r})
		case "backlog":
			row, err = runBacklog(ctx, cfg, rcv)
		case "replicas":
			var rows []*BenchRow
			rows, err = runReplicas(ctx, cfg, rcv)
			if err == nil {
				for _, r := range rows[:len(rows)-1] {
					rep.Rows = append(rep.Rows, *r)
				}
				row = rows[len(rows)-1]
			}
		case "fairness":
			row, err = runFairness(ctx, cfg, rcv)
		case "prune":
			row, err = runPrune(ctx, cfg, rcv)
		case "replay":
			row, err = runReplay(ctx, cfg, rcv)
		case "soak":
			row, err = runSoak(ctx, cfg, rcv)
		}
		if err != nil {
			return rep, fmt.Errorf("%s: %w", sc, err)
		}
		if baseline > 0 && sc != "baseline" {
			row.OfBaseline = row.DeliveredPerSec / baseline
		}
		rep.Rows = append(rep.Rows, *row)
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return rep, enc.Encode(rep)
	}
	printReport(stdout, rep)
	return rep, nil
}

func printReport(w io.Writer, rep *BenchReport) {
	fmt.Fprintf(w, "machine: %s\n\n", rep.Machine)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tfanout\tpayload\taccepted ev/s\tdelivered/s\tof baseline\tp50 ms\tp90 ms\tp99 ms\tmax ms\tcpu cores\tcpu µs/event\tpeak RSS MB\tdelivered\t")
	for _, r := range rep.Rows {
		of := ""
		if r.OfBaseline > 0 {
			of = fmt.Sprintf("%.0f%%", 100*r.OfBaseline)
		}
		perEvent := ""
		if r.CPUPerEventUs > 0 {
			perEvent = fmt.Sprintf("%.0f", r.CPUPerEventUs)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.0f\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f\t%s\t%.0f\t%d/%d\t\n",
			r.Scenario, r.Fanout, r.PayloadBytes, r.AcceptedPerSec, r.DeliveredPerSec, of,
			r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs, r.CPUCores, perEvent, r.PeakRSSMB, r.Delivered, r.Expected)
	}
	tw.Flush()
	for _, r := range rep.Rows {
		if r.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Scenario, r.Note)
		}
		if r.DBCPUPerEventUs > 0 {
			fmt.Fprintf(w, "%s: PostgreSQL's processes used %.0f µs of CPU an event (hookd %.0f: %.0f together)\n", r.Scenario, r.DBCPUPerEventUs, r.CPUPerEventUs, r.DBCPUPerEventUs+r.CPUPerEventUs)
		}
		if r.WriteCallsPerEvent > 0 {
			fmt.Fprintf(w, "%s: hookd wrote %.1f KB to the disk an event, in %.1f write calls (files and sockets)\n", r.Scenario, r.DiskKBPerEvent, r.WriteCallsPerEvent)
		}
		if r.PublishMaxMs > 0 && r.MaxMs > 1000 {
			conn := "a new connection"
			if r.PublishMaxReused {
				conn = "a kept-alive connection"
			}
			fmt.Fprintf(w, "%s: the slowest accepted publish call took %.0f ms: %.0f ms to get %s, %.0f ms from its request written to hookd's answer\n",
				r.Scenario, r.PublishMaxMs, r.PublishMaxConnMs, conn, r.PublishMaxServerMs)
		}
		if len(r.FailedAttempts) > 0 {
			fmt.Fprintf(w, "%s: failed attempts (retried on the schedule, 5 s first): %v\n", r.Scenario, r.FailedAttempts)
		}
		if r.Scenario == "soak" || r.Scenario == "fairness" {
			fmt.Fprintf(w, "%s: %d deliveries received more than once\n", r.Scenario, r.Duplicates)
		}
		if r.RSSEndMB > 0 {
			fmt.Fprintf(w, "%s: WAL peak %.1f MB, %.0f database bytes per event, RSS %.0f MB at 10 s and %.0f MB at the end\n",
				r.Scenario, r.WALPeakMB, r.DBBytesPerEvent, r.RSSStartMB, r.RSSEndMB)
		}
	}
}

// percentiles fills row's latency columns from lat.
func percentiles(lat []time.Duration, row *BenchRow) {
	l := loadgen.Summarize(lat)
	row.P50Ms, row.P90Ms, row.P99Ms, row.MaxMs = l.P50, l.P90, l.P99, l.Max
}

// runBaseline is the machine's loopback ceiling: a plain Go client posting
// the same bodies to the same receiver, as fast as it answers.
func runBaseline(ctx context.Context, cfg *benchConfig, rcv *loadgen.Receiver) (*BenchRow, error) {
	rcv.Reset()
	client := loadgen.NewClient(cfg.Publishers)
	body := loadgen.EventBody(1024)
	var n atomic.Int64
	deadline := time.Now().Add(cfg.Duration)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < cfg.Publishers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				res, err := client.Post(rcv.URL+"/ok/"+strconv.Itoa(i), "application/json", bytes.NewReader(body()))
				if err != nil {
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				n.Add(1)
			}
		}(i)
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	row := &BenchRow{Scenario: "baseline", Fanout: 1, PayloadBytes: 1024, DeliveredPerSec: float64(n.Load()) / el, Delivered: n.Load(), Expected: n.Load(),
		Note: "a plain Go HTTP client posting the same bodies to the same receiver: the loopback ceiling"}
	percentiles(rcv.Reset(), row)
	return row, nil
}

// runRelay measures what two HTTP exchanges per event cost on this machine
// with nothing stored: a relay in the bench process takes the same publish
// requests and forwards each one to the receiver before answering 202. No
// webhook service, however it stores events, can beat this row here.
func runRelay(ctx context.Context, cfg *benchConfig, rcv *loadgen.Receiver) (*BenchRow, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	out := loadgen.NewClient(cfg.Publishers)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		res, err := out.Post(rcv.URL+"/ok/0", "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		w.WriteHeader(http.StatusAccepted)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	rcv.Reset()
	start := time.Now()
	accepted, pubDur := publish(ctx, cfg, &hookdProc{url: "http://" + ln.Addr().String()}, 1024, cfg.Rate, cfg.Duration, 0, nil)
	delivered, last := rcv.Count(), rcv.Last()
	row := &BenchRow{Scenario: "relay", Fanout: 1, PayloadBytes: 1024, OfferedRate: cfg.Rate,
		AcceptedPerSec: float64(accepted) / pubDur.Seconds(), Delivered: delivered, Expected: accepted,
		Note: "a relay with no storage, in the bench process: each publish forwarded to the receiver before its 202; the ceiling of two HTTP exchanges per event"}
	if !last.IsZero() {
		row.DeliveredPerSec = float64(delivered) / last.Sub(start).Seconds()
	}
	percentiles(rcv.Reset(), row)
	return row, nil
}

// benchDB is the --db of one row's hookd: a fresh SQLite file, or for
// PostgreSQL a fresh schema (named after the row's directory) of cfg.DB.
func benchDB(ctx context.Context, cfg *benchConfig, dir string) (string, error) {
	if cfg.DB == "" {
		return filepath.Join(dir, "bench.db"), nil
	}
	if !isPostgres(cfg.DB) {
		return cfg.DB, nil
	}
	schema := benchSchema(dir)
	if err := postgres.CreateSchema(ctx, cfg.DB, schema); err != nil {
		return "", err
	}
	return withSearchPath(cfg.DB, schema), nil
}

// benchSchema names a row's PostgreSQL schema after its directory.
func benchSchema(dir string) string {
	return "hookd_bench_" + strings.NewReplacer("-", "_", ".", "_").Replace(filepath.Base(dir))
}

// withSearchPath points a postgres:// URL at schema.
func withSearchPath(url, schema string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

// rowSetup makes a row's directory and, when the row's processes share one
// database (shared), points a copy of cfg at it. cleanup removes both.
func rowSetup(ctx context.Context, cfg *benchConfig, shared bool) (string, *benchConfig, func(), error) {
	dir, err := os.MkdirTemp("", "hookd-bench-*")
	if err != nil {
		return "", nil, nil, err
	}
	cleanup := func() {
		dropBenchDB(cfg, dir)
		os.RemoveAll(dir)
	}
	if !shared {
		return dir, cfg, cleanup, nil
	}
	db, err := benchDB(ctx, cfg, dir)
	if err != nil {
		cleanup()
		return "", nil, nil, err
	}
	own := *cfg
	own.DB = db
	return dir, &own, cleanup, nil
}

// dropBenchDB removes a row's PostgreSQL schema.
func dropBenchDB(cfg *benchConfig, dir string) {
	if isPostgres(cfg.DB) {
		_ = postgres.DropSchema(context.Background(), cfg.DB, benchSchema(dir))
	}
}

// hookdProc is a hookd child process under measurement.
type hookdProc struct {
	cmd  *exec.Cmd
	url  string
	key  string
	dir  string
	out  *syncBuffer
	cpu0 time.Duration
	t0   time.Time
}

func startHookd(ctx context.Context, cfg *benchConfig, dir string, extra ...string) (*hookdProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	db, err := benchDB(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	p := &hookdProc{url: "http://" + addr, key: "bench-admin-key", dir: dir, out: &syncBuffer{}}
	args := append([]string{"serve", "--addr", addr, "--db", db, "--admin-key", p.key, "--allow-networks", "127.0.0.0/8", "--log-format", "json"}, extra...)
	p.cmd = exec.CommandContext(ctx, cfg.Hookd, args...)
	if len(cfg.Env) > 0 {
		p.cmd.Env = append(os.Environ(), cfg.Env...)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.Hookd, err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, err := http.Get(p.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("hookd did not become ready: %s", p.out)
		}
	}
	p.cpu0, p.t0 = loadgen.ProcCPU(p.cmd.Process.Pid), time.Now()
	return p, nil
}

// syncBuffer is hookd's output, read while the process writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (p *hookdProc) usage() (cores, rssMB float64) {
	pid := p.cmd.Process.Pid
	cores = (loadgen.ProcCPU(pid) - p.cpu0).Seconds() / time.Since(p.t0).Seconds()
	return cores, float64(loadgen.ProcPeakRSS(pid)) / (1 << 20)
}

// stop ends hookd gracefully and waits for it.
func (p *hookdProc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.kill()
	}
}

func (p *hookdProc) kill() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() }

func (p *hookdProc) call(method, path string, body any) error {
	_, err := p.callJSON(method, path, body)
	return err
}

// callJSON is call, with the answer's JSON object.
func (p *hookdProc) callJSON(method, path string, body any) (map[string]any, error) {
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, p.url+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+p.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, msg)
	}
	var out map[string]any
	_ = json.Unmarshal(msg, &out)
	return out, nil
}

// setup creates the bench tenant, its event type and webhooks: fanout
// healthy ones and hanging ones (10 s timeout).
func (p *hookdProc) setup(rcv *loadgen.Receiver, fanout, hanging int) error {
	if err := p.call("POST", "/v1/tenants", map[string]any{"id": "bench", "name": "bench"}); err != nil {
		return err
	}
	if err := p.call("POST", "/v1/event-types", map[string]any{"name": "bench.event", "description": "hookd bench"}); err != nil {
		return err
	}
	for i := 0; i < fanout; i++ {
		url, timeout := fmt.Sprintf("%s/ok/%d", rcv.URL, i), 30000
		if i < hanging {
			url, timeout = fmt.Sprintf("%s/hang/%d", rcv.URL, i), 10000
		}
		if err := p.call("POST", "/v1/tenants/bench/webhooks", map[string]any{
			"name": fmt.Sprintf("bench %d", i), "url": url, "events": []string{"*"}, "timeoutMs": timeout,
		}); err != nil {
			return err
		}
	}
	return nil
}

type loadSpec struct {
	name    string
	fanout  int
	hanging int
	payload int
	rate    float64
}

// publish sends events to p for d (or until n are accepted, when n > 0)
// and returns how many were accepted and for how long publishing ran.
func publish(ctx context.Context, cfg *benchConfig, p *hookdProc, payload int, offered float64, d time.Duration, n int64, progress func(accepted int64)) (int64, time.Duration) {
	return publishTo(ctx, cfg, p, "bench", payload, offered, d, n, progress)
}

// publishTo is publish for a tenant of the caller's.
func publishTo(ctx context.Context, cfg *benchConfig, p *hookdProc, tenant string, payload int, offered float64, d time.Duration, n int64, progress func(accepted int64)) (int64, time.Duration) {
	return loadgen.Publish(ctx, loadgen.Load{URL: p.url + "/v1/tenants/" + tenant + "/events", Key: p.key, Publishers: cfg.Publishers,
		Body: loadgen.EventBody(payload), Rate: offered, Duration: d, Limit: n, Progress: progress})
}

// drain waits until want healthy deliveries arrived or DrainWait passes.
func drain(cfg *benchConfig, rcv *loadgen.Receiver, want int64, progress func()) {
	deadline := time.Now().Add(cfg.DrainWait)
	last := time.Now()
	for rcv.Count() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if time.Since(last) > time.Second {
			progress()
			last = time.Now()
		}
	}
}

func runLoad(ctx context.Context, cfg *benchConfig, rcv *loadgen.Receiver, spec loadSpec) (*BenchRow, error) {
	dir, cfg, cleanup, err := rowSetup(ctx, cfg, false)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	p, err := startHookd(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	if err := p.setup(rcv, spec.fanout, spec.hanging); err != nil {
		return nil, err
	}
	return loadRow(ctx, cfg, rcv, p, spec)
}

// runTraced is fanout1 with tracing on: every event traced, or a 10 %
// sample, exported to an OTLP/HTTP sink that keeps the exports and counts
// their spans once hookd has stopped (and flushed).
func runTraced(ctx context.Context, cfg *benchConfig, rcv *loadgen.Receiver, spec loadSpec, sampled bool) (*BenchRow, error) {
	sink, err := loadgen.StartOTLPSink()
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	what, sampler := "every event traced", []string{"OTEL_TRACES_SAMPLER=parentbased_always_on"}
	if sampled {
		what, sampler = "10 % of events traced", []string{"OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=0.1"}
	}
	own := *cfg
	// The traces endpoint too: set in the bench's own environment, it
	// would win over the generic one.
	own.Env = append(append(slices.Clip(cfg.Env), "OTEL_EXPORTER_OTLP_ENDPOINT="+sink.URL,
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="+sink.URL+"/v1/traces", "OTEL_SDK_DISABLED=false"), sampler...)
	row, err := runLoad(ctx, &own, rcv, spec)
	if err != nil {
		return nil, err
	}
	spans, exports, err := sink.Take()
	if err != nil {
		return nil, fmt.Errorf("the OTLP sink: %w", err)
	}
	row.SpansExported = int64(spans)
	row.Note = fmt.Sprintf("%s: %d spans in %d OTLP exports (a publish span and an attempt span an event)", what, spans, exports)
	return row, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loadRow publishes spec's load to p, set up already, for cfg.Duration and
// measures it.
func loadRow(ctx context.Context, cfg *benchConfig, rcv *loadgen.Receiver, p *hookdProc, spec loadSpec) (*BenchRow, error) {
	rcv.Reset()
	healthy := int64(spec.fanout - spec.hanging)
	start, cpuStart, ioStart := time.Now(), loadgen.ProcCPU(p.cmd.Process.Pid), loadgen.ReadProcIO(p.cmd.Process.Pid)
	var dbStart time.Duration
	if localPostgres(cfg.DB) {
		dbStart = loadgen.CommandCPU("postgres")
	}
	var slowest loadgen.Call
	accepted, pubDur := loadgen.Publish(ctx, loadgen.Load{URL: p.url + "/v1/tenants/bench/events", Key: p.key, Publishers: cfg.Publishers,
		Body: loadgen.EventBody(spec.payload), Rate: spec.rate, Duration: cfg.Duration, Slowest: &slowest, Progress: func(a int64) {
			el := time.Since(start).Seconds()
			fmt.Fprintf(cfg.Progress, "\r%-10s %4.0fs  accepted %8.0f ev/s  delivered %8.0f/s   ", spec.name, el, float64(a)/el, float64(rcv.Count())/el)
		}})
	want := accepted * healthy
	drain(cfg, rcv, want, func() {
		fmt.Fprintf(cfg.Progress, "\r%-10s draining: %d/%d delivered            ", spec.name, rcv.Count(), want)
	})
	fmt.Fprintf(cfg.Progress, "\r%-70s\r", "")
	delivered, last := rcv.Count(), rcv.Last()
	cpu := loadgen.ProcCPU(p.cmd.Process.Pid) - cpuStart
	io := loadgen.ReadProcIO(p.cmd.Process.Pid)
	cores, rss := p.usage()
	row := &BenchRow{Scenario: spec.name, Fanout: spec.fanout, PayloadBytes: spec.payload, OfferedRate: spec.rate,
		AcceptedPerSec: float64(accepted) / pubDur.Seconds(), Delivered: delivered, Expected: want, CPUCores: cores, PeakRSSMB: rss}
	if accepted > 0 {
		row.CPUPerEventUs = float64(cpu.Microseconds()) / float64(accepted)
		if localPostgres(cfg.DB) {
			row.DBCPUPerEventUs = float64((loadgen.CommandCPU("postgres") - dbStart).Microseconds()) / float64(accepted)
		}
		row.WriteCallsPerEvent = float64(io.WriteCalls-ioStart.WriteCalls) / float64(accepted)
		row.DiskKBPerEvent = float64(io.DiskBytes-ioStart.DiskBytes) / 1024 / float64(accepted)
	}
	if !last.IsZero() {
		row.DeliveredPerSec = float64(delivered) / last.Sub(start).Seconds()
	}
	switch {
	case spec.hanging > 0:
		row.Note = fmt.Sprintf("%d of %d endpoints hang until their 10 s timeout; latency and rates are the healthy endpoints'", spec.hanging, spec.fanout)
	case spec.name == "isolation-control":
		row.Note = "the isolation row's load with every endpoint healthy"
	case spec.name == "half":
		row.Note = "fanout1 offered half the rate the fanout1 row reached"
	}
	percentiles(rcv.Reset(), row)
	row.FailedAttempts = failedAttempts(p.url)
	sc := slowest.Load()
	row.PublishMaxMs, row.PublishMaxConnMs, row.PublishMaxServerMs = ms(sc.Total), ms(sc.Conn), ms(sc.Server)
	row.PublishMaxReused = sc.Reused
	return row, nil
}

// failedAttempts reads hookd's failed attempts by error type from its
// /metrics (nil when it has none, or no /metrics to read).
func failedAttempts(base string) map[string]int {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	var out map[string]int
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "http_client_request_duration_seconds_count{") {
			continue
		}
		_, rest, ok := strings.Cut(line, `error_type="`)
		typ, _, _ := strings.Cut(rest, `"`)
		if !ok || typ == "" {
			continue
		}
		fields := strings.Fields(line)
		n, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil || n == 0 {
			continue
		}
		if out == nil {
			out = map[string]int{}
		}
		out[typ] += int(n)
	}
	return out
}

// runBacklog creates Backlog pending deliveries with workers off (--role
// api), then starts a worker and measures the drain.
func runBacklog(ctx context.Context, cfg *benchConfig, rcv *loadgen.Receiver) (*BenchRow, error) {
	dir, cfg, cleanup, err := rowSetup(ctx, cfg, true)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	const fanout = 100
	accepted, err := makeBacklog(ctx, cfg, rcv, dir, "backlog", fanout, cfg.Backlog, nil)
	if err != nil {
		return nil, err
	}
	worker, err := startHookd(ctx, cfg, dir, "--role", "worker")
	if err != nil {
		return nil, err
	}
	defer worker.stop()
	start := time.Now()
	want := accepted * fanout
	drain(cfg, rcv, want, func() {
		n := rcv.Count()
		fmt.Fprintf(cfg.Progress, "\rbacklog    draining: %d/%d (%.0f/s)            ", n, want, float64(n)/time.Since(start).Seconds())
	})
	fmt.Fprintf(cfg.Progress, "\r%-70s\r", "")
	delivered, last := rcv.Count(), rcv.Last()
	cores, rss := worker.usage()
	row := &BenchRow{Scenario: "backlog", Fanout: fanout, PayloadBytes: 1024, Delivered: delivered, Expected: want, CPUCores: cores, PeakRSSMB: rss,
		Note: fmt.Sprintf("%d deliveries created with workers off, then drained by one worker; latency counts from publish, so it includes the wait", want)}
	if !last.IsZero() {
		row.DeliveredPerSec = float64(delivered) / last.Sub(start).Seconds()
	}
	percentiles(rcv.Reset(), row)
	return row, nil
}

// runReplicas drains the same backlog (--replica-backlog deliveries,
// fan-out 10, made with workers off) with 1, 2 and 3 --role worker
// processes on one database, one row each: the replica curve. Rates count
// from the workers' start to the last delivery; cores are the workers'
// together. Every delivery must arrive once.
func runReplicas(ctx context.Context, cfg *benchConfig, rcv *loadgen.Receiver) ([]*BenchRow, error) {
	var rows []*BenchRow
	for n := 1; n <= 3; n++ {
		row, err := runReplicaRow(ctx, cfg, rcv, n)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func runReplicaRow(ctx context.Context, cfg *benchConfig, rcv *loadgen.Receiver, workers int) (*BenchRow, error) {
	dir, cfg, cleanup, err := rowSetup(ctx, cfg, true)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	const fanout = 10
	name := fmt.Sprintf("replicas%d", workers)
	accepted, err := makeBacklog(ctx, cfg, rcv, dir, name, fanout, cfg.ReplicaBacklog, nil)
	if err != nil {
		return nil, err
	}
	rcv.CountDuplicates()
	start := time.Now()
	procs := make([]*hookdProc, 0, workers)
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	for range workers {
		p, err := startHookd(ctx, cfg, dir, "--role", "worker")
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
	}
	want := accepted * fanout
	drain(cfg, rcv, want, func() {
		n := rcv.Count()
		fmt.Fprintf(cfg.Progress, "\r%-10s draining: %d/%d (%.0f/s)            ", name, n, want, float64(n)/time.Since(start).Seconds())
	})
	fmt.Fprintf(cfg.Progress, "\r%-70s\r", "")
	delivered, last := rcv.Count(), rcv.Last()
	row := &BenchRow{Scenario: name, Fanout: fanout, PayloadBytes: 1024, Delivered: delivered, Expected: want, Duplicates: rcv.Duplicates(),
		Note: fmt.Sprintf("%d deliveries made with workers off, drained by %d --role worker processes on one database; cores and RSS are the workers' together", want, workers)}
	for _, p := range procs {
		c, rss := p.usage()
		row.CPUCores += c
		row.PeakRSSMB += rss
	}
	if !last.IsZero() {
		row.DeliveredPerSec = float64(delivered) / last.Sub(start).Seconds()
	}
	percentiles(rcv.Reset(), row)
	return row, nil
}

// makeBacklog creates about deliveries pending deliveries of the bench
// tenant, fanout webhooks, with workers off (--role api, then stopped), in
// cfg.DB (shared by the row's processes), and returns how many events were
// accepted. more, when set, sets up more before the workers start.
func makeBacklog(ctx context.Context, cfg *benchConfig, rcv *loadgen.Receiver, dir, name string, fanout, deliveries int, more func(*hookdProc) error) (int64, error) {
	events := int64((deliveries + fanout - 1) / fanout)
	api, err := startHookd(ctx, cfg, dir, "--role", "api")
	if err != nil {
		return 0, err
	}
	defer api.stop()
	if err := api.setup(rcv, fanout, 0); err != nil {
		return 0, err
	}
	if more != nil {
		if err := more(api); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	accepted, _ := publish(ctx, cfg, api, 1024, 0, time.Hour, events, func(a int64) {
		fmt.Fprintf(cfg.Progress, "\r%-10s creating: %d/%d deliveries (%.0f/s)   ", name, a*int64(fanout), events*int64(fanout), float64(a)*float64(fanout)/time.Since(start).Seconds())
	})
	rcv.Reset()
	return accepted, nil
}

// runPrune measures fanout1 at full rate while the pruner deletes a history
// of PruneHistory delivered events (fan-out 1: an event, a delivery and an
// attempt each), all of them older than --retention when the row starts.
func runPrune(ctx context.Context, cfg *benchConfig, rcv *loadgen.Receiver) (*BenchRow, error) {
	dir, cfg, cleanup, err := rowSetup(ctx, cfg, true)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	hist, err := startHookd(ctx, cfg, dir, "--retention", "0")
	if err != nil {
		return nil, err
	}
	if err := hist.setup(rcv, 1, 0); err != nil {
		hist.stop()
		return nil, err
	}
	start := time.Now()
	accepted, _ := publish(ctx, cfg, hist, 1024, 0, time.Hour, int64(cfg.PruneHistory), func(a int64) {
		fmt.Fprintf(cfg.Progress, "\rprune      history: %d/%d events (%.0f/s)   ", a, cfg.PruneHistory, float64(a)/time.Since(start).Seconds())
	})
	published := time.Now()
	drain(cfg, rcv, accepted, func() {
		fmt.Fprintf(cfg.Progress, "\rprune      history draining: %d/%d            ", rcv.Count(), accepted)
	})
	hist.stop()
	// The whole history is older than --retention when the row starts.
	const keep = 2 * time.Second
	if wait := keep + time.Second - time.Since(published); wait > 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
	p, err := startHookd(ctx, cfg, dir, "--retention", keep.String())
	if err != nil {
		return nil, err
	}
	defer p.stop()
	// The pass that starts with the process logs its totals when it ends.
	rowStart := time.Now()
	type pass struct {
		took   time.Duration
		events string
	}
	passed := make(chan pass, 1)
	logged := regexp.MustCompile(`"msg":"retention pass","events":(\d+)`)
	go func() {
		for deadline := rowStart.Add(cfg.Duration + cfg.DrainWait); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if m := logged.FindStringSubmatch(p.out.String()); m != nil {
				passed <- pass{time.Since(rowStart), m[1]}
				return
			}
		}
		close(passed)
	}()
	row, err := loadRow(ctx, cfg, rcv, p, loadSpec{name: "prune", fanout: 1, payload: 1024, rate: cfg.Rate})
	if err != nil {
		return nil, err
	}
	if ps, ok := <-passed; ok {
		row.Note = fmt.Sprintf("fanout1 for %s while the pruner deletes a %d-event history (fan-out 1, delivered): its first pass pruned %s events in %s",
			cfg.Duration, accepted, ps.events, ps.took.Round(100*time.Millisecond))
	} else {
		row.Note = fmt.Sprintf("fanout1 for %s while the pruner deletes a %d-event history; the pass had not ended after %s",
			cfg.Duration, accepted, (cfg.Duration + cfg.DrainWait).Round(time.Second))
	}
	return row, nil
}

// runReplay measures a replay: tenant bench has ReplayHistory delivered
// events (fan-out 1) when tenant other starts publishing ReplayLiveRate
// events/s to a webhook of its own, for Duration without a replay (the
// control), then for Duration again while bench's whole history is
// replayed to its webhook. The row's latency is other's during the
// replay; delivered/s is the replay's, from its request to the last
// replayed delivery received.
func runReplay(ctx context.Context, cfg *benchConfig, rcv *loadgen.Receiver) (*BenchRow, error) {
	dir, cfg, cleanup, err := rowSetup(ctx, cfg, true)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	p, err := startHookd(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	if err := p.setup(rcv, 1, 0); err != nil {
		return nil, err
	}
	if err := p.call("POST", "/v1/tenants", map[string]any{"id": "other", "name": "other"}); err != nil {
		return nil, err
	}
	if err := p.call("POST", "/v1/tenants/other/webhooks", map[string]any{"name": "other", "url": rcv.URL + "/other/0", "events": []string{"*"}}); err != nil {
		return nil, err
	}
	hooks, err := p.callJSON("GET", "/v1/tenants/bench/webhooks", nil)
	if err != nil {
		return nil, err
	}
	data, _ := hooks["data"].([]any)
	if len(data) != 1 {
		return nil, fmt.Errorf("bench has %d webhooks, want 1", len(data))
	}
	webhook := data[0].(map[string]any)["id"].(string)
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	start := time.Now()
	history, _ := publish(ctx, cfg, p, 1024, 0, time.Hour, int64(cfg.ReplayHistory), func(a int64) {
		fmt.Fprintf(cfg.Progress, "\rreplay     history: %d/%d events (%.0f/s)   ", a, cfg.ReplayHistory, float64(a)/time.Since(start).Seconds())
	})
	drain(cfg, rcv, history, func() {
		fmt.Fprintf(cfg.Progress, "\rreplay     history draining: %d/%d            ", rcv.Count(), history)
	})
	rcv.Reset()
	live := func(what string) (int64, time.Duration) {
		return publishTo(ctx, cfg, p, "other", 1024, cfg.ReplayLiveRate, cfg.Duration, 0, func(int64) {
			fmt.Fprintf(cfg.Progress, "\rreplay     %s: replayed %d/%d   ", what, rcv.Count(), history)
		})
	}
	waitOther := func(n int64) {
		for deadline := time.Now().Add(cfg.DrainWait); int64(len(rcv.Other())) < n && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		}
	}
	n, _ := live("control, no replay")
	waitOther(n)
	control := &BenchRow{}
	percentiles(rcv.Other(), control)
	rcv.Reset() // also forgets other's latencies
	rcv.CountDuplicates()

	replayStart := time.Now()
	task, err := p.callJSON("POST", "/v1/tenants/bench/webhooks/"+webhook+"/replay", map[string]any{"since": since})
	if err != nil {
		return nil, err
	}
	taskID, _ := task["id"].(string)
	var taskTook time.Duration
	taskDone := make(chan struct{})
	go func() {
		defer close(taskDone)
		for deadline := time.Now().Add(cfg.Duration + cfg.DrainWait); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if t, err := p.callJSON("GET", "/v1/tenants/bench/tasks/"+taskID, nil); err == nil && t["status"] != "running" {
				taskTook = time.Since(replayStart)
				return
			}
		}
	}()
	other, pubDur := live("during the replay")
	waitOther(other)
	drain(cfg, rcv, history, func() {
		fmt.Fprintf(cfg.Progress, "\rreplay     replay draining: %d/%d            ", rcv.Count(), history)
	})
	<-taskDone
	fmt.Fprintf(cfg.Progress, "\r%-70s\r", "")
	replayed, last := rcv.Count(), rcv.Last()
	cores, rss := p.usage()
	row := &BenchRow{Scenario: "replay", Fanout: 1, PayloadBytes: 1024, OfferedRate: cfg.ReplayLiveRate,
		AcceptedPerSec: float64(other) / pubDur.Seconds(), Delivered: replayed, Expected: history,
		CPUCores: cores, PeakRSSMB: rss, Duplicates: rcv.Duplicates()}
	if !last.IsZero() {
		row.DeliveredPerSec = float64(replayed) / last.Sub(replayStart).Seconds()
	}
	percentiles(rcv.Other(), row)
	took := "did not finish"
	if taskTook > 0 {
		took = fmt.Sprintf("made its %d deliveries in %s (%.0f events/s)", history, taskTook.Round(100*time.Millisecond), float64(history)/taskTook.Seconds())
	}
	row.Note = fmt.Sprintf("latency is tenant other's (%.0f events/s) during a replay of tenant bench's %d delivered events; without the replay its p50/p99 were %.1f/%.1f ms. The task %s; delivered/s is the replay's, request to last delivery",
		cfg.ReplayLiveRate, history, control.P50Ms, control.P99Ms, took)
	rcv.Reset()
	return row, nil
}

// runFairness: tenant "bench" has FairBacklog deliveries due to one fast
// webhook when the worker starts; meanwhile tenant "other" publishes
// FairRate events/s to a webhook of its own. The row's latency is the other
// tenant's, publish → receive: what one tenant's backlog costs another.
func runFairness(ctx context.Context, cfg *benchConfig, rcv *loadgen.Receiver) (*BenchRow, error) {
	dir, cfg, cleanup, err := rowSetup(ctx, cfg, true)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	accepted, err := makeBacklog(ctx, cfg, rcv, dir, "fairness", 1, cfg.FairBacklog, func(p *hookdProc) error {
		if err := p.call("POST", "/v1/tenants", map[string]any{"id": "other", "name": "other"}); err != nil {
			return err
		}
		return p.call("POST", "/v1/tenants/other/webhooks", map[string]any{"name": "other", "url": rcv.URL + "/other/0", "events": []string{"*"}})
	})
	if err != nil {
		return nil, err
	}
	rcv.CountDuplicates()
	p, err := startHookd(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	start := time.Now()
	other, pubDur := publishTo(ctx, cfg, p, "other", 1024, cfg.FairRate, cfg.Duration, 0, func(int64) {
		fmt.Fprintf(cfg.Progress, "\rfairness   backlog delivered %d/%d   ", rcv.Count(), accepted)
	})
	backlogAt := rcv.Count() // how far the backlog had drained when the other tenant stopped
	for deadline := time.Now().Add(cfg.DrainWait); ; time.Sleep(20 * time.Millisecond) {
		if got := int64(len(rcv.Other())); got >= other || time.Now().After(deadline) {
			break
		}
	}
	fmt.Fprintf(cfg.Progress, "\r%-70s\r", "")
	lat := rcv.Other()
	cores, rss := p.usage()
	dups := rcv.Duplicates()
	row := &BenchRow{Scenario: "fairness", Duplicates: dups, Fanout: 1, PayloadBytes: 1024, OfferedRate: cfg.FairRate,
		AcceptedPerSec: float64(other) / pubDur.Seconds(), Delivered: int64(len(lat)), Expected: other, CPUCores: cores, PeakRSSMB: rss,
		DeliveredPerSec: float64(backlogAt) / time.Since(start).Seconds(),
		Note:            fmt.Sprintf("latency is tenant other's (%.0f events/s) while tenant bench's %d deliveries to one fast webhook drain; delivered/s is the backlog's", cfg.FairRate, accepted)}
	percentiles(lat, row)
	rcv.Reset()
	return row, nil
}

// runSoak publishes SoakRate events/s to one fast webhook for SoakDuration
// and watches, every second, the WAL's size, and hookd's resident memory;
// the database's size per event is read after hookd stops (its last
// checkpoint folds the WAL in).
func runSoak(ctx context.Context, cfg *benchConfig, rcv *loadgen.Receiver) (*BenchRow, error) {
	dir, cfg, cleanup, err := rowSetup(ctx, cfg, false)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	p, err := startHookd(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			p.stop()
		}
	}()
	if err := p.setup(rcv, 1, 0); err != nil {
		return nil, err
	}
	rcv.Reset()
	rcv.CountDuplicates()
	row := &BenchRow{Scenario: "soak", Fanout: 1, PayloadBytes: 1024, OfferedRate: cfg.SoakRate}
	db := filepath.Join(dir, "bench.db")
	watchDone, stopWatch := make(chan struct{}), make(chan struct{})
	var walPeak atomic.Int64
	var rssStart float64
	go func() {
		defer close(watchDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for i := 1; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-stopWatch:
				return
			case <-t.C:
			}
			if fi, err := os.Stat(db + "-wal"); err == nil {
				walPeak.Store(max(walPeak.Load(), fi.Size()))
			}
			if i == 10 {
				rssStart = float64(loadgen.ProcRSS(p.cmd.Process.Pid)) / (1 << 20)
			}
		}
	}()
	start := time.Now()
	accepted, pubDur := publish(ctx, cfg, p, 1024, cfg.SoakRate, cfg.SoakDuration, 0, func(a int64) {
		el := time.Since(start).Seconds()
		fmt.Fprintf(cfg.Progress, "\rsoak       %4.0fs  accepted %6.0f ev/s  delivered %6.0f/s  WAL peak %5.1f MB  RSS %4.0f MB   ",
			el, float64(a)/el, float64(rcv.Count())/el, float64(walPeak.Load())/(1<<20), float64(loadgen.ProcRSS(p.cmd.Process.Pid))/(1<<20))
	})
	rssEnd := float64(loadgen.ProcRSS(p.cmd.Process.Pid)) / (1 << 20)
	drain(cfg, rcv, accepted, func() {})
	fmt.Fprintf(cfg.Progress, "\r%-110s\r", "")
	delivered, last := rcv.Count(), rcv.Last()
	cores, rss := p.usage()
	close(stopWatch)
	<-watchDone
	p.stop()
	stopped = true
	row.AcceptedPerSec, row.Delivered, row.Expected = float64(accepted)/pubDur.Seconds(), delivered, accepted
	row.CPUCores, row.PeakRSSMB, row.RSSStartMB, row.RSSEndMB = cores, rss, rssStart, rssEnd
	row.Duplicates = rcv.Duplicates()
	if !last.IsZero() {
		row.DeliveredPerSec = float64(delivered) / last.Sub(start).Seconds()
	}
	if fi, err := os.Stat(db); err == nil && accepted > 0 {
		row.WALPeakMB = float64(walPeak.Load()) / (1 << 20)
		row.DBBytesPerEvent = float64(fi.Size()) / float64(accepted)
	} else {
		row.Note = "the WAL and database are watched on SQLite only"
	}
	percentiles(rcv.Reset(), row)
	return row, nil
}

// localPostgres says whether db is a PostgreSQL on this machine, whose
// processes' CPU the load rows can read.
func localPostgres(db string) bool {
	if !isPostgres(db) {
		return false
	}
	u, err := url.Parse(db)
	if err != nil {
		return false
	}
	switch u.Hostname() {
	case "", "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}
