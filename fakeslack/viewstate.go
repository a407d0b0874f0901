package fakeslack

import (
	"encoding/json"
	"fmt"
	"slices"
)

// ViewValue is what a user entered in, or picked from, one element of a view
// (addressed by block_id and action_id), for [Server.SubmitView]. Its
// meaning follows the element's type:
//
//   - plain_text_input, email_text_input, url_text_input, number_input:
//     Value is the text typed;
//   - static_select, external_select, radio_buttons: Value is the value of
//     the selected option (its text is taken from the element's options);
//   - multi_static_select, multi_external_select, checkboxes: Values are the
//     values of the selected options;
//   - users_select, conversations_select, channels_select: Value is the
//     selected ID; their multi_ forms take Values;
//   - datepicker: Value is "2006-01-02"; timepicker: Value is "15:04".
//
// The zero ViewValue is an empty input or no selection. A single Value
// given to a multi-select element selects that one option, and a single
// entry in Values given to a single-valued element is its Value.
type ViewValue struct {
	Value  string
	Values []string
}

func (v ViewValue) clone() ViewValue {
	v.Values = slices.Clone(v.Values)
	return v
}

// elementKind describes how a stateful element's value appears in
// state.values and block_actions.
type elementKind struct {
	field  string // the value's key: "value", "selected_option", …
	multi  bool   // the value is a list
	option bool   // the value is an option object (or a list of them)
}

// statefulElements are the element types whose values Slack reports in
// state.values.
var statefulElements = map[string]elementKind{
	"plain_text_input":           {field: "value"},
	"email_text_input":           {field: "value"},
	"url_text_input":             {field: "value"},
	"number_input":               {field: "value"},
	"static_select":              {field: "selected_option", option: true},
	"external_select":            {field: "selected_option", option: true},
	"radio_buttons":              {field: "selected_option", option: true},
	"multi_static_select":        {field: "selected_options", multi: true, option: true},
	"multi_external_select":      {field: "selected_options", multi: true, option: true},
	"checkboxes":                 {field: "selected_options", multi: true, option: true},
	"users_select":               {field: "selected_user"},
	"multi_users_select":         {field: "selected_users", multi: true},
	"conversations_select":       {field: "selected_conversation"},
	"multi_conversations_select": {field: "selected_conversations", multi: true},
	"channels_select":            {field: "selected_channel"},
	"multi_channels_select":      {field: "selected_channels", multi: true},
	"datepicker":                 {field: "selected_date"},
	"timepicker":                 {field: "selected_time"},
}

// optionJSON is an option object.
type optionJSON struct {
	Text  json.RawMessage `json:"text"`
	Value string          `json:"value"`
}

// inputElementJSON is the subset of a stateful element that is inspected.
type inputElementJSON struct {
	Type         string       `json:"type"`
	ActionID     string       `json:"action_id"`
	Options      []optionJSON `json:"options"`
	OptionGroups []struct {
		Options []optionJSON `json:"options"`
	} `json:"option_groups"`
	InitialValue         json.RawMessage `json:"initial_value"`
	InitialOption        *optionJSON     `json:"initial_option"`
	InitialOptions       []optionJSON    `json:"initial_options"`
	InitialUser          string          `json:"initial_user"`
	InitialUsers         []string        `json:"initial_users"`
	InitialConversation  string          `json:"initial_conversation"`
	InitialConversations []string        `json:"initial_conversations"`
	InitialChannel       string          `json:"initial_channel"`
	InitialChannels      []string        `json:"initial_channels"`
	InitialDate          string          `json:"initial_date"`
	InitialTime          string          `json:"initial_time"`
}

// viewBlockJSON is the subset of a view block that holds elements.
type viewBlockJSON struct {
	Type           string            `json:"type"`
	BlockID        string            `json:"block_id"`
	Element        json.RawMessage   `json:"element"`
	Elements       []json.RawMessage `json:"elements"`
	Accessory      json.RawMessage   `json:"accessory"`
	Optional       bool              `json:"optional"`
	DispatchAction bool              `json:"dispatch_action"`
}

// viewElement is a stateful element of a view with its block.
type viewElement struct {
	blockID   string
	blockType string // "input", "actions" or "section"
	optional  bool   // input blocks only
	dispatch  bool   // input blocks only: dispatch_action
	el        inputElementJSON
}

// viewElements returns the addressable stateful elements of blocks: those
// of input blocks, actions blocks and section accessories that have both a
// block_id and an action_id.
func viewElements(blocks json.RawMessage) []viewElement {
	var bs []viewBlockJSON
	if len(blocks) == 0 || json.Unmarshal(blocks, &bs) != nil {
		return nil
	}
	var out []viewElement
	for _, b := range bs {
		var raws []json.RawMessage
		switch b.Type {
		case "input":
			raws = []json.RawMessage{b.Element}
		case "actions":
			raws = b.Elements
		case "section":
			raws = []json.RawMessage{b.Accessory}
		}
		for _, raw := range raws {
			var el inputElementJSON
			if len(raw) == 0 || json.Unmarshal(raw, &el) != nil {
				continue
			}
			if _, ok := statefulElements[el.Type]; !ok || b.BlockID == "" || el.ActionID == "" {
				continue
			}
			out = append(out, viewElement{
				blockID:   b.BlockID,
				blockType: b.Type,
				optional:  b.Optional,
				dispatch:  b.DispatchAction,
				el:        el,
			})
		}
	}
	return out
}

// findElement returns the element with blockID and actionID, or nil.
func findElement(els []viewElement, blockID, actionID string) *viewElement {
	for i := range els {
		if els[i].blockID == blockID && els[i].el.ActionID == actionID {
			return &els[i]
		}
	}
	return nil
}

func (e *viewElement) kind() elementKind { return statefulElements[e.el.Type] }

// options returns the element's listed options, including grouped ones.
func (e *viewElement) options() []optionJSON {
	out := slices.Clone(e.el.Options)
	for _, g := range e.el.OptionGroups {
		out = append(out, g.Options...)
	}
	return out
}

// initial returns the element's initial value.
func (e *viewElement) initial() ViewValue {
	el := e.el
	var v ViewValue
	switch e.kind().field {
	case "value":
		_ = json.Unmarshal(el.InitialValue, &v.Value) // Absent or not a string: none.
	case "selected_option":
		if el.InitialOption != nil {
			v.Value = el.InitialOption.Value
		}
	case "selected_options":
		for _, o := range el.InitialOptions {
			v.Values = append(v.Values, o.Value)
		}
	case "selected_user":
		v.Value = el.InitialUser
	case "selected_users":
		v.Values = slices.Clone(el.InitialUsers)
	case "selected_conversation":
		v.Value = el.InitialConversation
	case "selected_conversations":
		v.Values = slices.Clone(el.InitialConversations)
	case "selected_channel":
		v.Value = el.InitialChannel
	case "selected_channels":
		v.Values = slices.Clone(el.InitialChannels)
	case "selected_date":
		v.Value = el.InitialDate
	case "selected_time":
		v.Value = el.InitialTime
	}
	return v
}

// normalize fits val to the element's kind and checks options.
func (e *viewElement) normalize(val ViewValue) (ViewValue, error) {
	val = val.clone()
	k := e.kind()
	if k.multi {
		if len(val.Values) == 0 && val.Value != "" {
			val.Values = []string{val.Value}
		}
		val.Value = ""
	} else {
		if val.Value == "" && len(val.Values) == 1 {
			val.Value = val.Values[0]
		}
		val.Values = nil
	}
	opts := e.options()
	if !k.option || len(opts) == 0 {
		return val, nil
	}
	chosen := val.Values
	if !k.multi && val.Value != "" {
		chosen = []string{val.Value}
	}
	for _, c := range chosen {
		if !slices.ContainsFunc(opts, func(o optionJSON) bool { return o.Value == c }) {
			return ViewValue{}, fmt.Errorf("%w: %q in %s/%s", ErrNoSuchOption, c, e.blockID, e.el.ActionID)
		}
	}
	return val, nil
}

// empty reports whether val is no input for the element.
func (e *viewElement) empty(val ViewValue) bool {
	if e.kind().multi {
		return len(val.Values) == 0
	}
	return val.Value == ""
}

// optionObject renders the option with value, taking its text from the
// element's options (or the value itself, for external selects).
func (e *viewElement) optionObject(value string) obj {
	for _, o := range e.options() {
		if o.Value == value && len(o.Text) > 0 {
			return obj{"text": o.Text, "value": value}
		}
	}
	return obj{"text": obj{"type": "plain_text", "text": value, "emoji": true}, "value": value}
}

// valueJSON renders val as Slack does in state.values and block_actions:
// {"type": …, <field>: …}.
func (e *viewElement) valueJSON(val ViewValue) obj {
	k := e.kind()
	o := obj{"type": e.el.Type}
	switch {
	case k.option && k.multi:
		opts := make([]obj, 0, len(val.Values))
		for _, v := range val.Values {
			opts = append(opts, e.optionObject(v))
		}
		o[k.field] = opts
	case k.option:
		if val.Value == "" {
			o[k.field] = nil
		} else {
			o[k.field] = e.optionObject(val.Value)
		}
	case k.multi:
		o[k.field] = append([]string{}, val.Values...)
	case val.Value == "":
		o[k.field] = nil
	default:
		o[k.field] = val.Value
	}
	return o
}

// current returns what the element of v holds: the user's input, or the
// initial value.
func (v *view) current(e *viewElement) ViewValue {
	if val, ok := v.state[e.blockID][e.el.ActionID]; ok {
		return val
	}
	return e.initial()
}

// setValue records the user's input for an element of v.
func (v *view) setValue(e *viewElement, val ViewValue) {
	if v.state[e.blockID] == nil {
		v.state[e.blockID] = make(map[string]ViewValue)
	}
	v.state[e.blockID][e.el.ActionID] = val
}

// stateValues renders state.values: every addressable stateful element
// with the user's input or its initial value.
func (v *view) stateValues() obj {
	values := obj{}
	for _, e := range viewElements(v.Blocks) {
		byAction, ok := values[e.blockID].(obj)
		if !ok {
			byAction = obj{}
			values[e.blockID] = byAction
		}
		byAction[e.el.ActionID] = e.valueJSON(v.current(&e))
	}
	return values
}
