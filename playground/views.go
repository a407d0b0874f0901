package playground

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatepass/gatepass/fakeslack"
)

// eventViews is the kind of the server-sent event that carries every
// user's views after one of them changed.
const eventViews = "views"

// viewOut is a modal or Home tab as the page shows it.
type viewOut struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	User       string            `json:"user"`
	CallbackID string            `json:"callback_id,omitempty"`
	Title      string            `json:"title,omitempty"`
	Submit     string            `json:"submit,omitempty"`
	Close      string            `json:"close,omitempty"`
	Blocks     json.RawMessage   `json:"blocks,omitempty"`
	Errors     map[string]string `json:"errors,omitempty"`
	Hash       string            `json:"hash"`
	Updates    int               `json:"updates"`
	UpdatedAt  time.Time         `json:"updated_at"`
	// Depth is, for a modal, how many views its user has stacked (1 for a
	// root view); the page shows the top one.
	Depth int `json:"depth,omitempty"`
}

func fromView(v fakeslack.View) *viewOut {
	blocks := v.Blocks
	if len(blocks) == 0 || string(blocks) == "null" {
		blocks = nil
	}
	return &viewOut{
		ID: v.ID, Type: v.Type, User: v.UserID, CallbackID: v.CallbackID, Title: v.Title, Submit: v.Submit, Close: v.Close,
		Blocks: blocks, Errors: v.Errors, Hash: v.Hash, Updates: v.Updates, UpdatedAt: v.UpdatedAt,
	}
}

// userViews are what one user sees of gatepass's views: the modal on top
// of their stack, and their Home tab once gatepass has published one.
type userViews struct {
	Modal *viewOut `json:"modal,omitempty"`
	Home  *viewOut `json:"home,omitempty"`
}

// views returns every demo user's views, and when they were read (Unix
// nanoseconds, never the same twice).
func (p *Playground) views() (map[string]userViews, int64) {
	at := p.viewsClock()
	out := make(map[string]userViews, len(p.cfg.Users))
	for _, u := range p.cfg.Users {
		var uv userViews
		if stack := p.slack.OpenViews(u.ID); len(stack) > 0 {
			uv.Modal = fromView(stack[len(stack)-1])
			uv.Modal.Depth = len(stack)
		}
		if h, ok := p.slack.HomeView(u.ID); ok {
			uv.Home = fromView(h)
		}
		out[u.ID] = uv
	}
	return out, at
}

// viewsClock returns the time views are read at, strictly increasing.
func (p *Playground) viewsClock() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := time.Now().UnixNano()
	if at <= p.viewsRead {
		at = p.viewsRead + 1
	}
	p.viewsRead = at
	return at
}

// viewsFingerprint changes whenever a view the page shows does.
func (p *Playground) viewsFingerprint() string {
	var b strings.Builder
	add := func(v fakeslack.View) {
		fmt.Fprintf(&b, "%s:%s:%d:%d:%t:", v.ID, v.Hash, v.Updates, v.UpdatedAt.UnixNano(), v.Open)
		for _, k := range slices.Sorted(maps.Keys(v.Errors)) {
			fmt.Fprintf(&b, "%s=%s,", k, v.Errors[k])
		}
		b.WriteByte(';')
	}
	for _, u := range p.cfg.Users {
		b.WriteString(u.ID)
		b.WriteByte('[')
		for _, v := range p.slack.OpenViews(u.ID) {
			add(v)
		}
		if h, ok := p.slack.HomeView(u.ID); ok {
			b.WriteString("home:")
			add(h)
		}
		b.WriteByte(']')
	}
	return b.String()
}

// watchViews returns a channel that receives a value whenever the views
// change, until ctx ends. The stand-in does not publish view changes to
// subscribers, but wakes its waiters on every change.
func (p *Playground) watchViews(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	go func() {
		last := p.viewsFingerprint()
		for {
			err := p.slack.WaitUntil(ctx, func() bool {
				fp := p.viewsFingerprint()
				if fp == last {
					return false
				}
				last = fp
				return true
			})
			if err != nil {
				return
			}
			select {
			case ch <- struct{}{}:
			default: // one pending notice covers any number of changes
			}
		}
	}()
	return ch
}

// viewResponse is what the view routes and POST /home answer.
type viewResponse struct {
	// Status is gatepass's HTTP status, 0 when nothing was sent to it.
	Status int `json:"status"`
	// ResponseAction and Errors are gatepass's answer to a submission.
	ResponseAction string            `json:"response_action,omitempty"`
	Errors         map[string]string `json:"errors,omitempty"`
	Error          string            `json:"error,omitempty"`
}

// knownUser answers 400 and returns false for a user not in the demo.
func (p *Playground) knownUser(w http.ResponseWriter, user string) bool {
	if _, ok := p.userBy[user]; !ok {
		writeError(w, http.StatusBadRequest, "unknown user "+user)
		return false
	}
	return true
}

// driverFailed answers for an error of one of the stand-in's drivers.
func (p *Playground) driverFailed(w http.ResponseWriter, what, user string, err error) {
	switch {
	case errors.Is(err, fakeslack.ErrNoSuchView):
		writeJSON(w, http.StatusConflict, viewResponse{Error: "that view is no longer open"})
	case errors.Is(err, fakeslack.ErrMissingInput):
		writeJSON(w, http.StatusUnprocessableEntity, viewResponse{Error: "please complete the required fields"})
	case errors.Is(err, fakeslack.ErrNoSuchElement), errors.Is(err, fakeslack.ErrNoSuchOption):
		writeJSON(w, http.StatusBadRequest, viewResponse{Error: strings.TrimPrefix(err.Error(), "fakeslack: ")})
	default:
		p.cfg.Log.Warn("playground: "+what+" not delivered", "user", user, "err", err)
		writeJSON(w, http.StatusBadGateway, viewResponse{Error: "gatepass did not answer: " + err.Error()})
	}
}

// drive sends something to gatepass through the stand-in and answers
// with its reply, or with what went wrong (what names it in the log).
func (p *Playground) drive(w http.ResponseWriter, r *http.Request, what, user string, send func(context.Context) (fakeslack.Reply, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), commandTimeout)
	defer cancel()
	reply, err := send(ctx)
	if err != nil {
		p.driverFailed(w, what, user, err)
		return
	}
	answered(w, reply)
}

// answered answers with gatepass's reply to something sent to it.
func answered(w http.ResponseWriter, reply fakeslack.Reply) {
	out := viewResponse{Status: reply.Status, ResponseAction: reply.ResponseAction, Errors: reply.Errors}
	if reply.Status != 0 && reply.Status != http.StatusOK {
		out.Error = fmt.Sprintf("gatepass answered HTTP %d", reply.Status)
		writeJSON(w, http.StatusBadGateway, out)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// homeRequest is the body of POST /home.
type homeRequest struct {
	User string `json:"user"`
}

// serveHome tells gatepass the user opened its Home tab; gatepass answers
// by publishing the view, which the page learns of from /events.
func (p *Playground) serveHome(w http.ResponseWriter, r *http.Request) {
	var req homeRequest
	if !readJSON(w, r, &req) || !p.knownUser(w, req.User) {
		return
	}
	p.drive(w, r, "app_home_opened", req.User, func(ctx context.Context) (fakeslack.Reply, error) {
		return p.slack.AppHomeOpened(ctx, req.User)
	})
}

// inputValue is what the user entered in one element of a view.
type inputValue struct {
	Value  string   `json:"value,omitempty"`
	Values []string `json:"values,omitempty"`
}

// viewSubmitRequest is the body of POST /view/submit.
type viewSubmitRequest struct {
	User   string                           `json:"user"`
	ViewID string                           `json:"view_id"`
	Values map[string]map[string]inputValue `json:"values"`
}

// serveViewSubmit submits a modal with what the user entered. gatepass's
// answer is applied to the modal by the stand-in, as Slack does: closed,
// or kept open with errors beside the fields at fault.
func (p *Playground) serveViewSubmit(w http.ResponseWriter, r *http.Request) {
	var req viewSubmitRequest
	if !readJSON(w, r, &req) || !p.knownUser(w, req.User) {
		return
	}
	values := make(map[string]map[string]fakeslack.ViewValue, len(req.Values))
	for block, actions := range req.Values {
		values[block] = make(map[string]fakeslack.ViewValue, len(actions))
		for action, v := range actions {
			values[block][action] = fakeslack.ViewValue{Value: v.Value, Values: v.Values}
		}
	}
	p.drive(w, r, "view submission", req.User, func(ctx context.Context) (fakeslack.Reply, error) {
		return p.slack.SubmitView(ctx, req.User, req.ViewID, values)
	})
}

// viewSelectRequest is the body of POST /view/select.
type viewSelectRequest struct {
	User     string `json:"user"`
	ViewID   string `json:"view_id"`
	BlockID  string `json:"block_id"`
	ActionID string `json:"action_id"`
	Value    string `json:"value"`
}

// serveViewSelect picks an option (or types text) in a view. The stand-in
// tells gatepass only when Slack would: for an input with dispatch_action,
// or an element outside input blocks.
func (p *Playground) serveViewSelect(w http.ResponseWriter, r *http.Request) {
	var req viewSelectRequest
	if !readJSON(w, r, &req) || !p.knownUser(w, req.User) {
		return
	}
	p.drive(w, r, "select in a view", req.User, func(ctx context.Context) (fakeslack.Reply, error) {
		return p.slack.SelectInView(ctx, req.User, req.ViewID, req.BlockID, req.ActionID, req.Value)
	})
}

// viewClickRequest is the body of POST /view/click.
type viewClickRequest struct {
	User     string `json:"user"`
	ViewID   string `json:"view_id"`
	ActionID string `json:"action_id"`
	// Value, when set, must match the button's value too.
	Value string `json:"value"`
}

// visibleView returns the view user sees with id: their Home tab, or the
// modal on top of their stack.
func (p *Playground) visibleView(user, id string) (fakeslack.View, bool) {
	if h, ok := p.slack.HomeView(user); ok && h.ID == id && h.Open {
		return h, true
	}
	if stack := p.slack.OpenViews(user); len(stack) > 0 && stack[len(stack)-1].ID == id {
		return stack[len(stack)-1], true
	}
	return fakeslack.View{}, false
}

// serveViewClick clicks a button in a modal or a Home tab, as it stands
// now.
func (p *Playground) serveViewClick(w http.ResponseWriter, r *http.Request) {
	var req viewClickRequest
	if !readJSON(w, r, &req) || !p.knownUser(w, req.User) {
		return
	}
	v, ok := p.visibleView(req.User, req.ViewID)
	if !ok {
		writeError(w, http.StatusNotFound, "no such view")
		return
	}
	button, ok := findButton(fakeslack.ViewButtons(v), req.ActionID, req.Value)
	if !ok {
		writeError(w, http.StatusConflict, "that button is no longer there")
		return
	}
	p.drive(w, r, "click in a view", req.User, func(ctx context.Context) (fakeslack.Reply, error) {
		return p.slack.ClickInView(ctx, req.User, req.ViewID, button)
	})
}

// viewCloseRequest is the body of POST /view/close.
type viewCloseRequest struct {
	User   string `json:"user"`
	ViewID string `json:"view_id"`
}

// serveViewClose closes a modal, as its Cancel button does.
func (p *Playground) serveViewClose(w http.ResponseWriter, r *http.Request) {
	var req viewCloseRequest
	if !readJSON(w, r, &req) || !p.knownUser(w, req.User) {
		return
	}
	p.drive(w, r, "closing a view", req.User, func(ctx context.Context) (fakeslack.Reply, error) {
		return p.slack.CloseView(ctx, req.User, req.ViewID)
	})
}

// serveIntrospect forwards /v1/introspect to gatepass, so that the page's
// own address answers it as gatepass does.
func (p *Playground) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	if p.app == nil {
		http.NotFound(w, r)
		return
	}
	p.app.ServeHTTP(w, r)
}
