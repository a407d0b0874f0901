package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// maxSlackBody bounds what gatepass reads of a request from Slack.
const maxSlackBody = 1 << 20

// answerBudget is how long gatepass gives itself to answer Slack, well
// inside Slack's 3 seconds.
const answerBudget = 2500 * time.Millisecond

// Verified wraps h so that only requests bearing a valid Slack v0 signature
// over their body, with a timestamp within five minutes, reach it. Any other
// request gets 401 and reaches nothing. An empty secret refuses everything
// (Socket Mode without HTTP).
func Verified(secret string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSlackBody))
		if err != nil { // too large (or broken) to verify: unsigned
			http.Error(w, "invalid Slack signature", http.StatusUnauthorized)
			return
		}
		if secret == "" {
			http.Error(w, "signature verification is not configured", http.StatusUnauthorized)
			return
		}
		sv, err := slack.NewSecretsVerifier(r.Header, secret)
		if err == nil {
			_, _ = sv.Write(body)
			err = sv.Ensure()
		}
		if err != nil {
			http.Error(w, "invalid Slack signature", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// CommandsHandler serves POST /slack/commands. The reply is the response
// body; Slack calls the workflow causes happen after it.
func (b *Bot) CommandsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc, err := slack.SlashCommandParse(r)
		if err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), answerBudget)
		defer cancel()
		writeJSON(w, b.Command(ctx, sc))
	})
}

// InteractionsHandler serves POST /slack/interactions (payload=<json>).
func (b *Bot) InteractionsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		var cb slack.InteractionCallback
		if err := json.Unmarshal([]byte(r.PostForm.Get("payload")), &cb); err != nil {
			http.Error(w, "bad interaction payload", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), answerBudget)
		defer cancel()
		b.Interaction(ctx, cb)
		w.WriteHeader(http.StatusOK)
	})
}

// EventsHandler serves POST /slack/events: the url_verification challenge,
// and events that tell gatepass it was uninstalled or lost its tokens.
func (b *Bot) EventsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if ct := r.Header.Get("Content-Type"); ct == "application/x-www-form-urlencoded" {
			if v, err := url.ParseQuery(string(body)); err == nil && v.Get("payload") != "" {
				body = []byte(v.Get("payload"))
			}
		}
		ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
		if err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		if ev.Type == slackevents.URLVerification {
			if ch, ok := ev.Data.(*slackevents.EventsAPIURLVerificationEvent); ok {
				writeJSON(w, map[string]string{"challenge": ch.Challenge})
				return
			}
		}
		b.Event(ev)
		w.WriteHeader(http.StatusOK)
	})
}

// Event handles an Events API event.
func (b *Bot) Event(ev slackevents.EventsAPIEvent) {
	if ev.Type != slackevents.CallbackEvent {
		return
	}
	switch ev.InnerEvent.Type {
	case "app_uninstalled", "tokens_revoked":
		b.log.Error("Slack says gatepass was uninstalled or its tokens were revoked; approvals and notices will fail until it is reinstalled", "event", ev.InnerEvent.Type, "team", ev.TeamID)
	}
}
