package workflow

import (
	"errors"
	"fmt"
)

// Kind classifies an error so adapters can answer users without showing
// internals.
type Kind int

// Error kinds.
const (
	KindInternal    Kind = iota // a fault of gatepass or its database
	KindInvalid                 // bad input: unknown resource, duration out of bounds, …
	KindForbidden               // the caller may not do this
	KindNotFound                // no such request
	KindConflict                // the request is not in a state that allows this
	KindUnavailable             // a dependency (such as the chat directory) did not answer
)

func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "not found"
	case KindConflict:
		return "conflict"
	case KindUnavailable:
		return "unavailable"
	default:
		return "internal"
	}
}

// Sentinel errors that stores and notifiers return, wrapped or bare.
var (
	// ErrNotFound: the store has no such record.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a conditional update lost a race; the store retries it.
	ErrConflict = errors.New("conflicting update")
	// ErrUndeliverable: a notice can never be delivered (the channel is gone,
	// the bot was removed, …); retrying is pointless.
	ErrUndeliverable = errors.New("undeliverable")
	// ErrBusy: the database could not be written in time (another process
	// holds it); the caller may try again.
	ErrBusy = errors.New("database busy")
)

// Error is a workflow failure: the operation, its kind, a message fit for the
// user who caused it, and the underlying error if any.
type Error struct {
	Op   string // e.g. "approve 5f0c…"
	Kind Kind
	Msg  string // safe to show to the user
	Err  error
}

func (e *Error) Error() string {
	switch {
	case e.Msg != "" && e.Err != nil:
		return fmt.Sprintf("%s: %s: %v", e.Op, e.Msg, e.Err)
	case e.Msg != "":
		return e.Op + ": " + e.Msg
	case e.Err != nil:
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	default:
		return e.Op + ": " + e.Kind.String()
	}
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the outermost *Error in err's chain, or
// KindInternal.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	if errors.Is(err, ErrNotFound) {
		return KindNotFound
	}
	if errors.Is(err, ErrBusy) {
		return KindUnavailable
	}
	return KindInternal
}

// UserMessage returns the text to show the user for err: the message of the
// outermost *Error that has one, or "" when err carries none (an internal
// fault, whose details belong in the logs, not in chat).
func UserMessage(err error) string {
	if errors.Is(err, ErrBusy) {
		return "gatepass is busy right now (another process holds its database); nothing was changed. Try again in a moment."
	}
	for err != nil {
		if e, ok := err.(*Error); ok && e.Msg != "" && e.Kind != KindInternal {
			return e.Msg
		}
		err = errors.Unwrap(err)
	}
	return ""
}

func errorf(op string, kind Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Kind: KindOf(err), Err: err}
}
