package fakeslack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// userPayloadLocked renders the user object of interaction payloads.
func (s *Server) userPayloadLocked(userID string) obj {
	name := s.userName(userID)
	return obj{"id": userID, "username": name, "name": name, "team_id": s.opts.TeamID}
}

// SubmitView submits the modal viewID as userID, like a click on its submit
// button. values are what the user typed or picked, by block_id and
// action_id (see [ViewValue]); they are added to what the view already
// holds (initial values, earlier [Server.SelectInView] or SubmitView
// input), so the view's state.values is complete as in Slack.
//
// The view must be the top of userID's modal stack, or the error wraps
// [ErrNoSuchView]. A value for an element the view does not have wraps
// [ErrNoSuchElement], and one that is not among a select's options
// [ErrNoSuchOption]. When a required input block (not "optional") is still
// empty, nothing is sent, as Slack's client refuses to submit, and the error
// wraps [ErrMissingInput].
//
// Otherwise a view_submission is sent (a signed POST of the payload form
// field to AppInteractionsPath, or an interactive envelope in socket mode)
// and the app's answer is applied to the user's modals as Slack does:
// an empty body (or JSON without response_action) closes the view, returning
// to the one below it if it was pushed; "clear" closes the whole stack;
// "update" replaces the view's content (same ID, new hash); "push" pushes
// the answer's view (ignored beyond [MaxViewStack]); "errors" keeps the
// view open and records the errors in [View.Errors]. A non-200 status, a
// body that is not JSON or an invalid view leave the view open, as Slack
// then shows an error in the modal. The Reply has the answer decoded
// (ResponseAction, Errors, View).
func (s *Server) SubmitView(ctx context.Context, userID, viewID string, values map[string]map[string]ViewValue) (Reply, error) {
	s.mu.Lock()
	v, err := s.visibleViewLocked(userID, viewID)
	if err == nil && v.Type != ViewTypeModal {
		err = fmt.Errorf("%w: a %s view cannot be submitted", ErrNoSuchView, v.Type)
	}
	if err != nil {
		s.mu.Unlock()
		return Reply{}, fmt.Errorf("fakeslack: submit view %s: %w", viewID, err)
	}
	els := viewElements(v.Blocks)
	staged := make(map[*viewElement]ViewValue)
	for _, blockID := range slices.Sorted(maps.Keys(values)) {
		for _, actionID := range slices.Sorted(maps.Keys(values[blockID])) {
			e := findElement(els, blockID, actionID)
			if e == nil {
				s.mu.Unlock()
				return Reply{}, fmt.Errorf("fakeslack: submit view %s: %w: %s/%s", viewID, ErrNoSuchElement, blockID, actionID)
			}
			val, err := e.normalize(values[blockID][actionID])
			if err != nil {
				s.mu.Unlock()
				return Reply{}, fmt.Errorf("fakeslack: submit view %s: %w", viewID, err)
			}
			staged[e] = val
		}
	}
	for e, val := range staged {
		v.setValue(e, val)
	}
	var missing []string
	for i := range els {
		e := &els[i]
		if e.blockType == "input" && !e.optional && e.empty(v.current(e)) {
			missing = append(missing, e.blockID)
		}
	}
	if len(missing) > 0 {
		s.broadcastLocked()
		s.mu.Unlock()
		return Reply{}, fmt.Errorf("fakeslack: submit view %s: %w: %s", viewID, ErrMissingInput, strings.Join(missing, ", "))
	}
	triggerID := s.triggerIDLocked(userID)
	payload := obj{
		"type":                  "view_submission",
		"team":                  obj{"id": s.opts.TeamID, "domain": s.opts.TeamDomain},
		"user":                  s.userPayloadLocked(userID),
		"api_app_id":            s.opts.AppID,
		"token":                 s.opts.VerificationToken,
		"trigger_id":            triggerID,
		"view":                  s.viewJSONLocked(v),
		"response_urls":         []obj{},
		"is_enterprise_install": false,
		"enterprise":            nil,
	}
	transport := s.transport
	s.broadcastLocked()
	s.mu.Unlock()

	reply, err := s.sendInteraction(ctx, transport, payload, triggerID)
	if err != nil {
		return reply, fmt.Errorf("fakeslack: submit view %s: %w", viewID, err)
	}
	s.applySubmission(userID, viewID, reply)
	return reply, nil
}

// applySubmission applies the app's answer to a view_submission.
func (s *Server) applySubmission(userID, viewID string, reply Reply) {
	if reply.Status != http.StatusOK {
		return
	}
	body := bytes.TrimSpace(reply.Body)
	if len(body) > 0 && !json.Valid(body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[viewID]
	if !ok || !v.Open {
		return
	}
	switch reply.ResponseAction {
	case "":
		s.closeModalLocked(userID, viewID)
	case "clear":
		s.closeStackLocked(userID)
	case "errors":
		v.Errors = maps.Clone(reply.Errors)
		v.UpdatedAt = s.now()
	case "update":
		def, errResp := parseViewDef(reply.View, ViewTypeModal)
		if errResp != nil || (def.ext != "" && !s.externalIDFreeLocked(def.ext, v.ID)) {
			return
		}
		s.replaceViewLocked(v, def)
	case "push":
		def, errResp := parseViewDef(reply.View, ViewTypeModal)
		if errResp != nil {
			return
		}
		_, _ = s.pushViewLocked(userID, def) // Over the limit Slack shows an error.
	default:
		return
	}
	s.broadcastLocked()
}

// SelectInView sets the element blockID/actionID of the view viewID (the
// top modal of userID or userID's Home tab) to optionValue as userID: it
// selects the option with that value in a select or radio buttons element,
// adds it to the selection of a multi-select or checkboxes element, picks
// the user, conversation, date or time, or types the text of a text input.
// The view keeps the value for later interactions and for
// [Server.SubmitView].
//
// As in Slack, the change is sent to the app as a block_actions interaction
// (container {"type":"view","view_id":…}, the view with its state, and the
// action with selected_option etc.) only when the element is in an actions
// block or a section accessory, or in an input block with dispatch_action;
// otherwise nothing is sent and the Reply is zero (Status 0). Errors wrap
// [ErrNoSuchView], [ErrNoSuchElement] or [ErrNoSuchOption].
func (s *Server) SelectInView(ctx context.Context, userID, viewID, blockID, actionID, optionValue string) (Reply, error) {
	s.mu.Lock()
	v, err := s.visibleViewLocked(userID, viewID)
	if err != nil {
		s.mu.Unlock()
		return Reply{}, fmt.Errorf("fakeslack: select in view %s: %w", viewID, err)
	}
	els := viewElements(v.Blocks)
	e := findElement(els, blockID, actionID)
	if e == nil {
		s.mu.Unlock()
		return Reply{}, fmt.Errorf("fakeslack: select in view %s: %w: %s/%s", viewID, ErrNoSuchElement, blockID, actionID)
	}
	val := ViewValue{Value: optionValue}
	if e.kind().multi {
		val = ViewValue{Values: v.current(e).Values}
		if !slices.Contains(val.Values, optionValue) {
			val.Values = append(slices.Clone(val.Values), optionValue)
		}
	}
	val, err = e.normalize(val)
	if err != nil {
		s.mu.Unlock()
		return Reply{}, fmt.Errorf("fakeslack: select in view %s: %w", viewID, err)
	}
	v.setValue(e, val)
	s.broadcastLocked()
	if e.blockType == "input" && !e.dispatch {
		s.mu.Unlock()
		return Reply{}, nil
	}
	action := e.valueJSON(val)
	action["action_id"] = actionID
	action["block_id"] = blockID
	action["action_ts"] = s.actionTSLocked()
	payload, triggerID := s.viewActionPayloadLocked(userID, v, action)
	transport := s.transport
	s.mu.Unlock()

	reply, err := s.sendInteraction(ctx, transport, payload, triggerID)
	if err != nil {
		return reply, fmt.Errorf("fakeslack: select in view %s: %w", viewID, err)
	}
	return reply, nil
}

// ClickInView clicks button b in the view viewID (the top modal of userID
// or userID's Home tab) as userID: a block_actions interaction with
// container {"type":"view","view_id":…} and the view object (type "modal"
// or "home", with its state), as Slack sends it. b need not be one of the
// view's buttons (see [ViewButtons]), which allows forging clicks. Such
// interactions carry no response_url. Errors wrap [ErrNoSuchView].
func (s *Server) ClickInView(ctx context.Context, userID, viewID string, b Button) (Reply, error) {
	s.mu.Lock()
	v, err := s.visibleViewLocked(userID, viewID)
	if err != nil {
		s.mu.Unlock()
		return Reply{}, fmt.Errorf("fakeslack: click %q in view %s: %w", b.ActionID, viewID, err)
	}
	payload, triggerID := s.viewActionPayloadLocked(userID, v, s.buttonActionLocked(b))
	transport := s.transport
	s.mu.Unlock()

	reply, err := s.sendInteraction(ctx, transport, payload, triggerID)
	if err != nil {
		return reply, fmt.Errorf("fakeslack: click %q in view %s: %w", b.ActionID, viewID, err)
	}
	return reply, nil
}

// viewActionPayloadLocked builds a block_actions payload for an action in
// v and returns it with its trigger_id.
func (s *Server) viewActionPayloadLocked(userID string, v *view, action obj) (obj, string) {
	triggerID := s.triggerIDLocked(userID)
	return obj{
		"type":                  "block_actions",
		"user":                  s.userPayloadLocked(userID),
		"api_app_id":            s.opts.AppID,
		"token":                 s.opts.VerificationToken,
		"container":             obj{"type": "view", "view_id": v.ID},
		"trigger_id":            triggerID,
		"team":                  obj{"id": s.opts.TeamID, "domain": s.opts.TeamDomain},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"view":                  s.viewJSONLocked(v),
		"actions":               []obj{action},
	}, triggerID
}

// CloseView closes the modal viewID (the top of userID's stack) as userID
// does with its close button: the view goes, returning to the one below it,
// or the whole stack goes when the view has clear_on_close. When the view
// has notify_on_close, a view_closed interaction (with the view and
// is_cleared, true when no modal is left) is sent and its Reply returned;
// otherwise nothing is sent and the Reply is zero. The modal closes whatever
// the app answers. Errors wrap [ErrNoSuchView].
func (s *Server) CloseView(ctx context.Context, userID, viewID string) (Reply, error) {
	s.mu.Lock()
	v, err := s.visibleViewLocked(userID, viewID)
	if err == nil && v.Type != ViewTypeModal {
		err = fmt.Errorf("%w: a %s view cannot be closed", ErrNoSuchView, v.Type)
	}
	if err != nil {
		s.mu.Unlock()
		return Reply{}, fmt.Errorf("fakeslack: close view %s: %w", viewID, err)
	}
	viewJSON := s.viewJSONLocked(v)
	if v.ClearOnClose {
		s.closeStackLocked(userID)
	} else {
		s.closeModalLocked(userID, viewID)
	}
	cleared := len(s.modalStacks[userID]) == 0
	s.broadcastLocked()
	if !v.NotifyOnClose {
		s.mu.Unlock()
		return Reply{}, nil
	}
	payload := obj{
		"type":                  "view_closed",
		"team":                  obj{"id": s.opts.TeamID, "domain": s.opts.TeamDomain},
		"user":                  s.userPayloadLocked(userID),
		"api_app_id":            s.opts.AppID,
		"token":                 s.opts.VerificationToken,
		"view":                  viewJSON,
		"is_cleared":            cleared,
		"is_enterprise_install": false,
		"enterprise":            nil,
	}
	transport := s.transport
	s.mu.Unlock()

	reply, err := s.sendInteraction(ctx, transport, payload, "")
	if err != nil {
		return reply, fmt.Errorf("fakeslack: close view %s: %w", viewID, err)
	}
	return reply, nil
}
