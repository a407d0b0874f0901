package playground

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DemoAPI is the tiny invoices service the playground puts behind
// gatepass's http_proxy provider ([ProxyResource] in the demo policy). It
// answers only requests that carry its key (which the proxy adds from the
// policy's upstream_headers), so a visitor reaches it through the proxy
// with a gatepass token, never around it. Every answer shows what the API
// received from the proxy: the X-Gatepass-* headers naming the requester,
// the ticket and the request, and whether a gatepass token got through
// (it never should).
//
// Routes:
//
//	GET  /                  what this is
//	GET  /invoices          the invoices (a read level allows GET and HEAD)
//	GET  /invoices/{id}     one invoice
//	POST /invoices          {"customer","amount"}: add one (a write level)
type DemoAPI struct {
	key string
	now func() time.Time

	mu       sync.Mutex
	invoices []Invoice
	next     int // number of the next invoice added
}

// Invoice is one of the demo API's invoices.
type Invoice struct {
	ID       string    `json:"id"`
	Customer string    `json:"customer"`
	Amount   float64   `json:"amount"`
	Currency string    `json:"currency"`
	Status   string    `json:"status"`
	IssuedAt time.Time `json:"issued_at"`
	// CreatedBy is the X-Gatepass-User of the request that added it, for
	// invoices added through the proxy.
	CreatedBy string `json:"created_by,omitempty"`
	// Ticket is the X-Gatepass-Ticket of that request.
	Ticket string `json:"ticket,omitempty"`
}

// maxInvoices bounds what visitors can add.
const maxInvoices = 200

// NewDemoAPI returns the demo API, accepting requests whose Authorization
// header is "Bearer " + key.
func NewDemoAPI(key string) *DemoAPI {
	day := time.Now().UTC().Truncate(24 * time.Hour)
	return &DemoAPI{
		key:  key,
		now:  time.Now,
		next: 1004,
		invoices: []Invoice{
			{ID: "INV-1001", Customer: "Acme Corp", Amount: 1200, Currency: "EUR", Status: "paid", IssuedAt: day.AddDate(0, 0, -21)},
			{ID: "INV-1002", Customer: "Globex", Amount: 349.5, Currency: "EUR", Status: "open", IssuedAt: day.AddDate(0, 0, -9)},
			{ID: "INV-1003", Customer: "Initech", Amount: 78.25, Currency: "EUR", Status: "overdue", IssuedAt: day.AddDate(0, 0, -40)},
		},
	}
}

// seen is what the API received from gatepass's proxy, echoed in every
// answer so the visitor can see it.
type seen struct {
	User    string `json:"X-Gatepass-User"`
	Ticket  string `json:"X-Gatepass-Ticket"`
	Request string `json:"X-Gatepass-Request"`
	// ProxyKey says the Authorization header was the proxy's key.
	ProxyKey bool `json:"authorization_is_the_proxy_key"`
	// TokenSeen would say a gatepass token reached the API.
	TokenSeen bool `json:"gatepass_token_reached_the_api"`
}

func (a *DemoAPI) seen(r *http.Request) seen {
	auth := r.Header.Get("Authorization")
	return seen{
		User:      r.Header.Get("X-Gatepass-User"),
		Ticket:    r.Header.Get("X-Gatepass-Ticket"),
		Request:   r.Header.Get("X-Gatepass-Request"),
		ProxyKey:  a.authorized(r),
		TokenSeen: strings.Contains(auth, "gpass_"),
	}
}

func (a *DemoAPI) authorized(r *http.Request) bool {
	got := r.Header.Get("Authorization")
	want := "Bearer " + a.key
	return a.key != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// ServeHTTP serves the routes listed on [DemoAPI].
func (a *DemoAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(r) {
		writePretty(w, http.StatusUnauthorized, map[string]string{
			"error":             "unauthorized",
			"error_description": "this demo API answers gatepass's proxy only: send the request to the proxy, with your gatepass token",
		})
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "":
		if !a.method(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		writePretty(w, http.StatusOK, map[string]any{
			"service":   "playground billing API (a demo)",
			"endpoints": []string{"GET /invoices", "GET /invoices/{id}", "POST /invoices {\"customer\":…,\"amount\":…}"},
			"seen":      a.seen(r),
		})
	case path == "/invoices":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			a.mu.Lock()
			list := append([]Invoice(nil), a.invoices...)
			a.mu.Unlock()
			writePretty(w, http.StatusOK, map[string]any{"invoices": list, "seen": a.seen(r)})
		case http.MethodPost:
			a.create(w, r)
		default:
			a.method(w, r, http.MethodGet, http.MethodHead, http.MethodPost)
		}
	case strings.HasPrefix(path, "/invoices/"):
		if !a.method(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		id := strings.TrimPrefix(path, "/invoices/")
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, inv := range a.invoices {
			if inv.ID == id {
				writePretty(w, http.StatusOK, map[string]any{"invoice": inv, "seen": a.seen(r)})
				return
			}
		}
		writePretty(w, http.StatusNotFound, map[string]any{"error": "no invoice " + id, "seen": a.seen(r)})
	default:
		writePretty(w, http.StatusNotFound, map[string]any{"error": "not found: try GET /invoices", "seen": a.seen(r)})
	}
}

// method answers 405 unless r's method is one of allowed.
func (a *DemoAPI) method(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	for _, m := range allowed {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writePretty(w, http.StatusMethodNotAllowed, map[string]any{"error": r.Method + " is not served here", "seen": a.seen(r)})
	return false
}

// create adds an invoice: a write, which only a write level's token gets
// through the proxy.
func (a *DemoAPI) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Customer string  `json:"customer"`
		Amount   float64 `json:"amount"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<10))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		err = json.Unmarshal(body, &in)
	}
	if err != nil {
		writePretty(w, http.StatusBadRequest, map[string]any{"error": "send JSON such as {\"customer\":\"Acme Corp\",\"amount\":120}", "seen": a.seen(r)})
		return
	}
	if in.Customer = strings.TrimSpace(in.Customer); in.Customer == "" {
		in.Customer = "Walk-in customer"
	}
	if len([]rune(in.Customer)) > 80 {
		in.Customer = string([]rune(in.Customer)[:80])
	}
	s := a.seen(r)
	a.mu.Lock()
	inv := Invoice{
		ID: fmt.Sprintf("INV-%d", a.next), Customer: in.Customer, Amount: in.Amount, Currency: "EUR", Status: "open",
		IssuedAt: a.now().UTC().Truncate(time.Second), CreatedBy: s.User, Ticket: s.Ticket,
	}
	a.next++
	a.invoices = append(a.invoices, inv)
	if len(a.invoices) > maxInvoices {
		a.invoices = append(a.invoices[:3:3], a.invoices[len(a.invoices)-maxInvoices+3:]...)
	}
	a.mu.Unlock()
	writePretty(w, http.StatusCreated, map[string]any{"invoice": inv, "seen": s})
}

// writePretty writes v as indented JSON, for reading in a terminal.
func writePretty(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
