package workflow

import "time"

// Metrics counts what the workflow does, for an operator's dashboards. The
// adapter (Prometheus, in gatepass serve) decides names and labels; values
// passed here are drawn from small fixed sets, never from request IDs,
// users or tokens.
type Metrics interface {
	// Request counts a request by outcome: pending, break_glass, refused.
	Request(outcome string)
	// Decision counts a decision (approval, approved, denied) and how long
	// the request had waited.
	Decision(outcome string, waited time.Duration)
	// GrantEnded counts grants ending: expired, revoked, failed.
	GrantEnded(how string)
	// Delivery counts notice deliveries by kind and outcome: delivered,
	// retry, rate_limited, undeliverable.
	Delivery(kind, outcome string)
	// Introspection counts token checks by result (active, inactive,
	// error) and how long they took.
	Introspection(result string, took time.Duration)
}

// NoMetrics counts nothing.
type NoMetrics struct{}

// Request does nothing.
func (NoMetrics) Request(string) {}

// Decision does nothing.
func (NoMetrics) Decision(string, time.Duration) {}

// GrantEnded does nothing.
func (NoMetrics) GrantEnded(string) {}

// Delivery does nothing.
func (NoMetrics) Delivery(string, string) {}

// Introspection does nothing.
func (NoMetrics) Introspection(string, time.Duration) {}
