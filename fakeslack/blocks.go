package fakeslack

import (
	"encoding/json"
	"strings"
)

// Button is a Block Kit button element found in a message.
type Button struct {
	// BlockID is the block_id of the enclosing actions or section block
	// (empty if the block has none).
	BlockID  string
	ActionID string
	// Text is the button label.
	Text  string
	Value string
	// Style is "primary", "danger" or empty.
	Style string
}

// blockJSON is the subset of a Block Kit block that is inspected.
type blockJSON struct {
	Type      string            `json:"type"`
	BlockID   string            `json:"block_id"`
	Text      json.RawMessage   `json:"text"`
	Fields    []json.RawMessage `json:"fields"`
	Accessory *elementJSON      `json:"accessory"`
	Elements  []json.RawMessage `json:"elements"`
	// Label and Hint are the texts of input blocks.
	Label json.RawMessage `json:"label"`
	Hint  json.RawMessage `json:"hint"`
}

// elementJSON is the subset of a block element or composition object that is
// inspected. Text is a text object for buttons and a string for context
// text elements.
type elementJSON struct {
	Type     string          `json:"type"`
	ActionID string          `json:"action_id"`
	Text     json.RawMessage `json:"text"`
	Value    string          `json:"value"`
	Style    string          `json:"style"`
}

// decodeBlocks parses a Block Kit array, or an object with a "blocks" array.
func decodeBlocks(raw json.RawMessage) []blockJSON {
	if len(raw) == 0 {
		return nil
	}
	var blocks []blockJSON
	if err := json.Unmarshal(raw, &blocks); err == nil {
		return blocks
	}
	var wrapped struct {
		Blocks []blockJSON `json:"blocks"`
	}
	if err := json.Unmarshal(raw, &wrapped); err == nil {
		return wrapped.Blocks
	}
	return nil
}

// textOf returns the text of a text field that is either a string or a text
// object ({"type":"plain_text","text":"…"}).
func textOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str
	}
	var t struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &t) == nil {
		return t.Text
	}
	return ""
}

func decodeElement(raw json.RawMessage) (elementJSON, bool) {
	var el elementJSON
	err := json.Unmarshal(raw, &el)
	return el, err == nil
}

// Buttons returns the buttons of m, in block order: elements of actions
// blocks and accessories of section blocks. Malformed blocks yield none.
func Buttons(m Message) []Button {
	var out []Button
	for _, b := range decodeBlocks(m.Blocks) {
		switch b.Type {
		case "actions":
			for _, raw := range b.Elements {
				if el, ok := decodeElement(raw); ok && el.Type == "button" {
					out = append(out, el.button(b.BlockID))
				}
			}
		case "section":
			if b.Accessory != nil && b.Accessory.Type == "button" {
				out = append(out, b.Accessory.button(b.BlockID))
			}
		}
	}
	return out
}

func (el elementJSON) button(blockID string) Button {
	return Button{BlockID: blockID, ActionID: el.ActionID, Text: textOf(el.Text), Value: el.Value, Style: el.Style}
}

// PlainText returns the message text followed by every text in its blocks
// (header and section text, section fields, context text elements, markdown
// and rich text, button labels), one per line, for assertions.
func PlainText(m Message) string {
	var parts []string
	if m.Text != "" {
		parts = append(parts, m.Text)
	}
	return strings.Join(appendBlocksText(parts, m.Blocks, false), "\n")
}

// ViewButtons returns the buttons of a view's blocks, like [Buttons] does for
// a message. Click them with [Server.ClickInView].
func ViewButtons(v View) []Button {
	return Buttons(Message{Blocks: v.Blocks})
}

// ViewText returns the view's title followed by every text in its blocks, as
// [PlainText] finds them, plus the labels and hints of input blocks, one per
// line, for assertions.
func ViewText(v View) string {
	var parts []string
	if v.Title != "" {
		parts = append(parts, v.Title)
	}
	return strings.Join(appendBlocksText(parts, v.Blocks, true), "\n")
}

// appendBlocksText appends the non-empty texts of blocks to parts; inputs
// adds the labels and hints of input blocks.
func appendBlocksText(parts []string, blocks json.RawMessage, inputs bool) []string {
	add := func(s string) {
		if s != "" {
			parts = append(parts, s)
		}
	}
	for _, b := range decodeBlocks(blocks) {
		switch b.Type {
		case "header", "section", "markdown":
			add(textOf(b.Text))
			for _, f := range b.Fields {
				add(textOf(f))
			}
			if b.Accessory != nil && b.Accessory.Type == "button" {
				add(textOf(b.Accessory.Text))
			}
		case "context", "actions":
			for _, raw := range b.Elements {
				el, ok := decodeElement(raw)
				if !ok {
					continue
				}
				switch el.Type {
				case "mrkdwn", "plain_text", "button":
					add(textOf(el.Text))
				}
			}
		case "rich_text":
			for _, raw := range b.Elements {
				add(richText(raw))
			}
		case "input":
			if inputs {
				add(textOf(b.Label))
				add(textOf(b.Hint))
			}
		}
	}
	return parts
}

// richText returns the text of a rich text element: leaf texts of a section
// concatenated, list items one per line.
func richText(raw json.RawMessage) string {
	var el struct {
		Type     string            `json:"type"`
		Text     string            `json:"text"`
		URL      string            `json:"url"`
		Elements []json.RawMessage `json:"elements"`
	}
	if json.Unmarshal(raw, &el) != nil {
		return ""
	}
	switch {
	case el.Text != "":
		return el.Text
	case el.Type == "link":
		return el.URL
	}
	sep := ""
	if el.Type == "rich_text_list" {
		sep = "\n"
	}
	children := make([]string, 0, len(el.Elements))
	for _, child := range el.Elements {
		children = append(children, richText(child))
	}
	return strings.Join(children, sep)
}
