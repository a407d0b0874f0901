package main

import (
	"context"
	"net/http"
	"time"

	"github.com/gatepass/gatepass/bot"
	"github.com/gatepass/gatepass/storage"
	"github.com/gatepass/gatepass/tokens"
)

// routes is gatepass's whole HTTP surface.
func routes(b *bot.Bot, signingSecret string, introspect *tokens.Introspector, store *storage.Store) http.Handler {
	slackMux := http.NewServeMux()
	slackMux.Handle("/slack/commands", b.CommandsHandler())
	slackMux.Handle("/slack/interactions", b.InteractionsHandler())
	slackMux.Handle("/slack/events", b.EventsHandler())

	mux := http.NewServeMux()
	// Everything under /slack/ must carry Slack's signature; nothing else
	// is looked at first.
	mux.Handle("/slack/", bot.Verified(signingSecret, slackMux))
	mux.Handle("/v1/introspect", introspect)
	mux.Handle("GET /healthz", healthz(store))
	return mux
}

// healthz answers 200 while the database answers, 503 otherwise.
func healthz(store *storage.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := store.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database unavailable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}
