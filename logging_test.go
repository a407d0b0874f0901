package main

import (
	"strings"
	"testing"
)

// Secrets never reach a log line: each is cut, what surrounds it stays.
func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, secret, keep string }{
		{"token gpass_0123456789abcdefghijABCDEFGHIJ refused", "0123456789abcdefghij", "token gpass_[redacted] refused"},
		{"auth xoxb-1234-5678-abcdef failed", "1234-5678", "auth xoxb-[redacted] failed"},
		{"socket xapp-1-A0-123-abc closed", "A0-123", "socket xapp-[redacted] closed"},
		{`dial postgres://admin:hunter2@db:5432/app: refused`, "hunter2", "postgres://admin:[redacted]@db:5432/app"},
		{`Post "https://hooks.slack.com/commands/T0/123/abcSECRET": context deadline exceeded`, "abcSECRET", `Post "https://hooks.slack.com/[redacted]": context deadline exceeded`},
		{"nothing secret here", "", "nothing secret here"},
	} {
		got := redact(tc.in)
		if tc.secret != "" && strings.Contains(got, tc.secret) {
			t.Errorf("redact(%q) = %q: the secret is still there", tc.in, got)
		}
		if !strings.Contains(got, tc.keep) {
			t.Errorf("redact(%q) = %q, want it to contain %q", tc.in, got, tc.keep)
		}
	}
}
