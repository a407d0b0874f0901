package bot

import (
	"errors"
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatepass/gatepass/workflow"
)

// CommandKind is what an /access invocation asks for.
type CommandKind int

// Command kinds.
const (
	CmdHelp CommandKind = iota
	CmdRequest
	CmdBreakGlass
	CmdRevoke
	CmdList
	CmdCancel
	CmdExtend
	CmdReviews
	CmdHistory
	CmdAudit
	CmdForm // no text: the request form
)

// Command is a parsed /access invocation.
type Command struct {
	Kind     CommandKind
	Resource string
	Level    string
	Duration time.Duration
	// DurationText is the duration as typed.
	DurationText string
	Ticket       string
	Reason       string
	RequestID    string // CmdRevoke, CmdCancel, CmdExtend
	// Subject narrows CmdHistory to a resource or a user (a Slack user ID);
	// CmdAudit's ticket is in Ticket.
	Subject string
	Page    int // CmdHistory, CmdAudit: 1 for the newest
}

// userRef matches a user as Slack escapes it in command text (<@U123|name>
// or <@U123>), or a bare user ID.
var userRef = regexp.MustCompile(`^(?:<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|@?([UW][A-Z0-9]{2,}))$`)

// maxCommandLen bounds the text parsed; Slack itself sends at most a few
// thousand characters.
const maxCommandLen = 4000

// ParseCommand reads the text after /access. Empty text asks for the
// request form, "help" for the usage. An error says what is wrong in words for the user; the caller
// adds the usage.
func ParseCommand(text string) (Command, error) {
	if len(text) > maxCommandLen {
		return Command{}, fmt.Errorf("that command is too long (%d characters; at most %d)", len(text), maxCommandLen)
	}
	if !utf8.ValidString(text) {
		return Command{}, errors.New("that command is not valid text")
	}
	// Slack escapes &, < and > in command text as HTML entities, except in
	// the mentions it escapes itself (<@U123|name>).
	text = html.UnescapeString(text)
	f := strings.Fields(text)
	if len(f) == 0 {
		return Command{Kind: CmdForm}, nil
	}
	switch strings.ToLower(f[0]) {
	case "help", "-h", "--help", "?", "usage":
		return Command{Kind: CmdHelp}, nil
	case "list", "ls":
		if len(f) > 1 {
			return Command{}, errors.New("`list` takes no arguments")
		}
		return Command{Kind: CmdList}, nil
	case "revoke":
		if len(f) != 2 {
			return Command{}, errors.New("`revoke` takes one request ID, as shown by `/access list`")
		}
		return Command{Kind: CmdRevoke, RequestID: f[1]}, nil
	case "cancel":
		if len(f) != 2 {
			return Command{}, errors.New("`cancel` takes one request ID, as shown by `/access list`")
		}
		return Command{Kind: CmdCancel, RequestID: f[1]}, nil
	case "extend":
		if len(f) != 3 {
			return Command{}, errors.New("`extend` takes a request ID and a duration, as in `/access extend <request-id> 30m`")
		}
		d, err := workflow.ParseDuration(f[2])
		if err != nil {
			return Command{}, fmt.Errorf("%q is not a duration: use 90s, 30m, 1h30m or 1d", f[2])
		}
		return Command{Kind: CmdExtend, RequestID: f[1], Duration: d, DurationText: f[2]}, nil
	case "reviews":
		if len(f) > 1 {
			return Command{}, errors.New("`reviews` takes no arguments")
		}
		return Command{Kind: CmdReviews}, nil
	case "history":
		c := Command{Kind: CmdHistory, Page: 1}
		rest := f[1:]
		if n := len(rest); n > 0 {
			if p, err := strconv.Atoi(rest[n-1]); err == nil {
				if p < 1 || p > 1000 {
					return Command{}, errors.New("pages are numbered from 1")
				}
				c.Page, rest = p, rest[:n-1]
			}
		}
		if len(rest) > 1 {
			return Command{}, errors.New("`history` takes a resource or a @user, and a page number")
		}
		if len(rest) == 1 {
			c.Subject = rest[0]
			if m := userRef.FindStringSubmatch(rest[0]); m != nil {
				c.Subject = m[1] + m[2]
			}
		}
		return c, nil
	case "audit":
		if len(f) < 2 || len(f) > 3 {
			return Command{}, errors.New("`audit` takes a ticket, as in `/access audit INC-123`, and a page number")
		}
		c := Command{Kind: CmdAudit, Ticket: f[1], Page: 1}
		if len(f) == 3 {
			p, err := strconv.Atoi(f[2])
			if err != nil || p < 1 || p > 1000 {
				return Command{}, errors.New("pages are numbered from 1")
			}
			c.Page = p
		}
		return c, nil
	case "break-glass", "breakglass", "break_glass":
		if len(f) < 6 {
			return Command{}, errors.New("`break-glass` needs a resource, level, duration, ticket and a reason")
		}
		c, err := parseRequest(f[1:])
		c.Kind = CmdBreakGlass
		return c, err
	}
	if len(f) < 4 {
		return Command{}, fmt.Errorf("a request needs a resource, level, duration and ticket; got %d of them", len(f))
	}
	c, err := parseRequest(f)
	c.Kind = CmdRequest
	return c, err
}

// parseRequest reads "<resource> <level> <duration> <ticket> [reason…]".
func parseRequest(f []string) (Command, error) {
	d, err := workflow.ParseDuration(f[2])
	if err != nil {
		return Command{}, fmt.Errorf("%q is not a duration: use 90s, 30m, 1h30m or 1d", f[2])
	}
	return Command{
		Resource:     f[0],
		Level:        f[1],
		Duration:     d,
		DurationText: f[2],
		Ticket:       f[3],
		Reason:       strings.Join(f[4:], " "),
	}, nil
}
