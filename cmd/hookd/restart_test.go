package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// privateCluster is a PostgreSQL server the test creates in a temporary
// directory (initdb + pg_ctl) and may stop and start at will; the
// machine's own server is never touched.
type privateCluster struct {
	t          *testing.T
	bin, data  string
	port       int
	asPostgres bool // initdb refuses to run as root: run it as the postgres user
}

func newPrivateCluster(t *testing.T) *privateCluster {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Skip("no initdb on this machine")
	}
	c := &privateCluster{t: t, bin: filepath.Dir(bins[len(bins)-1]), asPostgres: os.Geteuid() == 0}
	dir, err := os.MkdirTemp("", "hookd-pg-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if c.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root and there is no postgres user to run initdb as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	c.data = filepath.Join(dir, "data")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c.run("initdb", "-D", c.data, "-A", "trust", "-U", "postgres", "--no-sync")
	c.start()
	t.Cleanup(func() { c.command("pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop").Run() }) // may be stopped already
	return c
}

func (c *privateCluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	if c.asPostgres {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(c.bin, name)}, args...)...)
	}
	cmd.Dir = "/"
	return cmd
}

func (c *privateCluster) run(name string, args ...string) {
	c.t.Helper()
	if out, err := c.command(name, args...).CombinedOutput(); err != nil {
		c.t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func (c *privateCluster) start() {
	c.run("pg_ctl", "-D", c.data, "-l", filepath.Join(filepath.Dir(c.data), "log"), "-w", "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", c.port, filepath.Dir(c.data)), "start")
}

func (c *privateCluster) stop() { c.run("pg_ctl", "-D", c.data, "-m", "fast", "-w", "stop") }

func (c *privateCluster) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// TestPostgresRestart restarts the database under a running hookd: while it
// is away /readyz is 503 and publishing answers 503, never 202; afterwards
// hookd reconnects on its own and every accepted event is delivered.
func TestPostgresRestart(t *testing.T) {
	if os.Getenv("HOOKD_TEST_POSTGRES") == "" {
		t.Skip("HOOKD_TEST_POSTGRES is not set")
	}
	if testing.Short() {
		t.Skip("builds hookd and runs a PostgreSQL server")
	}
	pg := newPrivateCluster(t)
	bin := buildHookd(t)
	var mu sync.Mutex
	got := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get("webhook-id")]++
		mu.Unlock()
	}))
	defer rcv.Close()
	p := startReplica(t, bin, pg.url())
	c := &client{t: t, base: p.url, key: "adm"}
	c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	c.must(201, "POST", "/v1/event-types", map[string]any{"name": "a.b", "description": ""})
	c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "r", "url": rcv.URL, "events": []string{"*"}})
	var accepted []string
	publish := func(i int) int {
		code, out := c.call("POST", "/v1/tenants/acme/events", map[string]any{"type": "a.b", "data": map[string]any{"i": i}})
		if code == 202 {
			accepted = append(accepted, out["id"].(string))
		}
		return code
	}
	for i := 0; i < 20; i++ {
		if code := publish(i); code != 202 {
			t.Fatalf("publish before the restart = %d", code)
		}
	}

	pg.stop()
	ready := func() int {
		res, err := http.Get(p.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	eventually(t, "/readyz 503 while the database is down", func() bool { return ready() == 503 })
	// Long enough for the API's 1 s caches to expire, so that every read
	// the publish makes meets the missing database too.
	for start, i := time.Now(), 100; time.Since(start) < 2*time.Second; i++ {
		if code := publish(i); code != 503 {
			t.Fatalf("publish while the database is down = %d, want 503", code)
		}
	}

	pg.start()
	eventually(t, "/readyz 200 after the database is back", func() bool { return ready() == 200 })
	for i := 200; i < 220; i++ {
		if code := publish(i); code != 202 {
			t.Fatalf("publish after the restart = %d", code)
		}
	}
	eventually(t, "every accepted event delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range accepted {
			if got[id] == 0 {
				return false
			}
		}
		return true
	})
	if len(accepted) != 40 {
		t.Fatalf("accepted %d events, want 40", len(accepted))
	}
}
