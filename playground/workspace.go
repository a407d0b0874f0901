package playground

import (
	"bytes"
	_ "embed"
	"slices"

	"github.com/gatepass/gatepass/fakeslack"
)

//go:embed policy.yml
var policyYAML []byte

// Policy returns the example policy file (YAML) the playground runs
// gatepass with: approvals in [ApproverChannel], announcements in
// [AnnounceChannel], a 10 s minimum grant and short maximums, reminders
// and warnings a minute ahead so they can be watched, ticket links to an
// example tracker, the introspection key [IntrospectionKey], and the
// resources prod-db and billing-api approved by the demo users. billing-api
// ([ProxyResource]) sits behind gatepass's http_proxy provider, listening
// on [DefaultProxyAddr] in front of the demo API at [DefaultAPIURL] (see
// [PolicyFor] for other addresses). Each call returns a new copy.
func Policy() []byte { return slices.Clone(policyYAML) }

// PolicyFor returns [Policy] with the proxy of [ProxyResource] listening
// on proxyAddr (host:port) in front of the demo API at apiURL. Empty
// arguments keep the defaults.
func PolicyFor(proxyAddr, apiURL string) []byte {
	p := Policy()
	if proxyAddr != "" {
		p = bytes.Replace(p, []byte("listen: "+DefaultProxyAddr), []byte("listen: "+proxyAddr), 1)
	}
	if apiURL != "" {
		p = bytes.Replace(p, []byte("upstream: "+DefaultAPIURL), []byte("upstream: "+apiURL), 1)
	}
	return p
}

// The demo workspace's fixed names.
const (
	// ApproverChannel is where approval requests go (#access-approvals).
	ApproverChannel = "C0APPROVALS"
	// AnnounceChannel is where expiries and revocations are announced
	// (#access-log).
	AnnounceChannel = "C0ANNOUNCE"
	// GeneralChannel is an ordinary channel (#general), where slash commands
	// are typed when no conversation is named.
	GeneralChannel = "C0GENERAL"
	// OnCallGroup is the @oncall user group, an approver of every resource.
	OnCallGroup = "S0ONCALL"
	// IntrospectionKey is the policy's introspection key, for calling
	// /v1/introspect as a production service would. It is a demo value.
	IntrospectionKey = "playground-introspection-key"
	// PolicyFile is the name under which the policy is written next to the
	// database.
	PolicyFile = "gatepass.yml"
	// SlackPrefix is the path under which [Playground] serves the Slack
	// stand-in; SLACK_API_URL is the playground's URL + SlackPrefix + "/api/".
	SlackPrefix = "/fake-slack"
	// BotToken is the bot token the stand-in accepts.
	BotToken = "xoxb-playground"
	// TicketURL is the policy's ticket_url: an example tracker.
	TicketURL = "https://tracker.example/browse/{ticket}"

	// ProxyResource is the resource behind gatepass's http_proxy provider:
	// its tokens open the demo API (see [DemoAPI]) through the proxy.
	ProxyResource = "billing-api"
	// DefaultProxyAddr is where the policy has the proxy listen.
	DefaultProxyAddr = "127.0.0.1:8089"
	// DefaultAPIURL is where the policy expects the demo API.
	DefaultAPIURL = "http://127.0.0.1:8090"
	// APIKeyEnv is the environment variable holding the key the proxy
	// sends the demo API (the policy's upstream_headers).
	APIKeyEnv = "PLAYGROUND_API_KEY"
)

// Demo user IDs.
const (
	Alice = "U0ALICE" // asks for access
	Bob   = "U0BOB"   // approver
	Carol = "U0CAROL" // approver
	Dave  = "U0DAVE"  // approver through @oncall
	Erin  = "U0ERIN"  // approves nothing
)

// User is a member of the demo workspace, as the page shows it.
type User struct {
	// ID is the Slack user ID.
	ID string `json:"id"`
	// Name is the handle, shown as @Name.
	Name string `json:"name"`
	// RealName is the full name.
	RealName string `json:"real_name"`
	// Role says what the user may do in the demo, e.g. "approver".
	Role string `json:"role"`
}

// Group is a Slack user group.
type Group struct {
	// ID is the group ID (S…).
	ID string `json:"id"`
	// Handle is shown as @Handle.
	Handle string `json:"handle"`
	// Members are user IDs.
	Members []string `json:"members"`
}

// Users returns the demo users: a requester, two approvers, an approver
// through the @oncall group and an outsider.
func Users() []User {
	return []User{
		{ID: Alice, Name: "alice", RealName: "Alice Chen", Role: "engineer: asks for access"},
		{ID: Bob, Name: "bob", RealName: "Bob Okafor", Role: "approver of prod-db"},
		{ID: Carol, Name: "carol", RealName: "Carol Díaz", Role: "approver of prod-db and billing-api"},
		{ID: Dave, Name: "dave", RealName: "Dave Kowalski", Role: "on call: approves through @oncall"},
		{ID: Erin, Name: "erin", RealName: "Erin Walsh", Role: "designer: approves nothing"},
	}
}

// Groups returns the demo user groups: @oncall, holding dave.
func Groups() []Group {
	return []Group{{ID: OnCallGroup, Handle: "oncall", Members: []string{Dave}}}
}

// Channels returns the demo channels, in sidebar order.
func Channels() []fakeslack.Channel {
	return []fakeslack.Channel{
		{ID: ApproverChannel, Name: "access-approvals"},
		{ID: AnnounceChannel, Name: "access-log"},
		{ID: GeneralChannel, Name: "general"},
	}
}

// SlackOptions returns the options of a Slack stand-in for the demo
// workspace: its users, groups and channels, accepting [BotToken] only,
// signing what it sends to the app with signingSecret, and handing out URLs
// under publicURL (the playground's URL followed by [SlackPrefix]).
func SlackOptions(signingSecret, publicURL string) fakeslack.Options {
	var users []fakeslack.User
	for _, u := range Users() {
		users = append(users, fakeslack.User{ID: u.ID, Name: u.Name, RealName: u.RealName})
	}
	groups := map[string][]string{}
	for _, g := range Groups() {
		groups[g.ID] = g.Members
	}
	return fakeslack.Options{
		BotToken:       BotToken,
		SigningSecret:  signingSecret,
		PublicURL:      publicURL,
		Users:          users,
		Groups:         groups,
		Channels:       Channels(),
		DefaultChannel: GeneralChannel,
	}
}
