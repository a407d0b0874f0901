package bot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"golang.org/x/sync/semaphore"
)

// maxSlackBody bounds a request from Slack; a larger one gets 413.
const maxSlackBody = 1 << 20

// maxBodyBudget bounds the memory all Slack request bodies being read at
// once may take; a request that cannot get its share within a second gets
// 503. Unsigned requests never get that far: their headers are checked
// first.
const maxBodyBudget = 32 << 20

// bodyReadTimeout bounds how long a client may take to send a body.
const bodyReadTimeout = 10 * time.Second

// answerBudget is how long gatepass gives itself to answer Slack, well
// inside Slack's 3 seconds.
const answerBudget = 2500 * time.Millisecond

// replayWindow is how long an accepted Slack request is remembered: longer
// than the 5 minutes a signature stays acceptable.
const replayWindow = 10 * time.Minute

// maxSkew is how far a request's timestamp may be from now.
const maxSkew = 5 * time.Minute

type bodyBudget struct{ sem *semaphore.Weighted }

func newBodyBudget(n int64) bodyBudget { return bodyBudget{sem: semaphore.NewWeighted(n)} }

type replayKeyCtx struct{}

// replayKey names a verified request for the replay memory: the hash of
// its signature, which covers its timestamp and body.
func replayKey(ctx context.Context) string {
	k, _ := ctx.Value(replayKeyCtx{}).(string)
	return k
}

// Verified wraps h so that only requests bearing a valid Slack v0 signature
// over their body, with a timestamp within five minutes, reach it. The
// headers are checked before any of the body is read: a request without a
// fresh timestamp and a well-formed signature gets 401 at once; one whose
// body is larger than the limit gets 413; a client too slow to send its
// body is cut off; and the memory all bodies in flight may take is bounded.
// An empty secret refuses everything (Socket Mode without HTTP).
func (b *Bot) Verified(secret string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts := r.Header.Get("X-Slack-Request-Timestamp")
		sig := r.Header.Get("X-Slack-Signature")
		// An early answer closes the connection, so the server does not
		// read the rest of a body it will never use.
		early := func(msg string, code int) {
			w.Header().Set("Connection", "close")
			http.Error(w, msg, code)
		}
		if secret == "" || !freshTimestamp(ts, time.Now()) || !wellFormedSignature(sig) {
			early("invalid Slack signature", http.StatusUnauthorized)
			return
		}
		if r.ContentLength > maxSlackBody {
			early("request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		share := int64(maxSlackBody)
		if r.ContentLength >= 0 {
			share = r.ContentLength + 512
		}
		wait, cancel := context.WithTimeout(r.Context(), time.Second)
		err := b.bodies.sem.Acquire(wait, share)
		cancel()
		if err != nil {
			w.Header().Set("Retry-After", "1")
			early("busy", http.StatusServiceUnavailable)
			return
		}
		defer b.bodies.sem.Release(share)
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSlackBody))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				early("request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			early("could not read the request body", http.StatusBadRequest)
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
		sum := sha256.Sum256([]byte(sig))
		r = r.WithContext(context.WithValue(r.Context(), replayKeyCtx{}, "sig:"+hex.EncodeToString(sum[:])))
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		h.ServeHTTP(w, r)
	})
}

// Verified is Bot.Verified for a bot-less caller (tests of the signature
// rules alone).
func Verified(secret string, h http.Handler) http.Handler {
	b := &Bot{bodies: newBodyBudget(maxBodyBudget)}
	return b.Verified(secret, h)
}

func freshTimestamp(ts string, now time.Time) bool {
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	d := now.Sub(time.Unix(n, 0))
	return d <= maxSkew && d >= -maxSkew
}

func wellFormedSignature(sig string) bool {
	hexPart, ok := strings.CutPrefix(sig, "v0=")
	if !ok || len(hexPart) != 64 {
		return false
	}
	_, err := hex.DecodeString(hexPart)
	return err == nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// once answers a verified request at most once: a replay gets the first
// answer, and changes nothing.
func (b *Bot) once(ctx context.Context, key string, do func() []byte) ([]byte, bool) {
	if key == "" {
		return do(), false
	}
	answer, replayed, err := b.svc.Once(ctx, key, replayWindow, do)
	if err != nil {
		b.log.Error("replay memory unavailable; the request was not acted on", "err", err)
		return nil, false
	}
	return answer, replayed
}

// answerInteraction acts on an interaction once (a repeat gets the first
// answer) and returns the body to answer with; empty means a bare 200.
// When it cannot be acted on now (the replay memory is unavailable, or
// the first delivery is still being worked on), a request form's
// submission is answered with that, beside its first field: a bare 200
// would close the form as if it had been filed.
func (b *Bot) answerInteraction(ctx context.Context, key string, cb slack.InteractionCallback) []byte {
	answer, replayed := b.once(ctx, key, func() []byte {
		if body := b.Interaction(ctx, cb); body != nil {
			return body
		}
		return []byte{}
	})
	if answer == nil && cb.Type == slack.InteractionTypeViewSubmission && cb.View.CallbackID == formCallback {
		msg := "gatepass could not record that right now (its database is busy or unavailable); nothing was filed. Try again in a moment."
		if replayed {
			msg = "gatepass already received this form and is working on it."
		}
		return jsonBody(slack.NewErrorsViewSubmissionResponse(map[string]string{blockResour: msg}))
	}
	return answer
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
		answer, replayed := b.once(ctx, replayKey(r.Context()), func() []byte { return jsonBody(b.Command(ctx, sc)) })
		if answer == nil {
			msg := "gatepass could not record that right now (its database is busy or unavailable); nothing was changed. Try again in a moment."
			if replayed {
				msg = "gatepass already received this command and is working on it."
			}
			writeJSON(w, ephemeral("%s", msg))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
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
		answer := b.answerInteraction(ctx, replayKey(r.Context()), cb)
		if len(answer) == 0 {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})
}

// EventsHandler serves POST /slack/events: the url_verification challenge,
// app_home_opened, and events that tell gatepass it was uninstalled or lost
// its tokens. Events Slack sends again (X-Slack-Retry-Num, same event_id)
// are answered without acting twice; event types gatepass does not know
// are answered 200 and ignored.
func (b *Bot) EventsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			if v, err := url.ParseQuery(string(body)); err == nil && v.Get("payload") != "" {
				body = []byte(v.Get("payload"))
			}
		}
		var outer struct {
			Type      string `json:"type"`
			Challenge string `json:"challenge"`
			EventID   string `json:"event_id"`
		}
		if err := json.Unmarshal(body, &outer); err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		if outer.Type == slackevents.URLVerification {
			writeJSON(w, map[string]string{"challenge": outer.Challenge})
			return
		}
		key := replayKey(r.Context())
		if outer.EventID != "" {
			key = "event:" + outer.EventID
		}
		b.once(r.Context(), key, func() []byte {
			ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
			if err != nil {
				b.log.Debug("event gatepass does not handle; ignored", "type", outer.Type, "err", err)
				return []byte{}
			}
			b.Event(ev)
			return []byte{}
		})
		w.WriteHeader(http.StatusOK)
	})
}

// Event handles an Events API event. Slow work (publishing a Home tab)
// happens after the answer.
func (b *Bot) Event(ev slackevents.EventsAPIEvent) {
	if ev.Type != slackevents.CallbackEvent {
		return
	}
	switch ev.InnerEvent.Type {
	case "app_uninstalled", "tokens_revoked":
		b.log.Error("Slack says gatepass was uninstalled or its tokens were revoked; approvals and notices will fail until it is reinstalled", "event", ev.InnerEvent.Type, "team", ev.TeamID)
	case "app_home_opened":
		e, ok := ev.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent)
		if !ok || e.User == "" || (e.Tab != "" && e.Tab != "home") {
			return
		}
		b.later(func(ctx context.Context) { b.PublishHome(ctx, e.User) })
	}
}
