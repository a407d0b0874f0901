package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gatepass/gatepass/providers/webhook"
	"github.com/gatepass/gatepass/workflow"
)

// A receiver checks each request with Verify before it trusts the body.
func ExampleVerify() {
	secret := []byte("shared-secret")
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		err = webhook.Verify(secret, r.Header.Get(webhook.HeaderTimestamp),
			r.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute)
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		fmt.Println(ev.Event, ev.RequestID, ev.Sub, time.Unix(ev.Exp, 0).UTC().Format(time.RFC3339))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	getenv := func(string) string { return string(secret) }
	p, err := webhook.New(workflow.WebhookConfig{URL: receiver.URL, SecretEnv: "VENDOR_WEBHOOK_SECRET"}, getenv, nil)
	if err != nil {
		panic(err)
	}
	g := workflow.ProviderGrant{
		RequestID: "req-1", Resource: "vendor-portal", Level: "read", Requester: "U0REQUESTER",
		Ticket: "INC-123", IssuedAt: time.Unix(1767225600, 0), ExpiresAt: time.Unix(1767229200, 0),
	}
	if _, err := p.Grant(context.Background(), g); err != nil {
		panic(err)
	}
	if err := p.Revoke(context.Background(), g); err != nil {
		panic(err)
	}
	// Output:
	// grant req-1 U0REQUESTER 2026-01-01T01:00:00Z
	// revoke req-1 U0REQUESTER 2026-01-01T01:00:00Z
}
