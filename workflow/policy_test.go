package workflow_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/gatepass/gatepass/workflow"
)

const validPolicy = `
approver_channel: C0APPROVALS
introspection_keys:
  - name: payments-api
    key: "a-long-random-secret"
  - name: billing
    key_sha256: %s
resources:
  prod-db:
    description: Production database
    approvers: [U0APPROVER1, U0APPROVER2]
    ticket_pattern: '^[A-Z]+-[0-9]+$'
    break_glass: true
    levels:
      read:  {max_duration: 4h, approvals: 1}
      write: {max_duration: 1h, approvals: 2}
  logs:
    approvers: [S0ONCALL]
    levels:
      read: {max_duration: 1d}
`

func TestParsePolicyValid(t *testing.T) {
	sum := sha256.Sum256([]byte("billing-key"))
	p, warnings, err := workflow.ParsePolicy("gatepass.yml", []byte(strings.Replace(validPolicy, "%s", hex.EncodeToString(sum[:]), 1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	if p.AnnounceChannel != "C0APPROVALS" || p.MinDuration != time.Minute || p.PendingTimeout != 30*time.Minute {
		t.Errorf("defaults: announce %q, min %s, pending %s", p.AnnounceChannel, p.MinDuration, p.PendingTimeout)
	}
	if len(p.IntrospectionKeys) != 2 || p.IntrospectionKeys[1].KeySHA256 != sum || p.IntrospectionKeys[0].KeySHA256 != sha256.Sum256([]byte("a-long-random-secret")) {
		t.Errorf("introspection keys: %+v", p.IntrospectionKeys)
	}
	db := p.Resources["prod-db"]
	if db == nil || !db.BreakGlass || db.TicketPattern.String() != "^[A-Z]+-[0-9]+$" || db.Levels["write"].Approvals != 2 || db.Levels["read"].MaxDuration != 4*time.Hour {
		t.Errorf("prod-db: %+v", db)
	}
	if l := p.Resources["logs"].Levels["read"]; l.Approvals != 1 || l.MaxDuration != 24*time.Hour {
		t.Errorf("logs read (approvals default to 1, 1d): %+v", l)
	}
}

func TestParsePolicyFaults(t *testing.T) {
	const head = "approver_channel: C0A\n"
	cases := []struct {
		name string
		yaml string
		want []string // each must appear in the error
	}{
		{"empty file", "", []string{"approver_channel", "missing"}},
		{"not yaml", "approver_channel: [", []string{"p.yml"}},
		{"no approver channel", "resources:\n  db:\n    approvers: [U0A]\n    levels:\n      read: {max_duration: 1h}\n", []string{"approver_channel: missing"}},
		{"no resources", head, []string{"resources: missing"}},
		{"level shape", head + "resources:\n  db:\n    approvers: [U0A]\n    levels:\n      read: 4h\n", []string{"p.yml:6: resources.db.levels.read", "must be a mapping"}},
		{"unknown level key", head + "resources:\n  db:\n    approvers: [U0A]\n    levels:\n      read: {max_duration: 1h, aprovals: 1}\n", []string{"resources.db.levels.read.aprovals", "unknown level key"}},
		{"bad duration", head + "resources:\n  db:\n    approvers: [U0A]\n    levels:\n      read: {max_duration: 4 hours}\n", []string{"p.yml:6: resources.db.levels.read.max_duration", "invalid duration"}},
		{"missing max", head + "resources:\n  db:\n    approvers: [U0A]\n    levels:\n      read: {approvals: 1}\n", []string{"resources.db.levels.read.max_duration: missing"}},
		{"bad regexp", head + "resources:\n  db:\n    approvers: [U0A]\n    ticket_pattern: '^[A-Z+$'\n    levels:\n      read: {max_duration: 1h}\n", []string{"p.yml:5: resources.db.ticket_pattern", "regular expression"}},
		{"approvals zero", head + "resources:\n  db:\n    approvers: [U0A]\n    levels:\n      read: {max_duration: 1h, approvals: 0}\n", []string{"resources.db.levels.read.approvals", "at least 1"}},
		{"approvals not a number", head + "resources:\n  db:\n    approvers: [U0A]\n    levels:\n      read: {max_duration: 1h, approvals: two}\n", []string{"approvals", "whole number"}},
		{"more approvals than approvers", head + "resources:\n  db:\n    approvers: [U0A]\n    levels:\n      read: {max_duration: 1h, approvals: 2}\n", []string{"needs 2 approvals", "only 1"}},
		{"no approvers", head + "resources:\n  db:\n    levels:\n      read: {max_duration: 1h}\n", []string{"resources.db.approvers", "no approvers"}},
		{"empty approvers", head + "resources:\n  db:\n    approvers: []\n    levels:\n      read: {max_duration: 1h}\n", []string{"resources.db.approvers", "no approvers"}},
		{"bad approver", head + "resources:\n  db:\n    approvers: [alice]\n    levels:\n      read: {max_duration: 1h}\n", []string{"resources.db.approvers[0]", "not a Slack user ID"}},
		{"no levels", head + "resources:\n  db:\n    approvers: [U0A]\n", []string{"resources.db.levels: missing"}},
		{"reserved name", head + "resources:\n  list:\n    approvers: [U0A]\n    levels:\n      read: {max_duration: 1h}\n", []string{"resources.list", "command word"}},
		{"max below min", head + "min_duration: 10m\nresources:\n  db:\n    approvers: [U0A]\n    levels:\n      read: {max_duration: 5m}\n", []string{"shorter than min_duration"}},
		{"bad break_glass", head + "resources:\n  db:\n    approvers: [U0A]\n    break_glass: sometimes\n    levels:\n      read: {max_duration: 1h}\n", []string{"resources.db.break_glass", "true or false"}},
		{"key and hash", head + "introspection_keys:\n  - {name: a, key: k1234567890123456, key_sha256: " + strings.Repeat("0", 64) + "}\nresources:\n  db:\n    approvers: [U0A]\n    levels:\n      read: {max_duration: 1h}\n", []string{"introspection_keys[0]", "exactly one of key or key_sha256"}},
		{"bad hash", head + "introspection_keys:\n  - {name: a, key_sha256: abc}\nresources:\n  db:\n    approvers: [U0A]\n    levels:\n      read: {max_duration: 1h}\n", []string{"introspection_keys[0].key_sha256", "64 hexadecimal"}},
		{"duplicate key name", head + "introspection_keys:\n  - {name: a, key: k1234567890123456}\n  - {name: a, key: k6543210987654321}\nresources:\n  db:\n    approvers: [U0A]\n    levels:\n      read: {max_duration: 1h}\n", []string{"used twice"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := workflow.ParsePolicy("p.yml", []byte(c.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParsePolicyReportsEveryFaultAndWarnsOnUnknownKeys(t *testing.T) {
	y := "approver_channel: C0A\nrate_limit: 5\nresources:\n  a:\n    approvers: [U0A]\n    owner: me\n    levels:\n      read: {max_duration: soon}\n  b:\n    approvers: []\n    levels:\n      read: {max_duration: 1h}\n"
	_, warnings, err := workflow.ParsePolicy("p.yml", []byte(y))
	if err == nil || !strings.Contains(err.Error(), "resources.a.levels.read.max_duration") || !strings.Contains(err.Error(), "resources.b.approvers") {
		t.Fatalf("want both faults, got %v", err)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "rate_limit") || !strings.Contains(warnings[1], "resources.a.owner") {
		t.Fatalf("warnings = %v", warnings)
	}
}

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90s", 90 * time.Second, true},
		{"30m", 30 * time.Minute, true},
		{"1h30m", 90 * time.Minute, true},
		{"1d", 24 * time.Hour, true},
		{"2d12h", 60 * time.Hour, true},
		{" 4h ", 4 * time.Hour, true},
		{"", 0, false},
		{"0s", 0, false},
		{"-5m", 0, false},
		{"1d-5m", 0, false},
		{"d", 0, false},
		{"1.5d", 0, false},
		{"5", 0, false},
		{"soon", 0, false},
		{"1w", 0, false},
	}
	for _, c := range cases {
		got, err := workflow.ParseDuration(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
	for _, d := range []time.Duration{45 * time.Second, 30 * time.Minute, 90 * time.Minute, 26 * time.Hour, 48 * time.Hour} {
		if back, err := workflow.ParseDuration(workflow.FormatDuration(d)); err != nil || back != d {
			t.Errorf("FormatDuration(%s) = %q does not parse back", d, workflow.FormatDuration(d))
		}
	}
}

// break_glass_max_duration takes any positive duration down to 1s, and 0
// (as every lifecycle interval) leaves break-glass to the level's limit.
func TestParseBreakGlassMaxDuration(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
	}{{"1s", time.Second}, {"90m", 90 * time.Minute}, {"0", 0}, {"0s", 0}} {
		doc := "approver_channel: C0A\nresources:\n  db:\n    approvers: [U0A]\n    break_glass: true\n    break_glass_max_duration: " + tc.value + "\n    levels:\n      read: {max_duration: 2h}\n"
		p, _, err := workflow.ParsePolicy("p.yml", []byte(doc))
		if err != nil {
			t.Errorf("break_glass_max_duration: %s: %v", tc.value, err)
			continue
		}
		if got := p.Resources["db"].BreakGlassMaxDuration; got != tc.want {
			t.Errorf("break_glass_max_duration: %s gives %s, want %s", tc.value, got, tc.want)
		}
	}
	if _, _, err := workflow.ParsePolicy("p.yml", []byte("approver_channel: C0A\nresources:\n  db:\n    approvers: [U0A]\n    break_glass_max_duration: -5m\n    levels:\n      read: {max_duration: 2h}\n")); err == nil {
		t.Error("a negative break_glass_max_duration was accepted")
	}
}
