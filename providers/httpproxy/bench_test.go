package httpproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkThroughput compares, in one run, the request rate through a
// Proxy (token check, header rewrite, in-flight re-check timer) with the
// rate through a bare httputil.ReverseProxy to the same upstream, with the
// same transport to the upstream and the same client settings (keep-alive,
// several requests in parallel). One op is one request through each; the
// two alternate in rounds so that drift hits both alike. It reports both
// rates and their ratio (proxy/bare), and the CPU time of the whole
// process (client, proxy and upstream) per request on each path with
// their ratio (bare/proxy), which a busy machine disturbs less than the
// rates.
func BenchmarkThroughput(b *testing.B) {
	payload := []byte(strings.Repeat("x", 512))
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(payload)
	}))
	defer up.Close()
	upURL, _ := url.Parse(up.URL)

	rg := newRig(b, up.URL, Options{})
	bare := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upURL)
			pr.SetXForwarded()
		},
		Transport:     newTransport(),
		FlushInterval: -1,
	})
	defer bare.Close()

	workers := 4 * runtime.GOMAXPROCS(0)
	newClient := func() *http.Client {
		return &http.Client{Transport: &http.Transport{
			MaxIdleConns:        2 * workers,
			MaxIdleConnsPerHost: 2 * workers,
			DisableCompression:  true,
		}}
	}
	clientBare, clientProxy := newClient(), newClient()
	auth := "Bearer " + rg.read

	run := func(c *http.Client, target string, n int) (wall, cpu time.Duration) {
		var next atomic.Int64
		var wg sync.WaitGroup
		start, startCPU := time.Now(), processCPU()
		for range workers {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					req, _ := http.NewRequest(http.MethodGet, target, nil)
					req.Header.Set("Authorization", auth)
					res, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Errorf("status %d from %s", res.StatusCode, target)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start), processCPU() - startCPU
	}

	// Warm up connections on both paths.
	run(clientBare, bare.URL+"/x", 4*workers)
	run(clientProxy, rg.srv.URL+"/x", 4*workers)

	const rounds = 20
	per := max(b.N/rounds, 1)
	var wallBare, wallProxy, cpuBare, cpuProxy time.Duration
	b.ResetTimer()
	for range rounds {
		w, c := run(clientBare, bare.URL+"/x", per)
		wallBare, cpuBare = wallBare+w, cpuBare+c
		w, c = run(clientProxy, rg.srv.URL+"/x", per)
		wallProxy, cpuProxy = wallProxy+w, cpuProxy+c
	}
	b.StopTimer()
	total := float64(per * rounds)
	bareRate, proxyRate := total/wallBare.Seconds(), total/wallProxy.Seconds()
	b.ReportMetric(bareRate, "bare-req/s")
	b.ReportMetric(proxyRate, "proxy-req/s")
	b.ReportMetric(proxyRate/bareRate, "ratio")
	if cpuBare > 0 && cpuProxy > 0 {
		b.ReportMetric(float64(cpuBare.Microseconds())/total, "bare-cpu-µs/req")
		b.ReportMetric(float64(cpuProxy.Microseconds())/total, "proxy-cpu-µs/req")
		b.ReportMetric(float64(cpuBare)/float64(cpuProxy), "cpu-ratio")
	}
}

// cannedTransport answers every request at once, in memory, so that
// BenchmarkServeHTTP measures the handlers alone.
type cannedTransport struct{}

func (cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"text/plain"}},
		Body:    http.NoBody,
		Request: r,
	}, nil
}

// BenchmarkServeHTTP measures the CPU time and allocations of one request
// through each handler, without a network: a bare ReverseProxy, the same
// with the proxy's buffer pool, and the proxy. The difference between the
// last two is what the token check and the re-check machinery cost.
func BenchmarkServeHTTP(b *testing.B) {
	upURL, _ := url.Parse("http://upstream.invalid")
	bare := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upURL)
			pr.SetXForwarded()
		},
		Transport:     cannedTransport{},
		FlushInterval: -1,
	}
	pooled := *bare
	pooled.BufferPool = copyBuffers
	rg := newRig(b, upURL.String(), Options{Transport: cannedTransport{}})
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"bare-pooled", &pooled}, {"proxy", rg.proxy}} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "http://proxy/x", nil)
			req.Header.Set("Authorization", "Bearer "+rg.read)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				tc.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
