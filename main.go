// Command gatepass gives engineers just-in-time, time-boxed access to
// production from Slack: requests, human approval, short-lived tokens,
// expiry, and an audit trail of all of it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/gatepass/gatepass/bot"
	"github.com/gatepass/gatepass/storage"
	"github.com/gatepass/gatepass/tokens"
	"github.com/gatepass/gatepass/workflow"
	"github.com/robfig/cron/v3"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "gatepass: %v\n", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usageText = `gatepass: just-in-time, time-boxed access to production, approved in Slack.

Usage:
  gatepass serve        run the bot (HTTP on GATEPASS_ADDR, Slack over HTTP or Socket Mode)
  gatepass check        validate the policy file and print what it allows
  gatepass playground   try gatepass locally: a Slack stand-in and a web page, no workspace needed
  gatepass version      print the version
  gatepass help         this text

Environment (an empty variable counts as unset):
  SLACK_BOT_TOKEN       bot token (xoxb-…); required for serve
  SLACK_SIGNING_SECRET  verifies Slack's HTTP requests; required unless SLACK_APP_TOKEN is set
  SLACK_APP_TOKEN       app-level token (xapp-…); when set, Slack is reached over Socket Mode
  SLACK_API_URL         base URL of the Slack Web API, with trailing slash (default https://slack.com/api/)
  GATEPASS_CONFIG       policy file (default ./gatepass.yml)
  GATEPASS_DB           SQLite file path or postgres:// URL (default ./gatepass.db)
  GATEPASS_ADDR         HTTP listen address (default :8080)
  GATEPASS_LOG_LEVEL    debug, info, warn or error (default info)
`

// run is gatepass with its environment passed in, so tests can run it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return fmt.Errorf("%w: name a command", errUsage)
	}
	switch args[0] {
	case "serve":
		if len(args) > 1 {
			return fmt.Errorf("%w: serve takes no arguments; it reads its settings from the environment", errUsage)
		}
		return serve(ctx, getenv, stderr, serveOptions{})
	case "check":
		return check(args[1:], getenv, stdout)
	case "playground":
		return playground(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "gatepass", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return nil
	default:
		fmt.Fprint(stderr, usageText)
		return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
}

// check validates a policy file and summarises it.
func check(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stdout)
	path := fs.String("config", "", "policy file (default: GATEPASS_CONFIG, or ./gatepass.yml)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *path == "" {
		*path = getenv("GATEPASS_CONFIG")
	}
	if *path == "" {
		*path = "./gatepass.yml"
	}
	p, warnings, err := workflow.LoadPolicy(*path)
	for _, w := range warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	if err != nil {
		return fmt.Errorf("GATEPASS_CONFIG: %w", err)
	}
	fmt.Fprintf(stdout, "%s is valid: approvals go to %s, announcements to %s; %d introspection key(s).\n", *path, p.ApproverChannel, p.AnnounceChannel, len(p.IntrospectionKeys))
	for _, name := range p.ResourceNames() {
		res := p.Resources[name]
		fmt.Fprintf(stdout, "  %s (approvers %v, break-glass %v)\n", name, res.Approvers, res.BreakGlass)
		for _, ln := range res.LevelNames() {
			l := res.Levels[ln]
			fmt.Fprintf(stdout, "    %s: up to %s, %d approval(s)\n", ln, workflow.FormatDuration(l.MaxDuration), l.Approvals)
		}
	}
	return nil
}

// serveOptions let tests run serve on a listener and clock of their own.
type serveOptions struct {
	listener net.Listener
	clock    workflow.Clock
}

// Shutdown budgets.
const (
	httpDrain     = 5 * time.Second // in-flight HTTP requests
	deliveryDrain = 3 * time.Second // a notice being delivered
	replyDrain    = 2 * time.Second // ephemeral replies under way
)

// serve runs the bot until ctx ends. Nothing starts serving until every
// setting has been checked, the policy loaded, the database migrated and
// the address bound.
func serve(ctx context.Context, getenv func(string) string, stderr io.Writer, opts serveOptions) (err error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	policy, warnings, err := workflow.LoadPolicy(cfg.PolicyPath)
	if err != nil {
		return fmt.Errorf("GATEPASS_CONFIG: %w", err)
	}
	for _, w := range warnings {
		log.Warn("policy file", "warning", w)
	}
	if len(policy.IntrospectionKeys) == 0 {
		log.Warn("policy file has no introspection_keys: every call to /v1/introspect will get 401")
	}
	ln := opts.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return fmt.Errorf("GATEPASS_ADDR: %w", err)
		}
	}
	store, err := storage.Open(ctx, cfg.DB)
	if err != nil {
		ln.Close()
		return fmt.Errorf("GATEPASS_DB: %w", err)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close database: %w", cerr)
		}
	}()
	clock := opts.clock
	if clock == nil {
		clock = workflow.SystemClock{}
	}

	api := newSlackClient(cfg)
	notifier := bot.NewNotifier(api, policy, log)
	directory := bot.NewDirectory(api, time.Minute, clock.Now)
	svc, err := workflow.New(workflow.Config{
		Policy: policy, Store: store, Notifier: notifier, Directory: directory, Clock: clock, Logger: log,
	})
	if err != nil {
		ln.Close()
		return err
	}
	b := bot.New(svc, api, log)
	introspector := tokens.NewIntrospector(svc, policy.IntrospectionKeys, func(err error) {
		log.Error("introspection lookup failed", "err", err)
	})

	// Catch up on everything that ended while gatepass was down, before
	// answering anyone.
	if sw, err := svc.ExpireDue(ctx); err != nil {
		log.Error("expire on start", "err", err)
	} else if sw.Expired+sw.TimedOut > 0 {
		log.Info("caught up on start", "expired", sw.Expired, "timed_out", sw.TimedOut)
	}

	var wg sync.WaitGroup
	deliverCtx, stopDeliveries := context.WithCancel(context.Background())
	workCtx, cancelWork := context.WithCancel(context.Background())
	defer cancelWork()
	deliveriesDone := make(chan struct{})
	go func() {
		defer close(deliveriesDone)
		svc.RunDeliveries(deliverCtx, workCtx)
	}()
	svc.Wake()

	sched := cron.New(cron.WithSeconds(), cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	if _, err := sched.AddFunc("* * * * * *", func() {
		if _, err := svc.ExpireDue(workCtx); err != nil {
			log.Error("expire", "err", err)
		}
		svc.Wake() // retries that have come due
	}); err != nil {
		ln.Close()
		stopDeliveries()
		return fmt.Errorf("schedule expiry: %w", err)
	}
	sched.Start()

	srv := &http.Server{
		Handler:           routes(b, cfg.SigningSecret, introspector, store),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	socketCtx, stopSocket := context.WithCancel(context.Background())
	defer stopSocket()
	if cfg.AppToken != "" {
		client := socketmode.New(api)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.RunSocketMode(socketCtx, client); err != nil {
				log.Error("socket mode stopped", "err", err)
			}
		}()
	}
	go checkSlackAuth(ctx, api, log)

	mode := "http"
	if cfg.AppToken != "" {
		mode = "socket mode"
	}
	log.Info("gatepass serving", "addr", ln.Addr().String(), "slack", mode, "resources", len(policy.Resources), "version", version)

	var serveFailed error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		log.Error("HTTP server stopped", "err", err)
		serveFailed = fmt.Errorf("serve HTTP on %s: %w", ln.Addr(), err)
	}
	log.Info("shutting down")
	httpCtx, cancel := context.WithTimeout(context.Background(), httpDrain)
	defer cancel()
	if err := srv.Shutdown(httpCtx); err != nil {
		log.Warn("HTTP shutdown", "err", err)
	}
	stopSocket()
	wg.Wait()
	<-sched.Stop().Done()
	stopDeliveries()
	select {
	case <-deliveriesDone:
	case <-time.After(deliveryDrain):
		cancelWork()
		<-deliveriesDone
	}
	waitFor(b.Wait, replyDrain)
	log.Info("stopped")
	return serveFailed
}

// waitFor runs wait, giving up on it after d.
func waitFor(wait func(), d time.Duration) {
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// newSlackClient returns a Web API client that retries rate limits (after
// Retry-After), server errors and dropped connections with backoff.
func newSlackClient(cfg config) *slack.Client {
	rc := slack.RetryConfig{
		MaxRetries:         4,
		RetryAfterDuration: 5 * time.Second,
		RetryAfterJitter:   250 * time.Millisecond,
		BackoffInitial:     200 * time.Millisecond,
		BackoffMax:         5 * time.Second,
		BackoffJitter:      100 * time.Millisecond,
	}
	rc.Handlers = append(slack.AllBuiltinRetryHandlers(rc), slack.NewServerErrorRetryHandler(rc))
	opts := []slack.Option{
		slack.OptionAPIURL(cfg.APIURL),
		slack.OptionHTTPClient(&http.Client{Timeout: 10 * time.Second}),
		slack.OptionRetryConfig(rc),
	}
	if cfg.AppToken != "" {
		opts = append(opts, slack.OptionAppLevelToken(cfg.AppToken))
	}
	return slack.New(cfg.BotToken, opts...)
}

// checkSlackAuth asks Slack whether the bot token works, and says so loudly
// if it does not. It never stops gatepass: Slack may merely be unreachable.
func checkSlackAuth(ctx context.Context, api *slack.Client, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := api.AuthTestContext(ctx)
	if err != nil {
		if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok && (se.Err == "invalid_auth" || se.Err == "not_authed" || se.Err == "token_revoked" || se.Err == "account_inactive") {
			log.Error("Slack refused SLACK_BOT_TOKEN; no message can be sent until it is fixed", "error", se.Err)
			return
		}
		log.Warn("could not reach Slack to check SLACK_BOT_TOKEN; will keep trying as messages are sent", "err", err)
		return
	}
	log.Info("connected to Slack", "team", resp.Team, "bot_user", resp.UserID)
}
