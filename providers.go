package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatepass/gatepass/providers/httpproxy"
	"github.com/gatepass/gatepass/providers/postgres"
	"github.com/gatepass/gatepass/providers/webhook"
	"github.com/gatepass/gatepass/tokens"
	"github.com/gatepass/gatepass/workflow"
)

// providerSet is the providers the policy names, by resource.
type providerSet struct {
	byResource map[string]workflow.Provider
	proxies    map[string]*httpproxy.Proxy // by resource
	listens    map[string]string           // proxy listen address, by resource
	postgres   []*postgres.Provider
	lookup     *lazyLookup
}

// lazyLookup lets a proxy, made before the workflow, ask it about tokens
// once it exists.
type lazyLookup struct {
	svc atomic.Pointer[workflow.Service]
}

func (l *lazyLookup) LookupToken(ctx context.Context, token string) (tokens.Claims, bool, error) {
	svc := l.svc.Load()
	if svc == nil {
		return tokens.Claims{}, false, errors.New("gatepass is starting")
	}
	return svc.LookupToken(ctx, token)
}

// providerCheckTimeout bounds checking a provider at start.
const providerCheckTimeout = 10 * time.Second

// openProviders builds and checks every provider the policy names: the
// environment variables they read must be set, and a postgres admin DSN
// must connect with CREATEROLE.
func openProviders(ctx context.Context, policy *workflow.Policy, getenv func(string) string, log *slog.Logger) (*providerSet, error) {
	ps := &providerSet{byResource: map[string]workflow.Provider{}, proxies: map[string]*httpproxy.Proxy{}, listens: map[string]string{}, lookup: &lazyLookup{}}
	var errs []error
	seen := map[string]string{}
	for _, name := range policy.ResourceNames() {
		res := policy.Resources[name]
		if res.Provider == nil {
			continue
		}
		switch res.Provider.Kind {
		case workflow.ProviderPostgres:
			p, err := postgres.New(*res.Provider.Postgres, getenv)
			if err != nil {
				errs = append(errs, fmt.Errorf("resources.%s.provider.postgres: %w", name, err))
				continue
			}
			p.Logger = log
			cctx, cancel := context.WithTimeout(ctx, providerCheckTimeout)
			err = p.Check(cctx)
			cancel()
			if err != nil {
				p.Close()
				errs = append(errs, fmt.Errorf("resources.%s.provider.postgres: %w", name, err))
				continue
			}
			ps.postgres = append(ps.postgres, p)
			ps.byResource[name] = p
		case workflow.ProviderWebhook:
			p, err := webhook.New(*res.Provider.Webhook, getenv, nil)
			if err != nil {
				errs = append(errs, fmt.Errorf("resources.%s.provider.webhook: %w", name, err))
				continue
			}
			ps.byResource[name] = p
		case workflow.ProviderHTTPProxy:
			cfg := *res.Provider.HTTPProxy
			if other, ok := seen[cfg.Listen]; ok {
				errs = append(errs, fmt.Errorf("resources.%s.provider.http_proxy.listen: %s is already the proxy of %s", name, cfg.Listen, other))
				continue
			}
			seen[cfg.Listen] = name
			methods := map[string][]string{}
			for ln, l := range res.Levels {
				methods[ln] = l.Methods
			}
			client := "proxy:" + name // uses are counted under this name
			p, err := httpproxy.New(cfg, name, methods, ps.lookup, httpproxy.Options{
				Getenv: getenv, Logger: log,
				OnUse: func(c tokens.Claims) {
					if svc := ps.lookup.svc.Load(); svc != nil {
						svc.RecordUse(c, client)
					}
				},
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("resources.%s.provider.http_proxy: %w", name, err))
				continue
			}
			ps.proxies[name] = p
			ps.listens[name] = cfg.Listen
			ps.byResource[name] = p
		}
	}
	if len(errs) > 0 {
		ps.close()
		return nil, errors.Join(errs...)
	}
	return ps, nil
}

// attach hands the proxies the workflow to ask about tokens.
func (ps *providerSet) attach(svc *workflow.Service) { ps.lookup.svc.Store(svc) }

// listen binds every proxy's address, so a taken port stops serve before
// anything starts.
func (ps *providerSet) listen() ([]net.Listener, error) {
	names := make([]string, 0, len(ps.proxies))
	for n := range ps.proxies {
		names = append(names, n)
	}
	sort.Strings(names)
	var lns []net.Listener
	for _, n := range names {
		ln, err := net.Listen("tcp", ps.listens[n])
		if err != nil {
			closeAll(lns)
			return nil, fmt.Errorf("resources.%s.provider.http_proxy.listen: %w", n, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// serve runs every proxy on its listener until ctx ends; the channel hears
// of a proxy that stopped on its own.
func (ps *providerSet) serve(ctx context.Context, lns []net.Listener, wg *sync.WaitGroup) <-chan error {
	errc := make(chan error, len(lns)+1)
	names := make([]string, 0, len(ps.proxies))
	for n := range ps.proxies {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		p, ln := ps.proxies[n], lns[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Serve(ctx, ln); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("proxy of %s on %s: %w", n, ln.Addr(), err)
			}
		}()
	}
	return errc
}

func (ps *providerSet) close() {
	for _, p := range ps.postgres {
		p.Close()
	}
}
