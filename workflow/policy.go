package workflow

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatepass/gatepass/tokens"
	"go.yaml.in/yaml/v3"
)

// Policy is the parsed policy file: where approvals go, who may introspect,
// and for each resource who approves which level for how long.
type Policy struct {
	ApproverChannel   string
	AnnounceChannel   string // defaults to ApproverChannel
	MinDuration       time.Duration
	PendingTimeout    time.Duration
	IntrospectionKeys []tokens.Client
	Resources         map[string]*Resource
}

// Resource is something access can be granted to, such as a database.
type Resource struct {
	Name          string
	Description   string
	Approvers     []string // Slack user IDs (U…, W…) and user-group IDs (S…)
	TicketPattern *regexp.Regexp
	BreakGlass    bool
	Levels        map[string]Level
}

// Level is one kind of access to a resource, such as read or write.
type Level struct {
	Name        string
	MaxDuration time.Duration
	Approvals   int // distinct approvers needed
}

// Policy defaults.
const (
	DefaultMinDuration    = time.Minute
	DefaultPendingTimeout = 30 * time.Minute
)

// ResourceNames returns the resources' names, sorted.
func (p *Policy) ResourceNames() []string {
	names := make([]string, 0, len(p.Resources))
	for n := range p.Resources {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// LevelNames returns the resource's level names, sorted.
func (r *Resource) LevelNames() []string {
	names := make([]string, 0, len(r.Levels))
	for n := range r.Levels {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// reservedNames are words the /access command uses; no resource may take them.
// They are every word ParseCommand (in package bot) treats as a command.
var reservedNames = []string{"help", "usage", "list", "ls", "revoke", "break-glass", "breakglass", "break_glass"}

var (
	nameRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	approverRE = regexp.MustCompile(`^[UWS][A-Z0-9]{2,}$`)
	hexKeyRE   = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// LoadPolicy reads and validates the policy file at path. Warnings are
// problems that do not stop gatepass (such as keys it does not know).
func LoadPolicy(path string) (p *Policy, warnings []string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read policy file: %w", err)
	}
	return ParsePolicy(path, data)
}

// ParsePolicy validates a policy file's contents. name is used in messages,
// which read "name:line: key.path: what is wrong". All faults are reported
// together.
func ParsePolicy(name string, data []byte) (*Policy, []string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	pp := &policyParser{file: name}
	p := pp.parse(&doc)
	if len(pp.errs) > 0 {
		return nil, pp.warns, errors.Join(pp.errs...)
	}
	return p, pp.warns, nil
}

type policyParser struct {
	file  string
	errs  []error
	warns []string
}

func (pp *policyParser) fail(n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		pp.errs = append(pp.errs, fmt.Errorf("%s:%d: %s: %s", pp.file, line, key, msg))
		return
	}
	pp.errs = append(pp.errs, fmt.Errorf("%s: %s: %s", pp.file, key, msg))
}

func (pp *policyParser) warn(n *yaml.Node, key, format string, args ...any) {
	pp.warns = append(pp.warns, fmt.Sprintf("%s:%d: %s: %s", pp.file, n.Line, key, fmt.Sprintf(format, args...)))
}

// pairs returns a mapping node's key/value pairs, reporting other shapes.
func (pp *policyParser) pairs(n *yaml.Node, key string) [][2]*yaml.Node {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		pp.fail(n, key, "must be a mapping of keys to values, got %s", describe(n))
		return nil
	}
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if seen[k.Value] {
			pp.fail(k, join(key, k.Value), "appears twice")
			continue
		}
		seen[k.Value] = true
		out = append(out, [2]*yaml.Node{k, n.Content[i+1]})
	}
	return out
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	default:
		return "something else"
	}
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func (pp *policyParser) str(n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		pp.fail(n, key, "must be a single value, got %s", describe(n))
		return "", false
	}
	return strings.TrimSpace(n.Value), true
}

func (pp *policyParser) duration(n *yaml.Node, key string) (time.Duration, bool) {
	s, ok := pp.str(n, key)
	if !ok {
		return 0, false
	}
	d, err := ParseDuration(s)
	if err != nil {
		pp.fail(n, key, "%v", err)
		return 0, false
	}
	if d%time.Second != 0 {
		pp.fail(n, key, "must be whole seconds, got %s", s)
		return 0, false
	}
	return d, true
}

func (pp *policyParser) boolean(n *yaml.Node, key string) (bool, bool) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		pp.fail(n, key, "must be true or false, got %s", describe(n))
		return false, false
	}
	return b, true
}

func (pp *policyParser) parse(doc *yaml.Node) *Policy {
	p := &Policy{MinDuration: DefaultMinDuration, PendingTimeout: DefaultPendingTimeout, Resources: map[string]*Resource{}}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		pp.fail(nil, "approver_channel", "missing (the file is empty)")
		return p
	}
	var resourcesNode, approverNode *yaml.Node
	for _, kv := range pp.pairs(doc.Content[0], "") {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "approver_channel":
			approverNode = v
			p.ApproverChannel, _ = pp.str(v, k.Value)
		case "announce_channel":
			p.AnnounceChannel, _ = pp.str(v, k.Value)
		case "min_duration":
			if d, ok := pp.duration(v, k.Value); ok {
				p.MinDuration = d
			}
		case "pending_timeout":
			if d, ok := pp.duration(v, k.Value); ok {
				p.PendingTimeout = d
			}
		case "introspection_keys":
			p.IntrospectionKeys = pp.keys(v, k.Value)
		case "resources":
			resourcesNode = v
		default:
			pp.warn(k, k.Value, "unknown key, ignored")
		}
	}
	if p.ApproverChannel == "" && approverNode == nil {
		pp.fail(doc.Content[0], "approver_channel", "missing: name the Slack channel ID where approval requests go")
	} else if p.ApproverChannel == "" {
		pp.fail(approverNode, "approver_channel", "must not be empty")
	}
	if p.AnnounceChannel == "" {
		p.AnnounceChannel = p.ApproverChannel
	}
	if resourcesNode == nil {
		pp.fail(doc.Content[0], "resources", "missing: name at least one resource")
		return p
	}
	for _, kv := range pp.pairs(resourcesNode, "resources") {
		if r := pp.resource(kv[0], kv[1], p.MinDuration); r != nil {
			p.Resources[r.Name] = r
		}
	}
	if len(p.Resources) == 0 && len(pp.errs) == 0 {
		pp.fail(resourcesNode, "resources", "name at least one resource")
	}
	return p
}

func (pp *policyParser) keys(n *yaml.Node, key string) []tokens.Client {
	if n.Kind != yaml.SequenceNode {
		pp.fail(n, key, "must be a list of {name, key} or {name, key_sha256}, got %s", describe(n))
		return nil
	}
	var out []tokens.Client
	names := map[string]bool{}
	for i, item := range n.Content {
		ikey := fmt.Sprintf("%s[%d]", key, i)
		var c tokens.Client
		var haveKey, haveHash bool
		for _, kv := range pp.pairs(item, ikey) {
			k, v := kv[0], kv[1]
			fkey := join(ikey, k.Value)
			switch k.Value {
			case "name":
				c.Name, _ = pp.str(v, fkey)
			case "key":
				s, ok := pp.str(v, fkey)
				if !ok {
					continue
				}
				if s == "" {
					pp.fail(v, fkey, "must not be empty")
					continue
				}
				if len(s) < 16 {
					pp.warn(v, fkey, "shorter than 16 characters; use a long random key")
				}
				haveKey = true
				c.KeySHA256 = sha256.Sum256([]byte(s))
			case "key_sha256":
				s, ok := pp.str(v, fkey)
				if !ok {
					continue
				}
				if !hexKeyRE.MatchString(s) {
					pp.fail(v, fkey, "must be 64 hexadecimal characters (the SHA-256 of the key)")
					continue
				}
				h, _ := tokens.ParseHash(strings.ToLower(s))
				haveHash = true
				c.KeySHA256 = h
			default:
				pp.warn(k, fkey, "unknown key, ignored")
			}
		}
		switch {
		case c.Name == "":
			pp.fail(item, join(ikey, "name"), "missing: name who uses this key")
		case names[c.Name]:
			pp.fail(item, join(ikey, "name"), "%q is used twice", c.Name)
		}
		names[c.Name] = true
		if haveKey == haveHash {
			pp.fail(item, ikey, "give exactly one of key or key_sha256")
			continue
		}
		out = append(out, c)
	}
	return out
}

func (pp *policyParser) resource(k, v *yaml.Node, minDuration time.Duration) *Resource {
	key := "resources." + k.Value
	r := &Resource{Name: k.Value, Levels: map[string]Level{}}
	ok := true
	if !nameRE.MatchString(r.Name) {
		pp.fail(k, key, "resource names use letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit")
		ok = false
	} else if slices.Contains(reservedNames, strings.ToLower(r.Name)) {
		pp.fail(k, key, "%q is an /access command word; choose another name", r.Name)
		ok = false
	}
	var levelsNode, approversNode *yaml.Node
	for _, kv := range pp.pairs(v, key) {
		fk, fv := kv[0], kv[1]
		fkey := join(key, fk.Value)
		switch fk.Value {
		case "description":
			r.Description, _ = pp.str(fv, fkey)
		case "approvers":
			approversNode = fv
			r.Approvers = pp.approvers(fv, fkey)
		case "ticket_pattern":
			s, good := pp.str(fv, fkey)
			if !good {
				ok = false
				continue
			}
			re, err := regexp.Compile(s)
			if err != nil {
				pp.fail(fv, fkey, "not a valid regular expression: %v", err)
				ok = false
				continue
			}
			r.TicketPattern = re
		case "break_glass":
			r.BreakGlass, _ = pp.boolean(fv, fkey)
		case "levels":
			levelsNode = fv
		default:
			pp.warn(fk, fkey, "unknown key, ignored")
		}
	}
	if approversNode == nil || len(r.Approvers) == 0 {
		at := approversNode
		if at == nil {
			at = v
		}
		pp.fail(at, join(key, "approvers"), "no approvers: list at least one Slack user ID (U…) or user-group ID (S…)")
		ok = false
	}
	if levelsNode == nil {
		pp.fail(v, join(key, "levels"), "missing: define at least one level, such as read: {max_duration: 4h, approvals: 1}")
		return nil
	}
	lkey := join(key, "levels")
	for _, kv := range pp.pairs(levelsNode, lkey) {
		l, good := pp.level(kv[0], kv[1], lkey, minDuration, r.Approvers)
		if good {
			r.Levels[l.Name] = l
		} else {
			ok = false
		}
	}
	if len(r.Levels) == 0 && ok {
		pp.fail(levelsNode, lkey, "define at least one level")
		ok = false
	}
	if !ok {
		return nil
	}
	return r
}

func (pp *policyParser) approvers(n *yaml.Node, key string) []string {
	if n.Kind != yaml.SequenceNode {
		pp.fail(n, key, "must be a list of Slack user IDs (U…) or user-group IDs (S…), got %s", describe(n))
		return nil
	}
	var out []string
	for i, item := range n.Content {
		ikey := fmt.Sprintf("%s[%d]", key, i)
		s, ok := pp.str(item, ikey)
		if !ok {
			continue
		}
		if !approverRE.MatchString(s) {
			pp.fail(item, ikey, "%q is not a Slack user ID (U…, W…) or user-group ID (S…)", s)
			continue
		}
		if slices.Contains(out, s) {
			pp.fail(item, ikey, "%s is listed twice", s)
			continue
		}
		out = append(out, s)
	}
	return out
}

func (pp *policyParser) level(k, v *yaml.Node, parent string, minDuration time.Duration, approvers []string) (Level, bool) {
	key := join(parent, k.Value)
	l := Level{Name: k.Value, Approvals: 1}
	ok := true
	if !nameRE.MatchString(l.Name) {
		pp.fail(k, key, "level names use letters, digits, '.', '_' and '-', starting with a letter or digit")
		ok = false
	}
	if v.Kind != yaml.MappingNode {
		pp.fail(v, key, "a level must be a mapping such as {max_duration: 1h, approvals: 1}, got %s", describe(v))
		return l, false
	}
	haveMax := false
	for _, kv := range pp.pairs(v, key) {
		fk, fv := kv[0], kv[1]
		fkey := join(key, fk.Value)
		switch fk.Value {
		case "max_duration":
			d, good := pp.duration(fv, fkey)
			if !good {
				ok = false
				continue
			}
			if d < minDuration {
				pp.fail(fv, fkey, "%s is shorter than min_duration (%s): no request could fit", FormatDuration(d), FormatDuration(minDuration))
				ok = false
				continue
			}
			l.MaxDuration, haveMax = d, true
		case "approvals":
			s, good := pp.str(fv, fkey)
			if !good {
				ok = false
				continue
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				pp.fail(fv, fkey, "must be a whole number, got %q", s)
				ok = false
				continue
			}
			if n < 1 {
				pp.fail(fv, fkey, "must be at least 1, got %d", n)
				ok = false
				continue
			}
			users := 0
			groups := false
			for _, a := range approvers {
				if strings.HasPrefix(a, "S") {
					groups = true
				} else {
					users++
				}
			}
			if !groups && len(approvers) > 0 && n > users {
				pp.fail(fv, fkey, "needs %d approvals but the resource lists only %d approver(s)", n, users)
				ok = false
				continue
			}
			l.Approvals = n
		default:
			pp.fail(fk, fkey, "unknown level key; a level has max_duration and approvals")
			ok = false
		}
	}
	if !haveMax && ok {
		pp.fail(v, join(key, "max_duration"), "missing: how long a grant of this level may last, such as 1h")
		ok = false
	}
	return l, ok
}
