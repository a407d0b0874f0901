package tokens

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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

var (
	contentTypeJSON = []string{"application/json"}
	cacheNoStore    = []string{"no-store"}
)

// ServeHTTP answers one introspection request. It is on the hot path of
// every production call, so it reads the form and writes the JSON itself.
func (h *Introspector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr["Content-Type"] = contentTypeJSON
	hdr["Cache-Control"] = cacheNoStore
	if r.Method != http.MethodPost {
		hdr.Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write([]byte(`{"error":"invalid_request"}` + "\n"))
		return
	}
	name, ok := h.authenticate(r.Header.Get("Authorization"))
	if !ok {
		hdr.Set("WWW-Authenticate", `Bearer realm="gatepass"`)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write(unauthorizedMsg)
		return
	}
	token, err := formToken(http.MaxBytesReader(w, r.Body, maxIntrospectBody))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_request"}` + "\n"))
		return
	}
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
	_, _ = w.Write(appendActive(make([]byte, 0, 384), &c))
}

// formToken reads the token field of an application/x-www-form-urlencoded
// body ("" if it has none).
func formToken(body io.Reader) (string, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return "", err
	}
	for len(data) > 0 {
		var pair []byte
		pair, data, _ = bytes.Cut(data, []byte("&"))
		key, value, _ := bytes.Cut(pair, []byte("="))
		if string(key) == "token" {
			return url.QueryUnescape(string(value))
		}
	}
	return "", nil
}

// appendActive writes the RFC 7662 answer for an active token, in the
// contract's field order, as encoding/json would.
func appendActive(b []byte, c *Claims) []byte {
	b = append(b, `{"active":true,"scope":`...)
	b = appendJSONString(b, c.Scope())
	b = append(b, `,"resource":`...)
	b = appendJSONString(b, c.Resource)
	b = append(b, `,"level":`...)
	b = appendJSONString(b, c.Level)
	b = append(b, `,"sub":`...)
	b = appendJSONString(b, c.Subject)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, c.ExpiresAt.Unix(), 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.IssuedAt.Unix(), 10)
	b = append(b, `,"ticket":`...)
	b = appendJSONString(b, c.Ticket)
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, c.RequestID)
	b = append(b, `,"break_glass":`...)
	b = strconv.AppendBool(b, c.BreakGlass)
	b = append(b, `,"token_type":"Bearer"}`+"\n"...)
	return b
}

// appendJSONString quotes s as encoding/json does: control characters,
// quotes, backslashes, <, > and & escaped, invalid UTF-8 replaced, and
// U+2028/U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
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
