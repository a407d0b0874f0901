package bot

import (
	"errors"
	"fmt"
	"html"
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
	RequestID    string // CmdRevoke
}

// maxCommandLen bounds the text parsed; Slack itself sends at most a few
// thousand characters.
const maxCommandLen = 4000

// ParseCommand reads the text after /access. Empty text and "help" ask for
// usage. An error says what is wrong in words for the user; the caller
// adds the usage.
func ParseCommand(text string) (Command, error) {
	if len(text) > maxCommandLen {
		return Command{}, fmt.Errorf("that command is too long (%d characters; at most %d)", len(text), maxCommandLen)
	}
	if !utf8.ValidString(text) {
		return Command{}, errors.New("that command is not valid text")
	}
	// Slack escapes &, < and > in command text as HTML entities.
	text = html.UnescapeString(text)
	f := strings.Fields(text)
	if len(f) == 0 {
		return Command{Kind: CmdHelp}, nil
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
