package tokens

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Claims describe an active token, as introspection reports it.
type Claims struct {
	Resource   string
	Level      string
	Subject    string // the requester's Slack user ID
	Ticket     string
	RequestID  string
	IssuedAt   time.Time
	ExpiresAt  time.Time
	BreakGlass bool
}

// Scope is "resource:level".
func (c Claims) Scope() string { return c.Resource + ":" + c.Level }

// Lookup finds the claims of a token that is active now. It reports ok=false
// for a token that is unknown, expired, revoked or otherwise not usable, and
// an error only when it could not tell.
type Lookup interface {
	LookupToken(ctx context.Context, token string) (c Claims, ok bool, err error)
}

// Client is a caller allowed to introspect: a name for the logs and the
// SHA-256 of its bearer key.
type Client struct {
	Name      string
	KeySHA256 Hash
}

type clientKey struct{}

// ClientName returns the name of the introspection client that made the
// request carried by ctx, or "" outside an introspection request.
func ClientName(ctx context.Context) string {
	name, _ := ctx.Value(clientKey{}).(string)
	return name
}

// Introspector is an http.Handler for RFC 7662 token introspection:
// POST, form body token=<token>, header "Authorization: Bearer <key>".
type Introspector struct {
	lookup  Lookup
	clients []Client
	onError func(error)
}

// NewIntrospector serves introspection for the given clients. onError, if
// not nil, hears lookup failures (they answer 503).
func NewIntrospector(lookup Lookup, clients []Client, onError func(error)) *Introspector {
	return &Introspector{lookup: lookup, clients: clients, onError: onError}
}

const maxIntrospectBody = 8 << 10

var (
	inactiveJSON    = []byte(`{"active":false}` + "\n")
	unauthorizedMsg = []byte(`{"error":"invalid_client"}` + "\n")
)

// activeResponse is the RFC 7662 answer for an active token. Field order
// follows the contract.
type activeResponse struct {
	Active     bool   `json:"active"`
	Scope      string `json:"scope"`
	Resource   string `json:"resource"`
	Level      string `json:"level"`
	Sub        string `json:"sub"`
	Exp        int64  `json:"exp"`
	Iat        int64  `json:"iat"`
	Ticket     string `json:"ticket"`
	RequestID  string `json:"request_id"`
	BreakGlass bool   `json:"break_glass"`
	TokenType  string `json:"token_type"`
}

// ServeHTTP answers one introspection request.
func (h *Introspector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write([]byte(`{"error":"invalid_request"}` + "\n"))
		return
	}
	name, ok := h.authenticate(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatepass"`)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write(unauthorizedMsg)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxIntrospectBody)
	if err := r.ParseForm(); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_request"}` + "\n"))
		return
	}
	token := r.PostForm.Get("token")
	if !Valid(token) {
		_, _ = w.Write(inactiveJSON)
		return
	}
	ctx := context.WithValue(r.Context(), clientKey{}, name)
	c, active, err := h.lookup.LookupToken(ctx, token)
	if err != nil {
		if h.onError != nil {
			h.onError(err)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"temporarily_unavailable"}` + "\n"))
		return
	}
	if !active {
		_, _ = w.Write(inactiveJSON)
		return
	}
	body, err := json.Marshal(activeResponse{
		Active:     true,
		Scope:      c.Scope(),
		Resource:   c.Resource,
		Level:      c.Level,
		Sub:        c.Subject,
		Exp:        c.ExpiresAt.Unix(),
		Iat:        c.IssuedAt.Unix(),
		Ticket:     c.Ticket,
		RequestID:  c.RequestID,
		BreakGlass: c.BreakGlass,
		TokenType:  "Bearer",
	})
	if err != nil { // cannot happen for this struct; fail closed all the same
		_, _ = w.Write(inactiveJSON)
		return
	}
	_, _ = w.Write(append(body, '\n'))
}

// authenticate checks a bearer key against every client in constant time
// (all clients are compared whatever matches) and returns the client's name.
func (h *Introspector) authenticate(header string) (string, bool) {
	const scheme = "bearer "
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return "", false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(header[len(scheme):])))
	name, found := "", 0
	for _, c := range h.clients {
		if subtle.ConstantTimeCompare(sum[:], c.KeySHA256[:]) == 1 {
			name, found = c.Name, 1
		}
	}
	return name, found == 1
}
