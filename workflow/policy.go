package workflow

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/url"
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

	// TicketURL links tickets: "{ticket}" is replaced by the URL-escaped
	// ticket. Resources may override it. Empty: tickets are plain text.
	TicketURL string
	// WarnBefore: a grant longer than this is announced to its requester
	// this long before it expires, with an offer to extend (0: never).
	WarnBefore time.Duration
	// PendingReminder: approvers are reminded once of a request still
	// pending this long after it was made (0: never).
	PendingReminder time.Duration
	// ReviewReminder: approvers are reminded of an unreviewed break-glass
	// grant at this interval until someone reviews it (0: never).
	ReviewReminder time.Duration
	// Retention: ended requests older than this are pruned, with the
	// oldest part of the audit log (0: keep everything).
	Retention time.Duration
	// TokenDeliveryTimeout: a grant whose token has not reached its
	// requester this long after it was issued ends as failed, so no grant
	// stays live with a token nobody holds.
	TokenDeliveryTimeout time.Duration
}

// Resource is something access can be granted to, such as a database.
type Resource struct {
	Name          string
	Description   string
	Approvers     []string // Slack user IDs (U…, W…) and user-group IDs (S…)
	TicketPattern *regexp.Regexp
	TicketURL     string // overrides the policy's
	BreakGlass    bool
	// BreakGlassUsers may break glass here (user IDs and user-group IDs);
	// empty: anyone.
	BreakGlassUsers []string
	// BreakGlassMaxDuration bounds break-glass grants (0: the level's
	// max_duration).
	BreakGlassMaxDuration time.Duration
	Levels                map[string]Level
	// Provider hands out a real credential with each grant; nil: the
	// gatepass token alone.
	Provider *ProviderConfig
}

// TicketLink returns the URL of a ticket, or "" when the resource has no
// ticket_url.
func (p *Policy) TicketLink(resource, ticket string) string {
	tmpl := p.TicketURL
	if r, ok := p.Resources[resource]; ok && r.TicketURL != "" {
		tmpl = r.TicketURL
	}
	if tmpl == "" || ticket == "" {
		return ""
	}
	// In the query, a ticket must not add parameters; in the path, it
	// must not add segments.
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "{ticket}")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:i])
		if strings.ContainsAny(b.String(), "?#") {
			b.WriteString(strings.ReplaceAll(url.QueryEscape(ticket), "+", "%20"))
		} else {
			b.WriteString(url.PathEscape(ticket))
		}
		tmpl = tmpl[i+len("{ticket}"):]
	}
}

// Level is one kind of access to a resource, such as read or write.
type Level struct {
	Name        string
	MaxDuration time.Duration
	Approvals   int // distinct approvers needed
	// Roles are the database roles a postgres provider grants.
	Roles []string
	// Methods are the HTTP methods an http_proxy provider lets through.
	Methods []string
}

// Policy defaults.
const (
	DefaultMinDuration          = time.Minute
	DefaultPendingTimeout       = 30 * time.Minute
	DefaultWarnBefore           = 5 * time.Minute
	DefaultReviewReminder       = 4 * time.Hour
	DefaultTokenDeliveryTimeout = 10 * time.Minute
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
var reservedNames = []string{"help", "usage", "list", "ls", "revoke", "break-glass", "breakglass", "break_glass",
	"cancel", "extend", "reviews", "history", "audit"}

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

// interval reads a duration that may be 0 (a feature turned off).
func (pp *policyParser) interval(n *yaml.Node, key string) (time.Duration, bool) {
	s, ok := pp.str(n, key)
	if !ok {
		return 0, false
	}
	if s == "0" || s == "0s" || s == "0m" || s == "0h" || s == "0d" {
		return 0, true
	}
	return pp.duration(n, key)
}

func (pp *policyParser) ticketURL(n *yaml.Node, key string) string {
	s, ok := pp.str(n, key)
	if !ok {
		return ""
	}
	u, err := url.Parse(strings.ReplaceAll(s, "{ticket}", "T"))
	switch {
	case !strings.Contains(s, "{ticket}"):
		pp.fail(n, key, "must contain {ticket}, where the ticket goes, as in https://tracker.example/browse/{ticket}")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		pp.fail(n, key, "must be an http:// or https:// URL, got %q", s)
	default:
		return s
	}
	return ""
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
	p := &Policy{MinDuration: DefaultMinDuration, PendingTimeout: DefaultPendingTimeout, Resources: map[string]*Resource{},
		WarnBefore: DefaultWarnBefore, ReviewReminder: DefaultReviewReminder, TokenDeliveryTimeout: DefaultTokenDeliveryTimeout}
	reminderSet := false
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
		case "ticket_url":
			p.TicketURL = pp.ticketURL(v, k.Value)
		case "warn_before":
			if d, ok := pp.interval(v, k.Value); ok {
				p.WarnBefore = d
			}
		case "pending_reminder":
			if d, ok := pp.interval(v, k.Value); ok {
				p.PendingReminder, reminderSet = d, true
			}
		case "review_reminder":
			if d, ok := pp.interval(v, k.Value); ok {
				p.ReviewReminder = d
			}
		case "retention":
			if d, ok := pp.interval(v, k.Value); ok {
				p.Retention = d
			}
		case "token_delivery_timeout":
			if d, ok := pp.duration(v, k.Value); ok {
				p.TokenDeliveryTimeout = d
			}
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
	if !reminderSet {
		p.PendingReminder = p.PendingTimeout / 2
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
		case "break_glass_users":
			r.BreakGlassUsers = pp.approvers(fv, fkey)
		case "break_glass_max_duration":
			// 0 leaves break-glass to the level's max_duration, as unset.
			if d, good := pp.interval(fv, fkey); good {
				r.BreakGlassMaxDuration = d
			} else {
				ok = false
			}
		case "ticket_url":
			r.TicketURL = pp.ticketURL(fv, fkey)
		case "provider":
			r.Provider = pp.provider(fv, fkey)
			if r.Provider == nil {
				ok = false
			}
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
		l, good := pp.level(kv[0], kv[1], lkey, minDuration, r.Approvers, r.Provider)
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
	return pp.names(n, key, approverRE, "Slack user IDs (U…) or user-group IDs (S…)", "a Slack user ID (U…, W…) or user-group ID (S…)")
}

func (pp *policyParser) level(k, v *yaml.Node, parent string, minDuration time.Duration, approvers []string, prov *ProviderConfig) (Level, bool) {
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
		case "roles":
			if prov == nil || prov.Kind != ProviderPostgres {
				pp.fail(fk, fkey, "roles apply only to a resource with a postgres provider")
				ok = false
				continue
			}
			l.Roles = pp.names(fv, fkey, roleRE, "PostgreSQL role names", "a PostgreSQL role name (letters, digits and '_', at most 63)")
		case "methods":
			if prov == nil || prov.Kind != ProviderHTTPProxy {
				pp.fail(fk, fkey, "methods apply only to a resource with an http_proxy provider")
				ok = false
				continue
			}
			l.Methods = pp.names(fv, fkey, methodRE, "HTTP methods such as GET, HEAD, POST", "an HTTP method such as GET")
			for i, m := range l.Methods {
				l.Methods[i] = strings.ToUpper(m)
			}
		default:
			pp.fail(fk, fkey, "unknown level key; a level has max_duration and approvals (and roles or methods, for providers)")
			ok = false
		}
	}
	if !haveMax && ok {
		pp.fail(v, join(key, "max_duration"), "missing: how long a grant of this level may last, such as 1h")
		ok = false
	}
	if ok && prov != nil && prov.Kind == ProviderPostgres && len(l.Roles) == 0 {
		pp.fail(v, join(key, "roles"), "missing: the database roles a grant of this level joins, such as [app_read]")
		ok = false
	}
	if ok && prov != nil && prov.Kind == ProviderHTTPProxy && len(l.Methods) == 0 {
		l.Methods = []string{"GET", "HEAD"}
	}
	return l, ok
}

var (
	roleRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
	methodRE   = regexp.MustCompile(`^[A-Za-z]{1,16}$`)
	envNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// names reads a list of distinct names matching re; list and one
// describe them in errors ("HTTP methods such as GET", "an HTTP method").
func (pp *policyParser) names(n *yaml.Node, key string, re *regexp.Regexp, list, one string) []string {
	if n.Kind != yaml.SequenceNode {
		pp.fail(n, key, "must be a list of %s, got %s", list, describe(n))
		return nil
	}
	var out []string
	for i, item := range n.Content {
		ikey := fmt.Sprintf("%s[%d]", key, i)
		s, ok := pp.str(item, ikey)
		if !ok {
			continue
		}
		if !re.MatchString(s) {
			pp.fail(item, ikey, "%q is not %s", s, one)
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

// provider reads a resource's provider block: exactly one of postgres,
// http_proxy or webhook.
func (pp *policyParser) provider(n *yaml.Node, key string) *ProviderConfig {
	kvs := pp.pairs(n, key)
	if len(kvs) != 1 {
		if len(kvs) > 1 || n.Kind == yaml.MappingNode {
			pp.fail(n, key, "name exactly one provider: postgres, http_proxy or webhook")
		}
		return nil
	}
	k, v := kvs[0][0], kvs[0][1]
	pkey := join(key, k.Value)
	before := len(pp.errs)
	fields := map[string]*yaml.Node{}
	for _, kv := range pp.pairs(v, pkey) {
		fields[kv[0].Value] = kv[1]
	}
	get := func(name string, required bool) string {
		f, ok := fields[name]
		if !ok {
			if required {
				pp.fail(v, join(pkey, name), "missing")
			}
			return ""
		}
		delete(fields, name)
		s, _ := pp.str(f, join(pkey, name))
		return s
	}
	httpURL := func(name, s string) {
		if u, err := url.Parse(s); s != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			pp.fail(v, join(pkey, name), "must be an http:// or https:// URL, got %q", s)
		}
	}
	envName := func(name, s string) {
		if s != "" && !envNameRE.MatchString(s) {
			pp.fail(v, join(pkey, name), "must name an environment variable, got %q", s)
		}
	}
	cfg := &ProviderConfig{Kind: k.Value}
	switch k.Value {
	case ProviderPostgres:
		c := &PostgresConfig{AdminDSNEnv: get("admin_dsn_env", true), Connect: get("connect", true)}
		envName("admin_dsn_env", c.AdminDSNEnv)
		if c.Connect != "" {
			if !strings.HasPrefix(c.Connect, "postgres://") && !strings.HasPrefix(c.Connect, "postgresql://") {
				pp.fail(v, join(pkey, "connect"), "must be a postgres:// URL, got %q", c.Connect)
			} else if !strings.Contains(c.Connect, "{user}") || !strings.Contains(c.Connect, "{password}") {
				pp.fail(v, join(pkey, "connect"), "must contain {user} and {password}, where the grant's role and password go")
			}
		}
		cfg.Postgres = c
	case ProviderHTTPProxy:
		c := &HTTPProxyConfig{Listen: get("listen", true), Upstream: get("upstream", true), UpstreamHeaders: map[string]string{}}
		if c.Listen != "" {
			if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
				pp.fail(v, join(pkey, "listen"), "must be host:port, such as 127.0.0.1:9001, got %q", c.Listen)
			}
		}
		httpURL("upstream", c.Upstream)
		if h, ok := fields["upstream_headers"]; ok {
			delete(fields, "upstream_headers")
			for _, kv := range pp.pairs(h, join(pkey, "upstream_headers")) {
				hk := join(pkey, "upstream_headers."+kv[0].Value)
				if !headerName.MatchString(kv[0].Value) {
					pp.fail(kv[0], hk, "not an HTTP header name")
					continue
				}
				if s, ok := pp.str(kv[1], hk); ok {
					c.UpstreamHeaders[kv[0].Value] = s
				}
			}
		}
		cfg.HTTPProxy = c
	case ProviderWebhook:
		c := &WebhookConfig{URL: get("url", true), SecretEnv: get("secret_env", true)}
		httpURL("url", c.URL)
		envName("secret_env", c.SecretEnv)
		cfg.Webhook = c
	default:
		pp.fail(k, pkey, "unknown provider; gatepass has postgres, http_proxy and webhook")
		return nil
	}
	for name, f := range fields {
		pp.fail(f, join(pkey, name), "unknown key")
	}
	if len(pp.errs) > before {
		return nil
	}
	return cfg
}
