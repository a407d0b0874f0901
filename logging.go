package main

import (
	"io"
	"log/slog"
	"regexp"
	"strings"
)

// secretRE matches what must never reach a log: gatepass tokens, Slack
// tokens, database passwords, and Slack's response_url and webhook
// addresses (anyone holding one can post as the app).
var secretRE = regexp.MustCompile(`gpass_[0-9A-Za-z]{20,}|xox[a-z]-[0-9A-Za-z-]+|xapp-[0-9A-Za-z-]+|(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@|https://hooks\.slack\.com/[^\s"]+`)

// redact replaces secrets in s.
func redact(s string) string {
	if !strings.Contains(s, "gpass_") && !strings.Contains(s, "xox") && !strings.Contains(s, "xapp-") && !strings.Contains(s, "postgres") && !strings.Contains(s, "hooks.slack.com") {
		return s
	}
	return secretRE.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "https://hooks.slack.com/") {
			return "https://hooks.slack.com/[redacted]"
		}
		if strings.HasPrefix(m, "postgres") {
			return m[:strings.LastIndex(m[:strings.LastIndex(m, "@")], ":")+1] + "[redacted]@"
		}
		i := strings.IndexAny(m, "_-")
		return m[:i+1] + "[redacted]"
	})
}

// newLogger logs to w at the given level, as text lines or one JSON object
// per line, with every string and error value passed through redact, a
// last line of defence should a secret ever be handed to the logger.
func newLogger(w io.Writer, level slog.Level, json bool) *slog.Logger {
	opts := &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			v := a.Value.Resolve()
			switch v.Kind() {
			case slog.KindString:
				if r := redact(v.String()); r != v.String() {
					a.Value = slog.StringValue(r)
				}
			case slog.KindAny:
				if err, ok := v.Any().(error); ok {
					a.Value = slog.StringValue(redact(err.Error()))
				}
			}
			return a
		},
	}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
