package tokens

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
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

// Client is a caller allowed to introspect: its name, which is also its
// HTTP Basic user name and what [ClientName] reports, and the SHA-256 of its
// key.
type Client struct {
	Name      string
	KeySHA256 Hash
}

// client is a Client ready for comparison: the name is hashed too, so that
// HTTP Basic compares names in constant time without allocating.
type client struct {
	name    string
	nameSum Hash
	keySum  Hash
}

type clientKey struct{}

// ClientName returns the name of the introspection client that made the
// request carried by ctx, or "" outside an introspection request.
func ClientName(ctx context.Context) string {
	if name, _ := ctx.Value(clientKey{}).(*string); name != nil {
		return *name
	}
	return ""
}

// WithClientName returns ctx carrying name as the introspection client's,
// as the handler does for an authenticated request.
func WithClientName(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, clientKey{}, &name)
}

// Introspector is an http.Handler for RFC 7662 token introspection.
//
// A request is a POST whose body is application/x-www-form-urlencoded (media
// type parameters such as "; charset=UTF-8" are allowed) and carries the
// token=<token> parameter. The client authenticates with one of
//
//   - "Authorization: Bearer <key>", or
//   - HTTP Basic, with the client's Name as user and its key as password,
//     each application/x-www-form-urlencoded before base64 encoding
//     (RFC 6749 §2.3.1), so "+" stands for a space and "%3A" for a colon.
//
// Authentication is checked first, against every client in constant time. A
// missing or bad key answers 401 {"error":"invalid_client"} with a
// WWW-Authenticate challenge for the scheme the request used:
// `Bearer realm="gatepass", error="invalid_token"` (RFC 6750 §3.1) or
// `Basic realm="gatepass", charset="UTF-8"` (RFC 7617); a request with no
// usable Authorization header (none, several, or another scheme) is offered
// both, Bearer first and without an error attribute.
//
// An authenticated request is then answered 400 {"error":"invalid_request"}
// when its body is not application/x-www-form-urlencoded, when any parameter
// appears more than once (RFC 6749 §3.1), when the token is missing or empty,
// or when the body is malformed (a bad percent-escape, or a ";" separator as
// url.ParseQuery rejects). Other parameters (token_type_hint, client_id, …)
// are ignored. A body over 8 KiB answers 413 {"error":"invalid_request"}.
//
// A well-formed request answers 200: the claims for an active token, exactly
// {"active":false} for anything else (unknown, malformed, expired, revoked),
// or 503 {"error":"temporarily_unavailable"} when the lookup cannot tell.
// Any method but POST answers 405 with "Allow: POST".
type Introspector struct {
	lookup  Lookup
	clients []client
	onError func(error)
}

// NewIntrospector serves introspection for the given clients. onError, if
// not nil, hears lookup failures (they answer 503).
func NewIntrospector(lookup Lookup, clients []Client, onError func(error)) *Introspector {
	cs := make([]client, len(clients))
	for i, c := range clients {
		cs[i] = client{name: c.Name, nameSum: sha256.Sum256([]byte(c.Name)), keySum: c.KeySHA256}
	}
	return &Introspector{lookup: lookup, clients: cs, onError: onError}
}

// maxIntrospectBody is the largest request body read, in bytes.
const maxIntrospectBody = 8 << 10

// bodyBuffers holds buffers for reading a request body (one byte more than
// the limit, to tell an oversized body) and then writing the answer.
var bodyBuffers = sync.Pool{New: func() any { return new([maxIntrospectBody + 1]byte) }}

var (
	inactiveJSON       = []byte(`{"active":false}` + "\n")
	invalidClientJSON  = []byte(`{"error":"invalid_client"}` + "\n")
	invalidRequestJSON = []byte(`{"error":"invalid_request"}` + "\n")
	unavailableJSON    = []byte(`{"error":"temporarily_unavailable"}` + "\n")
)

// Header values, shared read-only between responses. Each slice is full
// (len == cap), so an append elsewhere copies instead of writing here.
var (
	contentTypeJSON = []string{"application/json"}
	cacheNoStore    = []string{"no-store"}
	allowPost       = []string{http.MethodPost}
	connectionClose = []string{"close"}
	bearerInvalid   = []string{`Bearer realm="gatepass", error="invalid_token"`}
	basicChallenge  = []string{`Basic realm="gatepass", charset="UTF-8"`}
	bothChallenges  = []string{`Bearer realm="gatepass"`, `Basic realm="gatepass", charset="UTF-8"`}
)

// ServeHTTP answers one introspection request, as described on
// [Introspector]. It is on the hot path of every production call, so it reads
// the form and writes the JSON itself, into a pooled buffer.
func (h *Introspector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr["Content-Type"] = contentTypeJSON
	hdr["Cache-Control"] = cacheNoStore
	if r.Method != http.MethodPost {
		hdr["Allow"] = allowPost
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write(invalidRequestJSON)
		return
	}
	c, scheme := h.authenticate(r.Header["Authorization"])
	if c == nil {
		switch scheme {
		case schemeBearer:
			hdr["Www-Authenticate"] = bearerInvalid
		case schemeBasic:
			hdr["Www-Authenticate"] = basicChallenge
		default:
			hdr["Www-Authenticate"] = bothChallenges
		}
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write(invalidClientJSON)
		return
	}
	if !isForm(r.Header["Content-Type"]) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(invalidRequestJSON)
		return
	}
	if r.ContentLength > maxIntrospectBody {
		tooLarge(w)
		return
	}
	buf := bodyBuffers.Get().(*[maxIntrospectBody + 1]byte)
	defer bodyBuffers.Put(buf)
	n, err := readBody(r.Body, buf[:])
	if n > maxIntrospectBody {
		tooLarge(w)
		return
	}
	var raw []byte
	ok := err == nil
	if ok {
		raw, ok = formToken(buf[:n])
	}
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(invalidRequestJSON)
		return
	}
	token := string(raw)
	if !Valid(token) {
		_, _ = w.Write(inactiveJSON)
		return
	}
	ctx := context.WithValue(r.Context(), clientKey{}, &c.name)
	claims, active, err := h.lookup.LookupToken(ctx, token)
	if err != nil {
		if h.onError != nil {
			h.onError(err)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(unavailableJSON)
		return
	}
	if !active {
		_, _ = w.Write(inactiveJSON)
		return
	}
	_, _ = w.Write(appendActive(buf[:0], &claims))
}

// tooLarge answers 413 and asks the server to close the connection rather
// than read the rest of the body.
func tooLarge(w http.ResponseWriter) {
	w.Header()["Connection"] = connectionClose
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	_, _ = w.Write(invalidRequestJSON)
}

// isForm reports whether the Content-Type header values name exactly one
// media type, application/x-www-form-urlencoded (any case, any parameters).
func isForm(values []string) bool {
	if len(values) != 1 {
		return false
	}
	mediaType, _, _ := strings.Cut(values[0], ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), "application/x-www-form-urlencoded")
}

// readBody reads body into buf until EOF or until buf is full. A count of
// len(buf) means the body may be longer still.
func readBody(body io.Reader, buf []byte) (int, error) {
	if body == nil {
		return 0, nil
	}
	n := 0
	for n < len(buf) {
		m, err := body.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// maxSeenParams is how many parameter names formToken tracks without
// allocating; a body with more falls back to a map.
const maxSeenParams = 8

// formToken returns the value of the token parameter of an
// application/x-www-form-urlencoded body, decoding body in place. It reports
// false when the token is missing or empty, when any parameter is repeated
// (parameter names compared after decoding), or when the body is malformed
// as url.ParseQuery sees it: a bad percent-escape or a ";" in a pair. Empty
// pairs ("a=1&&b=2") are skipped.
func formToken(body []byte) ([]byte, bool) {
	var (
		token  []byte
		found  bool
		inline [maxSeenParams][]byte
		nSeen  int
		seen   map[string]struct{}
	)
	for len(body) > 0 {
		var pair []byte
		pair, body, _ = bytes.Cut(body, []byte("&"))
		if len(pair) == 0 {
			continue
		}
		if bytes.IndexByte(pair, ';') >= 0 {
			return nil, false
		}
		key, value, _ := bytes.Cut(pair, []byte("="))
		key, ok := unescapeForm(key)
		if !ok {
			return nil, false
		}
		if value, ok = unescapeForm(value); !ok {
			return nil, false
		}
		switch {
		case seen != nil:
			if _, dup := seen[string(key)]; dup {
				return nil, false
			}
			seen[string(key)] = struct{}{}
		default:
			for _, k := range inline[:nSeen] {
				if bytes.Equal(k, key) {
					return nil, false
				}
			}
			if nSeen < len(inline) {
				inline[nSeen] = key
				nSeen++
				break
			}
			seen = make(map[string]struct{}, 2*len(inline))
			for _, k := range inline {
				seen[string(k)] = struct{}{}
			}
			seen[string(key)] = struct{}{}
		}
		if string(key) == "token" {
			token, found = value, true
		}
	}
	return token, found && len(token) > 0
}

// unescapeForm decodes one application/x-www-form-urlencoded component in
// place, exactly as url.QueryUnescape does ("+" is a space, "%XX" a byte),
// and reports false on a malformed percent-escape.
func unescapeForm(s []byte) ([]byte, bool) {
	i := bytes.IndexAny(s, "%+")
	if i < 0 {
		return s, true
	}
	j := i
	for i < len(s) {
		switch c := s[i]; c {
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return nil, false
			}
			s[j] = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 3
		case '+':
			s[j] = ' '
			i++
		default:
			s[j] = c
			i++
		}
		j++
	}
	return s[:j], true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// appendActive writes the RFC 7662 answer for an active token, in the
// contract's field order, as encoding/json would.
func appendActive(b []byte, c *Claims) []byte {
	b = append(b, `{"active":true,"scope":"`...)
	// No character straddles the ASCII ':', so quoting both halves quotes
	// c.Scope() without building it.
	b = appendJSONChars(b, c.Resource)
	b = append(b, ':')
	b = appendJSONChars(b, c.Level)
	b = append(b, `","resource":`...)
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
	b = append(b, '"')
	b = appendJSONChars(b, s)
	return append(b, '"')
}

// appendJSONChars appends s escaped as appendJSONString does, without the
// quotes around it.
func appendJSONChars(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
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
	return append(b, s[start:]...)
}

// authScheme is the Authorization scheme a request used.
type authScheme uint8

const (
	schemeNone   authScheme = iota // no header, several, or another scheme
	schemeBearer                   // "Bearer <key>"
	schemeBasic                    // "Basic base64(<name>:<key>)"
)

// basicOnStack is the longest HTTP Basic credentials (base64) decoded in a
// buffer on the stack; longer ones are decoded on the heap.
const basicOnStack = 384

// authenticate checks the Authorization header values and returns the client
// they identify, or nil, with the scheme they used. Every client is compared
// in constant time, whatever matches.
func (h *Introspector) authenticate(values []string) (*client, authScheme) {
	if len(values) != 1 {
		return nil, schemeNone
	}
	scheme, credentials, _ := strings.Cut(values[0], " ")
	credentials = strings.TrimSpace(credentials)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if credentials == "" {
			return nil, schemeBearer
		}
		keySum := HashOf(credentials)
		var found *client
		for i := range h.clients {
			if subtle.ConstantTimeCompare(keySum[:], h.clients[i].keySum[:]) == 1 {
				found = &h.clients[i]
			}
		}
		return found, schemeBearer
	case strings.EqualFold(scheme, "Basic"):
		return h.authenticateBasic(credentials), schemeBasic
	default:
		return nil, schemeNone
	}
}

// authenticateBasic checks HTTP Basic credentials: base64 of "<name>:<key>",
// each form-urlencoded (RFC 6749 §2.3.1). Both must match the same client.
func (h *Introspector) authenticateBasic(credentials string) *client {
	var stack [basicOnStack]byte
	decoded := stack[:]
	if len(credentials) > len(stack) {
		decoded = make([]byte, base64.StdEncoding.DecodedLen(len(credentials)))
	}
	n, err := base64.StdEncoding.Decode(decoded, []byte(credentials))
	if err != nil {
		return nil
	}
	name, key, ok := bytes.Cut(decoded[:n], []byte(":"))
	if !ok {
		return nil
	}
	if name, ok = unescapeForm(name); !ok {
		return nil
	}
	if key, ok = unescapeForm(key); !ok {
		return nil
	}
	nameSum, keySum := sha256.Sum256(name), sha256.Sum256(key)
	var found *client
	for i := range h.clients {
		c := &h.clients[i]
		if subtle.ConstantTimeCompare(nameSum[:], c.nameSum[:])&subtle.ConstantTimeCompare(keySum[:], c.keySum[:]) == 1 {
			found = c
		}
	}
	return found
}
