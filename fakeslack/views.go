package fakeslack

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"
)

// View types.
const (
	ViewTypeModal = "modal"
	ViewTypeHome  = "home"
)

// MaxViewStack is how many modal views a user can have stacked, as in
// Slack: the root view and two pushed views.
const MaxViewStack = 3

// Limits Slack enforces on view objects, enforced by the stand-in too.
const (
	maxViewBytes           = 250 << 10 // view_too_large above
	maxViewBlocks          = 100
	maxViewPrivateMetadata = 3000
	maxViewIdentifier      = 255 // callback_id and external_id
	maxViewLabel           = 24  // title, submit and close texts
)

// maxTriggers bounds the trigger IDs remembered; the oldest are forgotten.
const maxTriggers = 10000

// View is a modal view or a Home tab view as it currently stands. Views are
// created by views.open, views.push and views.publish (and response_action
// "push"), changed by views.update (and response_action "update"), and
// closed by the driver ([Server.SubmitView], [Server.CloseView]) or
// replaced by a new views.open for the same user.
type View struct {
	// ID is the view ID ("V…"). A user's Home tab keeps its ID across
	// views.publish calls.
	ID string
	// Type is ViewTypeModal or ViewTypeHome.
	Type string
	// UserID is the user the view is shown to: the user of the trigger_id a
	// modal was opened with (empty if the trigger_id was not handed out by
	// the server, see Options.StrictTriggers), or the user_id of
	// views.publish.
	UserID          string
	CallbackID      string
	PrivateMetadata string
	ExternalID      string
	// Title, Submit and Close are the texts of the view's title and of its
	// submit and close buttons (empty when absent).
	Title  string
	Submit string
	Close  string
	// Blocks is the Block Kit JSON array of the view, nil if it has none.
	Blocks json.RawMessage
	// Hash changes with every update; views.update and views.publish called
	// with another hash fail with hash_conflict.
	Hash string
	// RootViewID is the first view of a modal's stack (the view itself for
	// a root view or a Home tab); PreviousViewID is the view below a pushed
	// one, empty otherwise.
	RootViewID     string
	PreviousViewID string
	NotifyOnClose  bool
	ClearOnClose   bool
	// Open reports whether the user can still see the view: a modal on the
	// user's stack, or the user's current Home tab.
	Open bool
	// Errors are the errors by block_id the app answered the last
	// submission with (response_action "errors"), nil after an update.
	Errors map[string]string
	// Updates counts the updates applied (views.update, views.publish over
	// an existing Home tab, response_action "update").
	Updates int
	// OpenedAt is when the view was created and UpdatedAt when it last
	// changed, by Options.Now.
	OpenedAt  time.Time
	UpdatedAt time.Time
}

func (v View) clone() View {
	v.Blocks = cloneRaw(v.Blocks)
	v.Errors = maps.Clone(v.Errors)
	return v
}

// view is a stored view. Guarded by Server.mu.
type view struct {
	View
	// def is the view object as the app last sent it.
	def map[string]json.RawMessage
	// state holds what the user entered, by block_id and action_id; elements
	// without an entry have their initial value.
	state map[string]map[string]ViewValue
}

// trigger is a trigger_id handed out by the driver.
type trigger struct {
	user   string
	issued time.Time
	used   bool
}

// viewDef is a validated view object sent by the app.
type viewDef struct {
	raw                              map[string]json.RawMessage
	typ                              string
	title, submit, close             string
	callbackID, privateMetadata, ext string
	notifyOnClose, clearOnClose      bool
	blocks                           json.RawMessage
}

// invalidArguments is Slack's invalid_arguments error with a message.
func invalidArguments(msg string) obj {
	return obj{"ok": false, "error": "invalid_arguments", "response_metadata": obj{"messages": []string{"[ERROR] " + msg}}}
}

// parseViewDef validates a view object. wantType, when set, is the type the
// method requires. The error is a Slack error response.
func parseViewDef(raw []byte, wantType string) (*viewDef, obj) {
	if len(raw) > maxViewBytes {
		return nil, apiError("view_too_large")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, invalidArguments("view must be a JSON object")
	}
	var d struct {
		Type            string          `json:"type"`
		Title           json.RawMessage `json:"title"`
		Submit          json.RawMessage `json:"submit"`
		Close           json.RawMessage `json:"close"`
		Blocks          json.RawMessage `json:"blocks"`
		CallbackID      string          `json:"callback_id"`
		PrivateMetadata string          `json:"private_metadata"`
		ExternalID      string          `json:"external_id"`
		NotifyOnClose   bool            `json:"notify_on_close"`
		ClearOnClose    bool            `json:"clear_on_close"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, invalidArguments("malformed view: " + err.Error())
	}
	switch {
	case d.Type != ViewTypeModal && d.Type != ViewTypeHome:
		return nil, invalidArguments(fmt.Sprintf("unsupported view type %q", d.Type))
	case wantType != "" && d.Type != wantType:
		return nil, invalidArguments(fmt.Sprintf("view type must be %q", wantType))
	}
	blocks, ok := parseBlocks(string(d.Blocks))
	if !ok {
		return nil, invalidArguments("blocks must be an array of blocks")
	}
	decoded := decodeBlocks(blocks)
	if len(decoded) > maxViewBlocks {
		return nil, invalidArguments(fmt.Sprintf("no more than %d blocks allowed", maxViewBlocks))
	}
	def := &viewDef{
		raw:             fields,
		typ:             d.Type,
		title:           textOf(d.Title),
		submit:          textOf(d.Submit),
		close:           textOf(d.Close),
		callbackID:      d.CallbackID,
		privateMetadata: d.PrivateMetadata,
		ext:             d.ExternalID,
		notifyOnClose:   d.NotifyOnClose,
		clearOnClose:    d.ClearOnClose,
		blocks:          blocks,
	}
	for name, text := range map[string]string{"title": def.title, "submit": def.submit, "close": def.close} {
		if utf8.RuneCountInString(text) > maxViewLabel {
			return nil, invalidArguments(fmt.Sprintf("%s must be less than %d characters", name, maxViewLabel+1))
		}
	}
	switch {
	case utf8.RuneCountInString(def.privateMetadata) > maxViewPrivateMetadata:
		return nil, invalidArguments(fmt.Sprintf("private_metadata must be less than %d characters", maxViewPrivateMetadata+1))
	case len(def.callbackID) > maxViewIdentifier:
		return nil, invalidArguments(fmt.Sprintf("callback_id must be less than %d characters", maxViewIdentifier+1))
	case len(def.ext) > maxViewIdentifier:
		return nil, invalidArguments(fmt.Sprintf("external_id must be less than %d characters", maxViewIdentifier+1))
	}
	if def.typ == ViewTypeModal {
		if def.title == "" {
			return nil, invalidArguments("a modal needs a title")
		}
		for _, b := range decoded {
			if b.Type == "input" && def.submit == "" {
				return nil, invalidArguments("a modal with input blocks needs a submit button")
			}
		}
	}
	return def, nil
}

// triggerIDLocked hands out a new trigger_id, shaped like Slack's, for an
// action of userID.
func (s *Server) triggerIDLocked(userID string) string {
	s.seq++
	now := s.now()
	id := fmt.Sprintf("%d.%d.%s", now.Unix(), s.seq, randomHex(16))
	if len(s.triggerOrder) >= maxTriggers {
		drop := len(s.triggerOrder) - maxTriggers + 1
		for _, old := range s.triggerOrder[:drop] {
			delete(s.triggers, old)
		}
		s.triggerOrder = s.triggerOrder[drop:]
	}
	s.triggers[id] = &trigger{user: userID, issued: now}
	s.triggerOrder = append(s.triggerOrder, id)
	return id
}

// NewTriggerID hands out a trigger_id for userID, as the driver does with
// every slash command and interaction, for tests that call views.open or
// views.push themselves. It is usable once, within Options.TriggerTTL.
func (s *Server) NewTriggerID(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.triggerIDLocked(userID)
}

// checkTriggerLocked validates a trigger_id parameter without using it up.
// It returns nil and no error for an unknown trigger_id accepted because
// Options.StrictTriggers is off.
func (s *Server) checkTriggerLocked(id string) (*trigger, string) {
	if id == "" {
		return nil, "invalid_trigger_id"
	}
	t, ok := s.triggers[id]
	switch {
	case !ok && s.opts.StrictTriggers:
		return nil, "invalid_trigger_id"
	case !ok:
		return nil, ""
	case t.used:
		return nil, "exchanged_trigger_id"
	case s.now().Sub(t.issued) > s.opts.TriggerTTL:
		return nil, "expired_trigger_id"
	}
	return t, ""
}

// triggerParam returns the trigger_id (or interactivity_pointer) parameter.
func triggerParam(p url.Values) string {
	if id := p.Get("trigger_id"); id != "" {
		return id
	}
	return p.Get("interactivity_pointer")
}

// newHashLocked returns a view hash shaped like Slack's.
func (s *Server) newHashLocked() string {
	return fmt.Sprintf("%d.%s", s.now().Unix(), randomHex(4))
}

// newViewLocked stores a new open view for userID.
func (s *Server) newViewLocked(def *viewDef, userID string) *view {
	s.seq++
	id := fmt.Sprintf("V%08d", s.seq)
	now := s.now()
	v := &view{
		View: View{
			ID:         id,
			Type:       def.typ,
			UserID:     userID,
			RootViewID: id,
			Open:       true,
			OpenedAt:   now,
			UpdatedAt:  now,
			Hash:       s.newHashLocked(),
		},
		state: make(map[string]map[string]ViewValue),
	}
	v.apply(def)
	s.views[id] = v
	if v.ExternalID != "" {
		s.externalIDs[v.ExternalID] = id
	}
	return v
}

// apply sets the view's content from def.
func (v *view) apply(def *viewDef) {
	v.def = def.raw
	v.Title, v.Submit, v.Close = def.title, def.submit, def.close
	v.CallbackID, v.PrivateMetadata, v.ExternalID = def.callbackID, def.privateMetadata, def.ext
	v.NotifyOnClose, v.ClearOnClose = def.notifyOnClose, def.clearOnClose
	v.Blocks = def.blocks
}

// replaceViewLocked updates v with def, keeping what the user entered in
// elements that are still there (same block_id and action_id), as Slack
// does.
func (s *Server) replaceViewLocked(v *view, def *viewDef) {
	if v.ExternalID != "" && s.externalIDs[v.ExternalID] == v.ID {
		delete(s.externalIDs, v.ExternalID)
	}
	v.apply(def)
	if v.ExternalID != "" {
		s.externalIDs[v.ExternalID] = v.ID
	}
	kept := make(map[string]map[string]ViewValue)
	for _, el := range viewElements(v.Blocks) {
		if val, ok := v.state[el.blockID][el.el.ActionID]; ok {
			if kept[el.blockID] == nil {
				kept[el.blockID] = make(map[string]ViewValue)
			}
			kept[el.blockID][el.el.ActionID] = val
		}
	}
	v.state = kept
	v.Hash = s.newHashLocked()
	v.Errors = nil
	v.Updates++
	v.UpdatedAt = s.now()
}

// externalIDFreeLocked reports whether ext may be used by a view, given the
// views (by ID) that give it up.
func (s *Server) externalIDFreeLocked(ext string, exempt ...string) bool {
	owner, ok := s.externalIDs[ext]
	if !ok {
		return true
	}
	for _, id := range exempt {
		if owner == id {
			return true
		}
	}
	return false
}

// closeViewLocked marks v closed and frees its external_id.
func (s *Server) closeViewLocked(v *view) {
	v.Open = false
	v.UpdatedAt = s.now()
	if v.ExternalID != "" && s.externalIDs[v.ExternalID] == v.ID {
		delete(s.externalIDs, v.ExternalID)
	}
}

// closeModalLocked closes viewID and every view pushed above it on
// userID's stack.
func (s *Server) closeModalLocked(userID, viewID string) {
	stack := s.modalStacks[userID]
	for i, id := range stack {
		if id != viewID {
			continue
		}
		for _, above := range stack[i:] {
			s.closeViewLocked(s.views[above])
		}
		if i == 0 {
			delete(s.modalStacks, userID)
		} else {
			s.modalStacks[userID] = stack[:i:i]
		}
		return
	}
}

// closeStackLocked closes all of userID's modals.
func (s *Server) closeStackLocked(userID string) {
	if stack := s.modalStacks[userID]; len(stack) > 0 {
		s.closeModalLocked(userID, stack[0])
	}
}

// pushViewLocked pushes a new modal on userID's stack and returns it, or
// returns a Slack error code.
func (s *Server) pushViewLocked(userID string, def *viewDef) (*view, string) {
	stack := s.modalStacks[userID]
	switch {
	case len(stack) == 0:
		return nil, "not_found"
	case len(stack) >= MaxViewStack:
		return nil, "push_limit_reached"
	case def.ext != "" && !s.externalIDFreeLocked(def.ext):
		return nil, "duplicate_external_id"
	}
	v := s.newViewLocked(def, userID)
	v.RootViewID, v.PreviousViewID = stack[0], stack[len(stack)-1]
	s.modalStacks[userID] = append(stack, v.ID)
	return v, ""
}

// viewsOpen serves views.open: it opens a modal for the user of the
// trigger_id, replacing any modal stack the user had open.
func (s *Server) viewsOpen(_ *http.Request, p url.Values) obj {
	triggerID := triggerParam(p)
	if triggerID == "" {
		return apiError("invalid_trigger_id")
	}
	def, errResp := parseViewDef([]byte(p.Get("view")), ViewTypeModal)
	if errResp != nil {
		return errResp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, code := s.checkTriggerLocked(triggerID)
	if code != "" {
		return apiError(code)
	}
	user := ""
	if t != nil {
		user = t.user
	}
	if def.ext != "" && !s.externalIDFreeLocked(def.ext, s.modalStacks[user]...) {
		return apiError("duplicate_external_id")
	}
	if t != nil {
		t.used = true
	}
	if user != "" {
		s.closeStackLocked(user)
	}
	v := s.newViewLocked(def, user)
	if user != "" {
		s.modalStacks[user] = []string{v.ID}
	}
	s.broadcastLocked()
	return obj{"ok": true, "view": s.viewJSONLocked(v)}
}

// viewsPush serves views.push: it pushes a modal on the stack of the user of
// the trigger_id.
func (s *Server) viewsPush(_ *http.Request, p url.Values) obj {
	triggerID := triggerParam(p)
	if triggerID == "" {
		return apiError("invalid_trigger_id")
	}
	def, errResp := parseViewDef([]byte(p.Get("view")), ViewTypeModal)
	if errResp != nil {
		return errResp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, code := s.checkTriggerLocked(triggerID)
	if code != "" {
		return apiError(code)
	}
	if t == nil {
		return apiError("not_found")
	}
	v, code := s.pushViewLocked(t.user, def)
	if code != "" {
		return apiError(code)
	}
	t.used = true
	s.broadcastLocked()
	return obj{"ok": true, "view": s.viewJSONLocked(v)}
}

// viewsUpdate serves views.update, by view_id or external_id.
func (s *Server) viewsUpdate(_ *http.Request, p url.Values) obj {
	viewID, ext := p.Get("view_id"), p.Get("external_id")
	if viewID == "" && ext == "" {
		return invalidArguments("view_id or external_id is required")
	}
	def, errResp := parseViewDef([]byte(p.Get("view")), "")
	if errResp != nil {
		return errResp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var v *view
	if viewID != "" {
		v = s.views[viewID]
	} else if id, ok := s.externalIDs[ext]; ok {
		v = s.views[id]
	}
	switch {
	case v == nil || !v.Open:
		return apiError("not_found")
	case def.typ != v.Type:
		return invalidArguments(fmt.Sprintf("view type must be %q", v.Type))
	case p.Get("hash") != "" && p.Get("hash") != v.Hash:
		return apiError("hash_conflict")
	case def.ext != "" && !s.externalIDFreeLocked(def.ext, v.ID):
		return apiError("duplicate_external_id")
	}
	s.replaceViewLocked(v, def)
	s.broadcastLocked()
	return obj{"ok": true, "view": s.viewJSONLocked(v)}
}

// viewsPublish serves views.publish: it sets the user's Home tab.
func (s *Server) viewsPublish(_ *http.Request, p url.Values) obj {
	user := p.Get("user_id")
	if !isUserID(user) {
		return invalidArguments("invalid `user_id`")
	}
	def, errResp := parseViewDef([]byte(p.Get("view")), ViewTypeHome)
	if errResp != nil {
		return errResp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	existing := s.views[s.homes[user]]
	if hash := p.Get("hash"); hash != "" && existing != nil && hash != existing.Hash {
		return apiError("hash_conflict")
	}
	var exempt []string
	if existing != nil {
		exempt = append(exempt, existing.ID)
	}
	if def.ext != "" && !s.externalIDFreeLocked(def.ext, exempt...) {
		return apiError("duplicate_external_id")
	}
	v := existing
	if v != nil {
		s.replaceViewLocked(v, def)
	} else {
		v = s.newViewLocked(def, user)
		s.homes[user] = v.ID
	}
	s.broadcastLocked()
	return obj{"ok": true, "view": s.viewJSONLocked(v)}
}

// viewJSONLocked renders v as Slack's view object, with the user's input
// in state.values.
func (s *Server) viewJSONLocked(v *view) obj {
	out := make(obj, len(v.def)+16)
	for k, raw := range v.def {
		out[k] = raw
	}
	for k, def := range map[string]any{
		"private_metadata": "",
		"callback_id":      "",
		"external_id":      "",
		"clear_on_close":   false,
		"notify_on_close":  false,
		"close":            nil,
		"submit":           nil,
	} {
		if _, ok := out[k]; !ok {
			out[k] = def
		}
	}
	if v.Blocks != nil {
		out["blocks"] = cloneRaw(v.Blocks)
	} else {
		out["blocks"] = []obj{}
	}
	var previous any
	if v.PreviousViewID != "" {
		previous = v.PreviousViewID
	}
	out["id"] = v.ID
	out["team_id"] = s.opts.TeamID
	out["type"] = v.Type
	out["state"] = obj{"values": v.stateValues()}
	out["hash"] = v.Hash
	out["root_view_id"] = v.RootViewID
	out["previous_view_id"] = previous
	out["app_id"] = s.opts.AppID
	out["app_installed_team_id"] = s.opts.TeamID
	out["bot_id"] = s.opts.BotUserID
	return out
}

// View returns the view with id, open or closed.
func (s *Server) View(id string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[id]
	if !ok {
		return View{}, false
	}
	return v.View.clone(), true
}

// OpenViews returns userID's open modal views, root first and the view the
// user sees last; nil when no modal is open.
func (s *Server) OpenViews(userID string) []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []View
	for _, id := range s.modalStacks[userID] {
		out = append(out, s.views[id].View.clone())
	}
	return out
}

// HomeView returns the Home tab view last published for userID.
func (s *Server) HomeView(userID string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[s.homes[userID]]
	if !ok {
		return View{}, false
	}
	return v.View.clone(), true
}

// visibleViewLocked returns viewID if userID can see it: the user's Home tab
// or the top of the user's modal stack.
func (s *Server) visibleViewLocked(userID, viewID string) (*view, error) {
	v, ok := s.views[viewID]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: unknown view", ErrNoSuchView)
	case !v.Open:
		return nil, fmt.Errorf("%w: view is closed", ErrNoSuchView)
	case v.UserID != userID:
		return nil, fmt.Errorf("%w: view belongs to %q", ErrNoSuchView, v.UserID)
	case v.Type == ViewTypeModal:
		if stack := s.modalStacks[userID]; len(stack) == 0 || stack[len(stack)-1] != viewID {
			return nil, fmt.Errorf("%w: another view is pushed on top", ErrNoSuchView)
		}
	}
	return v, nil
}
