package bot

import (
	"strings"
	"testing"
	"time"
)

func TestParseCommand(t *testing.T) {
	cases := []struct {
		text string
		want Command
		err  string
	}{
		{"", Command{Kind: CmdForm}, ""},
		{"   ", Command{Kind: CmdForm}, ""},
		{"help", Command{Kind: CmdHelp}, ""},
		{"HELP", Command{Kind: CmdHelp}, ""},
		{"list", Command{Kind: CmdList}, ""},
		{"list all", Command{}, "no arguments"},
		{"revoke 5f0c", Command{Kind: CmdRevoke, RequestID: "5f0c"}, ""},
		{"revoke", Command{}, "one request ID"},
		{"revoke a b", Command{}, "one request ID"},
		{"prod-db read 30m INC-123 slow queries", Command{Kind: CmdRequest, Resource: "prod-db", Level: "read", Duration: 30 * time.Minute, DurationText: "30m", Ticket: "INC-123", Reason: "slow queries"}, ""},
		{"prod-db read 1h30m INC-1", Command{Kind: CmdRequest, Resource: "prod-db", Level: "read", Duration: 90 * time.Minute, DurationText: "1h30m", Ticket: "INC-1"}, ""},
		{"prod-db\tread  1d INC-1   a  b ", Command{Kind: CmdRequest, Resource: "prod-db", Level: "read", Duration: 24 * time.Hour, DurationText: "1d", Ticket: "INC-1", Reason: "a b"}, ""},
		{"prod-db read 30m INC-1 fix &lt;db&gt; &amp; more", Command{Kind: CmdRequest, Resource: "prod-db", Level: "read", Duration: 30 * time.Minute, DurationText: "30m", Ticket: "INC-1", Reason: "fix <db> & more"}, ""},
		{"prod-db read 30m", Command{}, "needs a resource, level, duration and ticket"},
		{"prod-db read soon INC-1", Command{}, `"soon" is not a duration`},
		{"break-glass prod-db write 1h INC-9 db is down", Command{Kind: CmdBreakGlass, Resource: "prod-db", Level: "write", Duration: time.Hour, DurationText: "1h", Ticket: "INC-9", Reason: "db is down"}, ""},
		{"break-glass prod-db write 1h INC-9", Command{}, "and a reason"},
		{"break-glass prod-db write never INC-9 x", Command{}, "not a duration"},
		{"cancel 5f0c", Command{Kind: CmdCancel, RequestID: "5f0c"}, ""},
		{"cancel", Command{}, "one request ID"},
		{"extend 5f0c 30m", Command{Kind: CmdExtend, RequestID: "5f0c", Duration: 30 * time.Minute, DurationText: "30m"}, ""},
		{"extend 5f0c", Command{}, "a request ID and a duration"},
		{"extend 5f0c forever", Command{}, `"forever" is not a duration`},
		{"reviews", Command{Kind: CmdReviews}, ""},
		{"reviews all", Command{}, "no arguments"},
		{"history", Command{Kind: CmdHistory, Page: 1}, ""},
		{"history prod-db", Command{Kind: CmdHistory, Subject: "prod-db", Page: 1}, ""},
		{"history <@U0ALICE|alice> 3", Command{Kind: CmdHistory, Subject: "U0ALICE", Page: 3}, ""},
		{"history &lt;@U0ALICE&gt;", Command{Kind: CmdHistory, Subject: "U0ALICE", Page: 1}, ""},
		{"history 2", Command{Kind: CmdHistory, Page: 2}, ""},
		{"history a b", Command{}, "a resource or a @user"},
		{"history prod-db 0", Command{}, "numbered from 1"},
		{"audit INC-123", Command{Kind: CmdAudit, Ticket: "INC-123", Page: 1}, ""},
		{"audit INC-123 2", Command{Kind: CmdAudit, Ticket: "INC-123", Page: 2}, ""},
		{"audit", Command{}, "takes a ticket"},
	}
	for _, c := range cases {
		got, err := ParseCommand(c.text)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseCommand(%q) error = %v, want %q", c.text, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", c.text, got, err, c.want)
		}
	}
}

// FuzzParseCommand: no input panics, and every input either parses into a
// complete command or is refused with a reason (which the bot follows with
// the usage text, see TestEveryRefusalCarriesUsage).
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"", "help", "list", "revoke x", "prod-db read 30m INC-1 why", "break-glass a b 1d T r", "a b 1d2h3m4s T", "x y -1d z", "\xff\xfe", "a b 99999999999d c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCommand(text)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("refusal without a reason")
			}
			return
		}
		switch c.Kind {
		case CmdRequest, CmdBreakGlass:
			if c.Resource == "" || c.Level == "" || c.Ticket == "" || c.Duration <= 0 {
				t.Fatalf("incomplete request %+v from %q", c, text)
			}
			if c.Kind == CmdBreakGlass && c.Reason == "" {
				t.Fatalf("break-glass without a reason from %q", text)
			}
		case CmdRevoke, CmdCancel, CmdExtend:
			if c.RequestID == "" {
				t.Fatalf("revoke without an ID from %q", text)
			}
		}
	})
}
