package main

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatepass/gatepass/storage"
	"github.com/gatepass/gatepass/workflow"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds gatepass once for the tests that run it as a process.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatepass-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "gatepass")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build gatepass: %v", buildErr)
	}
	return binPath
}

// process runs the gatepass binary against the harness's Slack stand-in,
// database and policy.
type process struct {
	cmd  *exec.Cmd
	logs *logBuffer
}

func (h *harness) startProcess(t testing.TB) *process {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h.env["GATEPASS_ADDR"] = addr
	h.base = "http://" + addr
	cmd := exec.Command(binary(t), "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + h.dir}
	for k, v := range h.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, logs: &logBuffer{}}
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	h.logs = p.logs
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gatepass process did not listen:\n%s", p.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.slack.SetAppURL(h.base)
	return p
}

// A SIGKILL loses no request, approval, grant or audit event; SIGTERM ends
// the process cleanly.
func TestCrashAndRestartLoseNothing(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.stop() // this test runs the binary instead
	p := h.startProcess(t)

	granted := h.request(alice, "prod-db read 30m INC-101 before the crash")
	half := h.request(alice, "prod-db write 30m INC-102 two approvals")
	h.approvalMessage(granted)
	h.approvalMessage(half)
	h.click(bob, approvals, granted, "approve")
	tok := h.token(alice, granted)
	h.click(bob, approvals, half, "approve")
	h.waitFor("1 of 2", func() bool {
		m, _ := h.message(approvals, half)
		return strings.Contains(m.Text, "1 of 2")
	})

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	p = h.startProcess(t)
	if !active(h.introspect(tok)) {
		t.Fatal("grant lost in the crash")
	}
	list := h.command(alice, "list")
	mustContain(t, "list after the crash", list.Text, granted, half, "1 of 2")
	h.click(carol, approvals, half, "approve") // bob's approval survived: this is the second
	// A lane the killed process had leased (its receipt's update, say) is
	// taken over when the lease runs out, ten seconds at most.
	h.tokenWithin(alice, half, 25*time.Second)

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}

	store, err := storage.Open(context.Background(), h.env["GATEPASS_DB"])
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	evs, err := store.Events(context.Background(), half)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action+" by "+e.Actor)
	}
	want := []string{
		workflow.ActionRequested + " by " + alice, workflow.ActionApproved + " by " + bob,
		workflow.ActionApproved + " by " + carol, workflow.ActionIssued + " by " + workflow.System,
		workflow.ActionTokenMinted + " by " + workflow.System, workflow.ActionTokenSent + " by " + workflow.System,
	}
	if strings.Join(actions, "; ") != strings.Join(want, "; ") {
		t.Fatalf("audit trail:\n got %v\nwant %v", actions, want)
	}
}

// A bad setting stops serve at start, naming the setting, before anything
// listens.
func TestBadSettingsStopServe(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "gatepass.yml")
	if err := os.WriteFile(good, []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("approver_channel: C0A\nresources:\n  db:\n    approvers: [U0A]\n    levels:\n      read: {max_duration: forever, approvals: 0}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{
		"SLACK_BOT_TOKEN": "xoxb-x", "SLACK_SIGNING_SECRET": "s", "GATEPASS_CONFIG": good,
		"GATEPASS_DB": filepath.Join(dir, "db"), "GATEPASS_ADDR": "127.0.0.1:0",
	}
	cases := []struct {
		name   string
		change map[string]string
		says   []string
	}{
		{"no bot token", map[string]string{"SLACK_BOT_TOKEN": ""}, []string{"SLACK_BOT_TOKEN"}},
		{"user token", map[string]string{"SLACK_BOT_TOKEN": "xoxp-1"}, []string{"SLACK_BOT_TOKEN", "xoxb-"}},
		{"no signing secret", map[string]string{"SLACK_SIGNING_SECRET": ""}, []string{"SLACK_SIGNING_SECRET"}},
		{"bad app token", map[string]string{"SLACK_APP_TOKEN": "xoxb-2"}, []string{"SLACK_APP_TOKEN"}},
		{"bad API URL", map[string]string{"SLACK_API_URL": "ftp:/x"}, []string{"SLACK_API_URL"}},
		{"missing policy", map[string]string{"GATEPASS_CONFIG": filepath.Join(dir, "nope.yml")}, []string{"GATEPASS_CONFIG", "nope.yml"}},
		{"bad policy", map[string]string{"GATEPASS_CONFIG": bad}, []string{"bad.yml:6", "resources.db.levels.read.max_duration", "resources.db.levels.read.approvals", "at least 1"}},
		{"bad address", map[string]string{"GATEPASS_ADDR": "256.0.0.1:-1"}, []string{"GATEPASS_ADDR"}},
		{"bad database", map[string]string{"GATEPASS_DB": filepath.Join(dir, "no", "such", "dir", "db")}, []string{"GATEPASS_DB"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range c.change {
				env[k] = v
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var logs logBuffer
			err := serve(ctx, func(k string) string { return env[k] }, &logs, serveOptions{})
			if err == nil {
				t.Fatal("serve started")
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
		})
	}
}

func TestPostgresEndToEnd(t *testing.T) {
	h := newHarness(t, harnessOptions{postgres: true})
	id := h.request(alice, "prod-db write 2s INC-500 on postgres")
	h.approvalMessage(id)
	h.click(bob, approvals, id, "approve")
	h.click(carol, approvals, id, "approve")
	tok := h.token(alice, id)
	if !active(h.introspect(tok)) {
		t.Fatal("inactive fresh grant")
	}
	h.restart()
	h.waitFor("expiry on PostgreSQL", func() bool {
		m, ok := h.message(announce, "INC-500")
		return ok && strings.Contains(m.Text, "expired")
	})
	if active(h.introspect(tok)) {
		t.Fatal("expired token active")
	}
}
