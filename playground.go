package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/gatepass/gatepass/fakeslack"
	demo "github.com/gatepass/gatepass/playground"
)

// Playground budgets.
const (
	playgroundStartup  = 15 * time.Second // gatepass answering /healthz
	playgroundStopWait = 15 * time.Second // serve's own drains fit in this
)

// playground runs `gatepass playground`: the real serve against the Slack
// stand-in, with a web page that plays Slack, until ctx ends.
func playground(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("playground", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8088", "where the playground page listens")
	dir := fs.String("dir", "", "keep the policy and the SQLite database in this directory (default: a fresh temporary directory, removed on exit; the Slack stand-in starts empty either way)")
	proxyAddr := fs.String("proxy-addr", demo.DefaultProxyAddr, "where gatepass's HTTP proxy in front of the demo billing API listens (port 0: any free port)")
	open := fs.Bool("open", false, "open the page in a browser")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: playground takes only flags, not %q", errUsage, fs.Arg(0))
	}

	if *dir == "" {
		tmp, err := os.MkdirTemp("", "gatepass-playground-")
		if err != nil {
			return fmt.Errorf("playground: %w", err)
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	} else if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fmt.Errorf("playground -dir: %w", err)
	}

	pageLn, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("playground -addr: %w (choose another with -addr 127.0.0.1:PORT)", err)
	}
	defer pageLn.Close()
	base := "http://" + loopbackAddr(pageLn.Addr())
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("playground: %w", err)
	}
	defer appLn.Close() // serve closes it too; this covers early returns
	appURL := "http://" + appLn.Addr().String()

	// The demo API, and gatepass's proxy in front of it. serve binds the
	// proxy's address itself, from the policy: check now that it is free
	// (and pick a port for port 0), so a clash is named with its flag.
	proxyLn, err := net.Listen("tcp", *proxyAddr)
	if err != nil {
		return fmt.Errorf("playground -proxy-addr: %w (choose another with -proxy-addr 127.0.0.1:PORT)", err)
	}
	proxyAt := proxyLn.Addr().String()
	proxyLn.Close()
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("playground: %w", err)
	}
	defer apiLn.Close()
	apiKey := make([]byte, 16)
	_, _ = rand.Read(apiKey)
	apiSrv := &http.Server{Handler: demo.NewDemoAPI(hex.EncodeToString(apiKey)), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = apiSrv.Serve(apiLn) }()
	defer apiSrv.Close()

	policyPath := filepath.Join(*dir, demo.PolicyFile)
	if err := os.WriteFile(policyPath, demo.PolicyFor(proxyAt, "http://"+apiLn.Addr().String()), 0o600); err != nil {
		return fmt.Errorf("playground: write the policy: %w", err)
	}
	proxyURL := "http://" + loopbackAddr(proxyLn.Addr())

	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	signingSecret := hex.EncodeToString(secret)
	slack := fakeslack.New(demo.SlackOptions(signingSecret, base+demo.SlackPrefix))
	page, err := demo.New(demo.Config{
		Slack:            slack,
		AppURL:           appURL,
		IntrospectionKey: demo.IntrospectionKey,
		Proxy:            &demo.ProxyDemo{Resource: demo.ProxyResource, URL: proxyURL, Path: "/invoices"},
		Log:              newLogger(stderr, slog.LevelInfo, false),
	})
	if err != nil {
		return err
	}
	pageSrv := &http.Server{Handler: page, ReadHeaderTimeout: 5 * time.Second}
	pageErr := make(chan error, 1)
	go func() { pageErr <- pageSrv.Serve(pageLn) }()
	defer func() {
		page.Close()
		_ = slack.Close()
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = pageSrv.Shutdown(shutCtx)
	}()

	env := map[string]string{
		"SLACK_BOT_TOKEN":      demo.BotToken,
		"SLACK_SIGNING_SECRET": signingSecret,
		"SLACK_API_URL":        base + demo.SlackPrefix + "/api/",
		"GATEPASS_CONFIG":      policyPath,
		"GATEPASS_DB":          filepath.Join(*dir, "gatepass.db"),
		"GATEPASS_ADDR":        appLn.Addr().String(),
		demo.APIKeyEnv:         hex.EncodeToString(apiKey),
	}
	serveCtx, stopServe := context.WithCancel(context.Background())
	defer stopServe()
	var serveErr error
	served := make(chan struct{}) // closed once serve has returned serveErr
	go func() {
		defer close(served)
		serveErr = serve(serveCtx, func(k string) string { return env[k] }, stderr, serveOptions{listener: appLn})
	}()
	// stop ends serve and waits for it. It runs before the deferred calls
	// above close the page, as serve may still be talking to the stand-in,
	// and before the temporary directory holding its database is removed.
	stop := func() error {
		stopServe()
		select {
		case <-served:
			return serveErr
		case <-time.After(playgroundStopWait):
			return errors.New("playground: gatepass did not stop in time")
		}
	}
	defer func() {
		if serr := stop(); serr != nil && err == nil {
			err = serr
		}
	}()

	if err := waitHealthy(ctx, appURL, served); err != nil {
		if serr := stop(); serr != nil {
			return fmt.Errorf("playground: gatepass: %w", serr)
		}
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	slack.SetAppURL(appURL)

	fmt.Fprintf(stdout, "gatepass playground is running: open %s/\n", base)
	fmt.Fprintf(stdout, "  As alice, type /access for the request form, or /access prod-db read 2m INC-1 checking; switch to bob and click Approve.\n")
	fmt.Fprintf(stdout, "  Check a token as a production service would:\n")
	fmt.Fprintf(stdout, "    curl -s -H 'Authorization: Bearer %s' -d token=gpass_… %s/v1/introspect\n", demo.IntrospectionKey, base)
	fmt.Fprintf(stdout, "  %s sits behind gatepass's HTTP proxy: ask for /access %s read 2m INC-2, have carol approve, then\n", demo.ProxyResource, demo.ProxyResource)
	fmt.Fprintf(stdout, "    curl -s -H 'Authorization: Bearer gpass_…' %s/invoices\n", proxyURL)
	fmt.Fprintf(stdout, "    curl -s -H 'Authorization: Bearer gpass_…' -d '{\"customer\":\"Acme Corp\",\"amount\":120}' %s/invoices\n", proxyURL)
	fmt.Fprintf(stdout, "  (a read token may GET, a write token may also POST; once the grant ends, the proxy answers 401)\n")
	fmt.Fprintf(stdout, "  Press Ctrl-C to stop.\n")
	if *open {
		if err := openBrowser(base + "/"); err != nil {
			fmt.Fprintf(stderr, "playground: could not open a browser (%v); open %s/ yourself\n", err, base)
		}
	}

	select {
	case <-ctx.Done():
		return nil // the deferred stop reports how serve ended
	case <-served:
		if serveErr == nil {
			return errors.New("playground: gatepass stopped")
		}
		return fmt.Errorf("playground: gatepass: %w", serveErr)
	case err := <-pageErr:
		return fmt.Errorf("playground page: %w", err)
	}
}

// loopbackAddr is addr as a browser on this machine reaches it: a wildcard
// host becomes 127.0.0.1.
func loopbackAddr(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// waitHealthy waits until gatepass at appURL answers /healthz, serve ends
// (served is closed), or ctx ends.
func waitHealthy(ctx context.Context, appURL string, served <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.After(playgroundStartup)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(appURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-served:
			return errors.New("playground: gatepass stopped before it was ready")
		case <-ctx.Done():
			return nil // the caller stops
		case <-deadline:
			return fmt.Errorf("playground: gatepass did not answer %s/healthz within %s", appURL, playgroundStartup)
		case <-tick.C:
		}
	}
}

// openBrowser asks the desktop to open url.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
