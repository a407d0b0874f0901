package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkIntrospect compares, in one run over loopback, gatepass's real
// /v1/introspect (full serve: routing, key check, token check, grant lookup,
// JSON) with a bare net/http handler that only parses the form, checks the
// bearer key and writes JSON. Compare the req/s of the two sub-benchmarks.
func BenchmarkIntrospect(b *testing.B) {
	h := newHarness(b, harnessOptions{})
	id := h.request(alice, "prod-db read 4h INC-1 benchmark")
	h.approvalMessage(id)
	h.click(bob, approvals, id, "approve")
	tok := h.token(alice, id)

	keySum := sha256.Sum256([]byte(introKey))
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		sum := sha256.Sum256([]byte(strings.TrimPrefix(auth, "Bearer ")))
		if subtle.ConstantTimeCompare(sum[:], keySum[:]) != 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if err := r.ParseForm(); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"active": r.PostForm.Get("token") != ""})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: bare}
	go srv.Serve(ln)
	defer srv.Close()

	for _, c := range []struct{ name, url string }{
		{"bare", "http://" + ln.Addr().String() + "/v1/introspect"},
		{"gatepass", h.base + "/v1/introspect"},
	} {
		b.Run(c.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
			body := url.Values{"token": {tok}}.Encode()
			b.SetParallelism(8)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, c.url, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Authorization", "Bearer "+introKey)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					out, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), `"active":true`) {
						b.Errorf("HTTP %d %s", resp.StatusCode, out)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

// BenchmarkSlashCommandAck measures how long Slack waits for gatepass's
// reply to a signed /access request (signature check, parse, policy check,
// durable write, reply), one command after another; the Slack calls the
// request causes happen after the reply. Reports the median and p99.
func BenchmarkSlashCommandAck(b *testing.B) {
	h := newHarness(b, harnessOptions{})
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		r := h.command(alice, "prod-db read 30m INC-1 measuring the ack")
		lat = append(lat, time.Since(start))
		if !idRE.MatchString(r.Text) {
			b.Fatalf("not accepted: %s", r.Text)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkExpiry measures, for two-second grants, how late the token turns
// inactive after its exp (it should be at once) and how long after exp the
// expiry announcement reaches the announce channel (the goal: within 2 s).
func BenchmarkExpiry(b *testing.B) {
	h := newHarness(b, harnessOptions{})
	var inactiveLag, announceLag []time.Duration
	for i := range b.N {
		ticket := "INC-" + strconvI(int64(1000+i))
		id := h.request(alice, "prod-db read 2s "+ticket)
		h.approvalMessage(id)
		h.click(bob, approvals, id, "approve")
		tok := h.token(alice, id)
		got := h.introspect(tok)
		if !active(got) {
			b.Fatalf("fresh token inactive: %v", got)
		}
		exp := time.Unix(int64(got["exp"].(float64)), 0)
		time.Sleep(time.Until(exp))
		for active(h.introspect(tok)) {
			time.Sleep(time.Millisecond)
		}
		inactiveLag = append(inactiveLag, time.Since(exp))
		h.waitFor("the announcement", func() bool {
			m, ok := h.message(announce, ticket)
			return ok && strings.Contains(m.Text, "expired")
		})
		m, _ := h.message(announce, ticket)
		announceLag = append(announceLag, m.PostedAt.Sub(exp))
	}
	slices.Sort(inactiveLag)
	slices.Sort(announceLag)
	b.ReportMetric(float64(inactiveLag[len(inactiveLag)-1].Microseconds())/1000, "max-inactive-after-exp-ms")
	b.ReportMetric(float64(announceLag[len(announceLag)/2].Milliseconds()), "p50-announce-ms")
	b.ReportMetric(float64(announceLag[len(announceLag)-1].Milliseconds()), "max-announce-ms")
}
