// Command gatepass gives engineers just-in-time, time-boxed access to
// production from Slack: requests, human approval, short-lived tokens,
// expiry, and an audit trail of all of it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatepass/gatepass/bot"
	"github.com/gatepass/gatepass/metrics"
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
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if strings.EqualFold(strings.TrimSpace(os.Getenv("GATEPASS_LOG_FORMAT")), "json") {
			// One JSON object per line, the last one too.
			_ = json.NewEncoder(os.Stderr).Encode(map[string]string{
				"time": time.Now().Format(time.RFC3339Nano), "level": "ERROR", "msg": "gatepass stopped", "err": redact(err.Error())})
		} else {
			fmt.Fprintf(os.Stderr, "gatepass: %v\n", redact(err.Error()))
		}
		var ex *exitError
		switch {
		case errors.As(err, &ex):
			os.Exit(ex.code)
		case errors.Is(err, errUsage):
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// exitError ends gatepass with a particular status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

const usageText = `gatepass: just-in-time, time-boxed access to production, approved in Slack.

Usage:
  gatepass serve                 run the bot (HTTP on GATEPASS_ADDR, Slack over HTTP or Socket Mode)
  gatepass check [-config F]     validate the policy file and print what it allows
  gatepass grants                list live grants (reads GATEPASS_DB; works without Slack)
  gatepass revoke ID --reason R  end a grant now, without Slack; a running serve honours it within a second
  gatepass token inspect         read a token on stdin and print what introspection would answer
  gatepass audit verify          check the audit log's hash chain; exit 1 naming the first bad event
  gatepass audit export [flags]  write audit events as JSON Lines (or --format csv) to stdout
  gatepass playground   try gatepass locally: a Slack stand-in and a web page, no workspace needed
  gatepass version               print the version
  gatepass help                  this text

Environment (an empty variable counts as unset):
  SLACK_BOT_TOKEN       bot token (xoxb-…); required for serve
  SLACK_SIGNING_SECRET  verifies Slack's HTTP requests; required unless SLACK_APP_TOKEN is set
  SLACK_APP_TOKEN       app-level token (xapp-…); when set, Slack is reached over Socket Mode
  SLACK_API_URL         base URL of the Slack Web API, with trailing slash (default https://slack.com/api/)
  GATEPASS_CONFIG       policy file (default ./gatepass.yml)
  GATEPASS_DB           SQLite file path or postgres:// URL (default ./gatepass.db)
  GATEPASS_ADDR         HTTP listen address (default :8080)
  GATEPASS_LOG_LEVEL    debug, info, warn or error (default info)
  GATEPASS_LOG_FORMAT   text or json (default text)
`

// run is gatepass with its environment passed in, so tests can run it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
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
		return check(ctx, args[1:], getenv, stdout)
	case "grants":
		return adminGrants(ctx, args[1:], getenv, stdout, stderr)
	case "revoke":
		return adminRevoke(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		return adminToken(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "audit":
		return adminAudit(ctx, args[1:], getenv, stdout, stderr)
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
	flushDrain    = 3 * time.Second // the last counts of token use
)

// socketGrace is how long Socket Mode may be down before /healthz says so.
const socketGrace = time.Minute

// serve runs the bot until ctx ends. Nothing starts serving until every
// setting has been checked, the policy loaded, the providers checked, the
// database migrated and the address bound.
func serve(ctx context.Context, getenv func(string) string, stderr io.Writer, opts serveOptions) (err error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel, cfg.LogJSON)
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
	clock := opts.clock
	if clock == nil {
		clock = workflow.SystemClock{}
	}
	provs, err := openProviders(ctx, policy, getenv, log)
	if err != nil {
		return fmt.Errorf("GATEPASS_CONFIG: %w", err)
	}
	defer provs.close()

	ln := opts.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return fmt.Errorf("GATEPASS_ADDR: %w", err)
		}
	}
	proxyLns, err := provs.listen()
	if err != nil {
		ln.Close()
		return fmt.Errorf("GATEPASS_CONFIG: %w", err)
	}
	store, err := storage.OpenWith(ctx, cfg.DB, storage.Options{Logger: log})
	if err != nil {
		ln.Close()
		closeAll(proxyLns)
		return fmt.Errorf("GATEPASS_DB: %w", err)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close database: %w", cerr)
		}
	}()

	// fatal ends serve with an error: Slack refused gatepass's credentials.
	fatal := make(chan error, 1)
	stopWith := func(err error) {
		select {
		case fatal <- err:
		default:
		}
	}

	met := metrics.New(storeState{store})
	api := newSlackClient(cfg)
	notifier := bot.NewNotifier(api, policy, log)
	notifier.OnError = met.SlackError
	notifier.OnAuthRejected = func(err error) { stopWith(fmt.Errorf("SLACK_BOT_TOKEN: Slack refused it: %w", err)) }
	directory := bot.NewDirectory(api, time.Minute, clock.Now)
	svc, err := workflow.New(workflow.Config{
		Policy: policy, Store: store, Notifier: notifier, Directory: directory, Clock: clock, Logger: log,
		Providers: provs.byResource, Metrics: met,
	})
	if err != nil {
		ln.Close()
		closeAll(proxyLns)
		return err
	}
	store.OnChange(svc.Wake)
	provs.attach(svc)
	b := bot.New(svc, api, log)
	b.OnAppTokenRejected = func(err error) { stopWith(fmt.Errorf("SLACK_APP_TOKEN: %w", err)) }
	introspector := tokens.NewIntrospector(svc, policy.IntrospectionKeys, func(err error) {
		log.Error("introspection lookup failed", "err", err)
	})

	// Slack's word on the bot token, before anything is promised: a token
	// Slack rejects stops serve here; one it cannot be asked about (Slack
	// unreachable) is checked again as messages are sent.
	if err := checkSlackAuth(ctx, api, log); err != nil {
		ln.Close()
		closeAll(proxyLns)
		return err
	}

	// Catch up on everything that ended while gatepass was down, and on
	// what a crash may have left behind, before answering anyone.
	if sw, err := svc.ExpireDue(ctx); err != nil {
		log.Error("expire on start", "err", err)
	} else if sw.Expired+sw.TimedOut+sw.Failed > 0 {
		log.Info("caught up on start", "expired", sw.Expired, "timed_out", sw.TimedOut, "failed", sw.Failed)
	}
	if err := svc.ReconcileProviders(ctx); err != nil {
		log.Error("clean up what providers left behind", "err", err)
	}

	var wg sync.WaitGroup
	bg := func(fn func()) {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	// Loops that stop with the process: following other processes'
	// changes, counting use.
	loopCtx, stopLoops := context.WithCancel(context.Background())
	defer stopLoops()
	bg(func() { _ = store.Follow(loopCtx) })
	usageCtx, stopUsage := context.WithCancel(context.Background())
	defer stopUsage()
	usageDone := make(chan struct{})
	go func() { defer close(usageDone); svc.RunUsage(usageCtx) }()

	deliverCtx, stopDeliveries := context.WithCancel(context.Background())
	defer stopDeliveries()
	workCtx, cancelWork := context.WithCancel(context.Background())
	defer cancelWork()
	deliveriesDone := make(chan struct{})
	go func() {
		defer close(deliveriesDone)
		svc.RunDeliveries(deliverCtx, workCtx)
	}()
	announcerDone := make(chan struct{})
	go func() { defer close(announcerDone); svc.RunAnnouncer(deliverCtx) }()
	svc.Wake()

	sched := cron.New(cron.WithSeconds(), cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	if _, err := sched.AddFunc("* * * * * *", func() {
		if _, err := svc.ExpireDue(workCtx); err != nil && workCtx.Err() == nil {
			log.Error("expire", "err", err)
		}
		svc.Wake() // retries that have come due
	}); err != nil {
		ln.Close()
		closeAll(proxyLns)
		stopDeliveries()
		return fmt.Errorf("schedule expiry: %w", err)
	}
	if _, err := sched.AddFunc("0 */5 * * * *", func() { housekeeping(workCtx, svc, store, policy, log) }); err != nil {
		return fmt.Errorf("schedule housekeeping: %w", err)
	}
	sched.Start()

	health := healthCheck{store: store, bot: b, socket: cfg.AppToken != "", now: clock.Now}
	srv := &http.Server{
		Handler:           routes(b, cfg.SigningSecret, measured(introspector, met), health, met.Handler()),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	proxyErr := provs.serve(loopCtx, proxyLns, &wg)

	socketCtx, stopSocket := context.WithCancel(context.Background())
	defer stopSocket()
	if cfg.AppToken != "" {
		client := socketmode.New(api)
		bg(func() {
			if err := b.RunSocketMode(socketCtx, client); err != nil {
				log.Error("socket mode stopped", "err", err)
				if _, rejected := bot.AuthRejection(err); rejected {
					stopWith(fmt.Errorf("SLACK_APP_TOKEN: Slack refused it: %w", err))
				}
			}
		})
	}

	mode := "http"
	if cfg.AppToken != "" {
		mode = "socket mode"
	}
	log.Info("gatepass serving", "addr", ln.Addr().String(), "slack", mode, "resources", len(policy.Resources), "database", storeKind(cfg.DB), "version", version)

	var failed error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		log.Error("HTTP server stopped", "err", err)
		failed = fmt.Errorf("serve HTTP on %s: %w", ln.Addr(), err)
	case err := <-proxyErr:
		log.Error("a provider's proxy stopped", "err", err)
		failed = err
	case err := <-fatal:
		log.Error("stopping: Slack refused gatepass's credentials", "err", err)
		failed = &exitError{code: 3, err: err}
	}
	log.Info("shutting down")
	httpCtx, cancel := context.WithTimeout(context.Background(), httpDrain)
	defer cancel()
	if err := srv.Shutdown(httpCtx); err != nil {
		log.Warn("HTTP shutdown", "err", err)
	}
	stopSocket()
	<-sched.Stop().Done()
	stopDeliveries()
	select {
	case <-deliveriesDone:
	case <-time.After(deliveryDrain):
		cancelWork()
		<-deliveriesDone
	}
	<-announcerDone
	waitFor(b.Wait, replyDrain)
	stopUsage()
	<-usageDone
	fctx, fcancel := context.WithTimeout(context.Background(), flushDrain)
	if err := svc.FlushUses(fctx); err != nil {
		log.Error("record the last token use", "err", err)
	}
	fcancel()
	stopLoops()
	wg.Wait()
	log.Info("stopped")
	return failed
}

// housekeeping runs every few minutes: forgetting Slack requests whose
// replay window has passed, pruning what the retention policy allows.
func housekeeping(ctx context.Context, svc *workflow.Service, store *storage.Store, policy *workflow.Policy, log *slog.Logger) {
	if n, err := store.PruneReplays(ctx, svc.Now()); err != nil {
		log.Warn("forget old Slack requests", "err", err)
	} else if n > 0 {
		log.Debug("forgot old Slack requests", "count", n)
	}
	if policy.Retention > 0 {
		res, err := store.Prune(ctx, svc.Now().Add(-policy.Retention))
		if err != nil {
			log.Error("retention prune", "err", err)
		} else if res.Requests > 0 || res.Events > 0 {
			log.Info("retention prune", "requests", res.Requests, "events", res.Events)
		}
	}
	store.Optimize(ctx)
}

func storeKind(dsn string) string {
	if storage.IsPostgres(dsn) {
		return "postgres"
	}
	return "sqlite"
}

// storeState feeds the metrics' gauges.
type storeState struct{ s *storage.Store }

func (s storeState) LiveGrants() int { return s.s.IndexSize() }
func (s storeState) QueueStats(ctx context.Context) (workflow.QueueStats, error) {
	return s.s.QueueStats(ctx)
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

func closeAll(lns []net.Listener) {
	for _, l := range lns {
		l.Close()
	}
}

// newSlackClient returns a Web API client that retries server errors and
// dropped connections with a short backoff. A rate limit (429) is not
// waited out inside the call: it is handed to the outbox, which delays
// only the notices for that channel.
func newSlackClient(cfg config) *slack.Client {
	rc := slack.RetryConfig{
		MaxRetries:     2,
		BackoffInitial: 200 * time.Millisecond,
		BackoffMax:     2 * time.Second,
		BackoffJitter:  100 * time.Millisecond,
	}
	rc.Handlers = []slack.RetryHandler{slack.NewConnectionErrorRetryHandler(), slack.NewServerErrorRetryHandler(rc)}
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

// checkSlackAuth asks Slack whether the bot token works. A token Slack
// refuses is an error naming SLACK_BOT_TOKEN; Slack being unreachable is
// not (it is asked again as messages are sent).
func checkSlackAuth(ctx context.Context, api *slack.Client, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := api.AuthTestContext(ctx)
	if err != nil {
		if code, rejected := bot.AuthRejection(err); rejected {
			return &exitError{code: 3, err: fmt.Errorf("SLACK_BOT_TOKEN: Slack refused it (%s); give the bot token from the Slack app's OAuth page", code)}
		}
		log.Warn("could not reach Slack to check SLACK_BOT_TOKEN; will keep trying as messages are sent", "err", err)
		return nil
	}
	log.Info("connected to Slack", "team", resp.Team, "bot_user", resp.UserID)
	return nil
}
