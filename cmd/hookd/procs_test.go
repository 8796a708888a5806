package main

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestIdleProcessRunsOnOneP: the hookd binary, left idle, gives itself one
// P (internal/procs), which its /metrics shows.
func TestIdleProcessRunsOnOneP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hookd")
	}
	if runtime.NumCPU() < 2 || os.Getenv("GOMAXPROCS") != "" {
		t.Skip("one CPU, or GOMAXPROCS set: hookd leaves it alone")
	}
	p := startReplica(t, buildHookd(t), filepath.Join(t.TempDir(), "hookd.db"))
	procs := func() string {
		res, err := http.Get(p.url + "/metrics")
		if err != nil {
			return ""
		}
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "go_sched_gomaxprocs_threads "); ok {
				return v
			}
		}
		return ""
	}
	if got := procs(); got == "" || got == "1" {
		t.Fatalf("go_sched_gomaxprocs_threads = %q at start, want the default (%d CPUs)", got, runtime.NumCPU())
	}
	// The first 5 s window may hold the start's work, so one P can take
	// two windows; the deadline leaves room for a busy test machine.
	for deadline := time.Now().Add(30 * time.Second); procs() != "1"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("go_sched_gomaxprocs_threads = %q after 30 s idle, want 1", procs())
		}
	}
}
