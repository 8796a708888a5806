package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeBlock returns the shell block that follows the marker
// "<!-- readme-test: NAME -->" in README.md.
func readmeBlock(t *testing.T, readme, name string) string {
	t.Helper()
	marker := "<!-- readme-test: " + name + " -->\n```sh\n"
	i := strings.Index(readme, marker)
	if i < 0 {
		t.Fatalf("README.md has no block marked %q", name)
	}
	rest := readme[i+len(marker):]
	return rest[:strings.Index(rest, "```")]
}

// commandArgs returns the arguments after "go run ./cmd/hookd CMD" on the
// line of block that runs it.
func commandArgs(t *testing.T, block, cmd string) []string {
	t.Helper()
	for _, line := range strings.Split(block, "\n") {
		if rest, ok := strings.CutPrefix(line, "go run ./cmd/hookd "+cmd); ok {
			if i := strings.Index(rest, "#"); i >= 0 {
				rest = rest[:i]
			}
			return strings.Fields(rest)
		}
	}
	t.Fatalf("no 'go run ./cmd/hookd %s' in\n%s", cmd, block)
	return nil
}

// The README's walk-through, run as written: its set-up command (on a
// fresh database, so the admin key is the one hookd prints), its hookd
// listen, and its shell blocks under bash, with only the addresses
// changed to free ports. It ends with the receiver printing a verified
// delivery, and hookd showing it SUCCESS.
func TestReadmeWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the walk-through needs %s", tool)
		}
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	setup := readme[strings.Index(readme, "## Set-up"):]
	setup = setup[:strings.Index(setup, "\n## ")]
	if n := strings.Count(setup, "```sh"); n != 1 {
		t.Fatalf("the set-up has %d blocks, want one with its two commands", n)
	}
	block := setup[strings.Index(setup, "```sh\n")+6:]
	block = strings.TrimSpace(block[:strings.Index(block, "```")])
	lines := strings.Split(block, "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "go run ./cmd/hookd serve") || lines[1] != "go test -race -count=1 -timeout 30m ./..." {
		t.Fatalf("the set-up block is not the run command then the test command:\n%s", block)
	}
	// CI runs that same command.
	if ci, err := os.ReadFile("../../.ci/run"); err != nil || !strings.Contains(string(ci), "\n"+lines[1]+"\n") {
		t.Fatalf(".ci/run does not run the README's test command %q (%v)", lines[1], err)
	}

	serveArgs := commandArgs(t, block, "serve")
	base, stderr, stop := start(t, append([]string{"--db", filepath.Join(t.TempDir(), "hookd.db")}, serveArgs...)...)
	defer stop()
	m := keyLine.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no admin key printed:\n%s", stderr)
	}

	listenArgs := commandArgs(t, readmeBlock(t, readme, "listen"), "listen")
	addr, out := startListen(t, listenArgs...)

	script := readmeBlock(t, readme, "walkthrough") + readmeBlock(t, readme, "inspect")
	// The reader pastes the key hookd printed where the README says so.
	script = strings.Replace(script, "KEY=hk_admin_…", "KEY="+m[1], 1)
	script = strings.ReplaceAll(script, "http://localhost:8080", base)
	script = strings.ReplaceAll(script, "http://127.0.0.1:9000/", "http://"+addr+"/")
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), "HOOKD=", "KEY=")
	res, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walk-through failed: %v\n%s", err, res)
	}
	evt := regexp.MustCompile(`published (evt_\w+)`).FindStringSubmatch(string(res))
	if evt == nil {
		t.Fatalf("no event published:\n%s", res)
	}
	// The inspect block ran right after publishing; the receiver's line is
	// what the reader waits for.
	eventually(t, "the receiver's verified line", func() bool {
		return strings.Contains(out.String(), "webhook-id="+evt[1]+" type=invocation.completed attempt=1 verified → 200")
	})
	for _, want := range []string{`"attempts"`, `"byStatus"`, `"totalDeliveries"`} {
		if !strings.Contains(string(res), want) {
			t.Errorf("the walk-through's output lacks %s:\n%s", want, res)
		}
	}
}
