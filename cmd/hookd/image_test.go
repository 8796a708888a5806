package main

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImage builds hookd's image the offline way (the Dockerfile's
// prebuilt target, on the static binary) and runs it: the container serves
// /healthz, /readyz and the API with its SQLite data in /var/lib/hookd, as
// a non-root user. It needs podman with runc; .ci/run sets
// HOOKD_REQUIRE_PODMAN where podman runs, so that there a missing podman
// fails instead of skipping.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image")
	}
	if _, err := exec.LookPath("podman"); err != nil {
		if os.Getenv("HOOKD_REQUIRE_PODMAN") != "" {
			t.Fatal("HOOKD_REQUIRE_PODMAN is set and there is no podman")
		}
		t.Skip("no podman")
	}
	podman := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("podman", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}

	// The build context holds what the Dockerfile copies, and the binary.
	ctx := t.TempDir()
	for _, f := range []string{"Dockerfile", ".dockerignore", "deploy/image/passwd", "deploy/image/group", "deploy/image/DATA.txt"} {
		copyFile(t, filepath.Join("..", "..", f), filepath.Join(ctx, f))
	}
	copyFile(t, buildHookd(t), filepath.Join(ctx, "hookd"))
	suffix := make([]byte, 4)
	rand.Read(suffix)
	tag := "localhost/hookd-test:" + hex.EncodeToString(suffix)
	name := "hookd-test-" + hex.EncodeToString(suffix)
	podman("build", "--pull=never", "--target", "prebuilt", "-t", tag, ctx)
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", tag).Run() })

	if user := podman("image", "inspect", "--format", "{{.Config.User}}", tag); user != "65532:65532" {
		t.Errorf("the image runs as %q", user)
	}
	if v := podman("run", "--rm", "--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", tag, "version"); !strings.HasPrefix(v, "hookd ") {
		t.Errorf("hookd version in the image: %q", v)
	}
	podman("run", "-d", "--name", name, "--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"-p", "127.0.0.1::8080", "-e", "HOOKD_ADMIN_KEY=image-test-key", tag)
	t.Cleanup(func() { exec.Command("podman", "rm", "-f", "-t", "0", name).Run() })
	addr := podman("port", name, "8080/tcp")
	base := "http://" + strings.Replace(addr, "0.0.0.0", "127.0.0.1", 1)

	status := func(path, key string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		c := http.Client{Timeout: 2 * time.Second}
		res, err := c.Do(req)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	eventually(t, "the container's /healthz", func() bool { return status("/healthz", "") == 200 })
	if code := status("/readyz", ""); code != 200 {
		t.Errorf("/readyz: %d", code)
	}
	// The API answers from the SQLite file the non-root user made in the
	// data directory.
	c := &client{t: t, base: base, key: "image-test-key"}
	c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	if logs := podman("logs", name); !strings.Contains(logs, "hookd listening") || !strings.Contains(logs, "db=/var/lib/hookd/hookd.db") {
		t.Errorf("logs:\n%s", logs)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
