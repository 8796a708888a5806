package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The hookd binary the process tests run, built once per test run the way
// the image ships it: static (CGO_ENABLED=0), so that the image test can
// put it on an empty base.
var hookdBin struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if hookdBin.dir != "" {
		os.RemoveAll(hookdBin.dir)
	}
	os.Exit(code)
}

// buildHookd returns the path of the static hookd binary.
func buildHookd(t *testing.T) string {
	t.Helper()
	hookdBin.once.Do(func() {
		if hookdBin.dir, hookdBin.err = os.MkdirTemp("", "hookd-bin-*"); hookdBin.err != nil {
			return
		}
		hookdBin.path = filepath.Join(hookdBin.dir, "hookd")
		cmd := exec.Command("go", "build", "-trimpath", "-o", hookdBin.path, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		hookdBin.out, hookdBin.err = cmd.CombinedOutput()
	})
	if hookdBin.err != nil {
		t.Fatalf("go build: %v\n%s", hookdBin.err, hookdBin.out)
	}
	return hookdBin.path
}
