// Package metrics exposes gatepass's counters in the Prometheus text format
// with prometheus/client_golang. It implements workflow.Metrics; gauges
// that describe state (live grants, the notice queue) are read when
// scraped. No label takes an unbounded value: no request IDs, users or
// tokens, only outcomes, kinds and method names from fixed sets.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/gatepass/gatepass/workflow"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var _ workflow.Metrics = (*Metrics)(nil)

// State is what the gauges read when scraped.
type State interface {
	// LiveGrants is the number of active grants this process serves.
	LiveGrants() int
	// QueueStats describes the notice queue.
	QueueStats(ctx context.Context) (workflow.QueueStats, error)
}

// Metrics holds gatepass's collectors in a registry of its own.
type Metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	decisions     *prometheus.CounterVec
	decisionWait  prometheus.Histogram
	ended         *prometheus.CounterVec
	expiries      prometheus.Counter
	deliveries    *prometheus.CounterVec
	introspect    *prometheus.CounterVec
	introspectBy  map[string]prometheus.Counter // each result's counter, looked up once
	introspectDur prometheus.Histogram
	slackErrors   *prometheus.CounterVec
}

// New registers gatepass's metrics; state feeds the gauges.
func New(state State) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatepass_requests_total", Help: "Access requests, by outcome (pending, break_glass, refused)."}, []string{"outcome"})
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatepass_decisions_total", Help: "Approver decisions, by outcome (approval, approved, denied)."}, []string{"outcome"})
	m.decisionWait = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gatepass_decision_wait_seconds", Help: "Time from a request to a decision on it.",
		Buckets: []float64{5, 15, 30, 60, 120, 300, 600, 1800, 3600}})
	m.ended = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatepass_grants_ended_total", Help: "Grants that ended, by how (expired, revoked, failed)."}, []string{"how"})
	m.expiries = prometheus.NewCounter(prometheus.CounterOpts{Name: "gatepass_expiries_total", Help: "Grants that expired."})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatepass_notices_total", Help: "Notice deliveries, by kind and outcome."}, []string{"kind", "outcome"})
	m.introspect = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatepass_introspections_total", Help: "Token introspections, by result (active, inactive, error, unauthorized, bad_request)."}, []string{"result"})
	m.introspectDur = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gatepass_introspection_seconds", Help: "Time to answer an introspection.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25}})
	m.slackErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatepass_slack_errors_total", Help: "Slack Web API calls that failed, by method."}, []string{"method"})
	m.reg.MustRegister(m.requests, m.decisions, m.decisionWait, m.ended, m.expiries, m.deliveries, m.introspect, m.introspectDur, m.slackErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if state != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatepass_grants_active", Help: "Active grants held in memory for introspection."},
			func() float64 { return float64(state.LiveGrants()) }))
		m.reg.MustRegister(&queueCollector{state: state,
			depth:  prometheus.NewDesc("gatepass_notice_queue_depth", "Notices and announcements waiting to be delivered.", []string{"queue"}, nil),
			oldest: prometheus.NewDesc("gatepass_notice_queue_oldest_seconds", "Age of the oldest undelivered notice or announcement.", nil, nil)})
	}
	// Series that exist from the start, so dashboards see zeros, not gaps.
	for _, o := range []string{"pending", "break_glass", "refused"} {
		m.requests.WithLabelValues(o)
	}
	m.introspectBy = map[string]prometheus.Counter{}
	for _, r := range []string{"active", "inactive", "error", "unauthorized", "bad_request"} {
		m.introspectBy[r] = m.introspect.WithLabelValues(r)
	}
	for _, h := range []string{"expired", "revoked", "failed"} {
		m.ended.WithLabelValues(h)
	}
	for _, method := range []string{"chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.update", "views.publish", "usergroups.users.list", "auth.test", "response_url"} {
		m.slackErrors.WithLabelValues(method)
	}
	return m
}

// Handler serves the metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Request counts a request by outcome.
func (m *Metrics) Request(outcome string) { m.requests.WithLabelValues(outcome).Inc() }

// Decision counts a decision and how long the request waited.
func (m *Metrics) Decision(outcome string, waited time.Duration) {
	m.decisions.WithLabelValues(outcome).Inc()
	if outcome != "approval" {
		m.decisionWait.Observe(waited.Seconds())
	}
}

// GrantEnded counts a grant that ended.
func (m *Metrics) GrantEnded(how string) {
	m.ended.WithLabelValues(how).Inc()
	if how == "expired" {
		m.expiries.Inc()
	}
}

// Delivery counts a notice delivery.
func (m *Metrics) Delivery(kind, outcome string) { m.deliveries.WithLabelValues(kind, outcome).Inc() }

// Introspection counts a token check.
func (m *Metrics) Introspection(result string, took time.Duration) {
	if c, ok := m.introspectBy[result]; ok {
		c.Inc()
	} else {
		m.introspect.WithLabelValues(result).Inc()
	}
	m.introspectDur.Observe(took.Seconds())
}

// SlackError counts a failed Slack call.
func (m *Metrics) SlackError(method string) { m.slackErrors.WithLabelValues(method).Inc() }

type queueCollector struct {
	state         State
	depth, oldest *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.oldest }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.state.QueueStats(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(st.Notices), "notices")
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(st.Announcements), "announcements")
	age := 0.0
	if !st.Oldest.IsZero() {
		age = time.Since(st.Oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}
