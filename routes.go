package main

import (
	"context"
	"net/http"
	"time"

	"github.com/gatepass/gatepass/bot"
	"github.com/gatepass/gatepass/metrics"
	"github.com/gatepass/gatepass/storage"
	"github.com/gatepass/gatepass/tokens"
)

// routes is gatepass's whole HTTP surface.
func routes(b *bot.Bot, signingSecret string, introspect http.Handler, health healthCheck, metricsHandler http.Handler) http.Handler {
	slackMux := http.NewServeMux()
	slackMux.Handle("/slack/commands", b.CommandsHandler())
	slackMux.Handle("/slack/interactions", b.InteractionsHandler())
	slackMux.Handle("/slack/events", b.EventsHandler())

	mux := http.NewServeMux()
	// Everything under /slack/ must carry Slack's signature; nothing else
	// is looked at first.
	mux.Handle("/slack/", b.Verified(signingSecret, slackMux))
	mux.Handle("/v1/introspect", introspect)
	mux.Handle("GET /healthz", health)
	mux.Handle("GET /metrics", metricsHandler)
	return mux
}

// healthCheck answers GET /healthz: 200 while the database can be written
// (and, in Socket Mode, the connection to Slack has not been down for more
// than a minute), 503 otherwise, saying why.
type healthCheck struct {
	store  *storage.Store
	bot    *bot.Bot
	socket bool
	now    func() time.Time // the service's clock
}

func (h healthCheck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := h.store.CheckWritable(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database unavailable: cannot write\n"))
		return
	}
	if h.socket && !h.bot.SocketHealthy(h.now(), socketGrace) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("Slack unreachable: the Socket Mode connection has been down for over a minute\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// measured counts introspections by result and times them.
func measured(h *tokens.Introspector, m *metrics.Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &resultWriter{ResponseWriter: w}
		h.ServeHTTP(rw, r)
		result := "active"
		switch {
		case rw.status == http.StatusUnauthorized:
			result = "unauthorized"
		case rw.status >= 500:
			result = "error"
		case rw.status >= 400:
			result = "bad_request"
		case !rw.active:
			result = "inactive"
		}
		m.Introspection(result, time.Since(start))
	})
}

// resultWriter notes an introspection answer's status and whether it said
// active, without buffering it.
type resultWriter struct {
	http.ResponseWriter
	status int
	active bool
	seen   bool
}

func (w *resultWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *resultWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if !w.seen {
		w.seen = true
		w.active = len(p) > 10 && string(p[:10]) == `{"active":` && p[10] == 't'
	}
	return w.ResponseWriter.Write(p)
}
