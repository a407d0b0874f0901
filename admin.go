package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatepass/gatepass/audit"
	"github.com/gatepass/gatepass/providers/postgres"
	"github.com/gatepass/gatepass/storage"
	"github.com/gatepass/gatepass/tokens"
	"github.com/gatepass/gatepass/workflow"
)

// Commands an operator runs on the database directly: they work when Slack
// does not. Changes they make (a revocation) are queued as notices that a
// running serve delivers once Slack answers, and its introspection honours
// them within a second through the change feed.

// policyPath is GATEPASS_CONFIG or ./gatepass.yml, and whether it was set.
func policyPath(getenv func(string) string) (string, bool) {
	if p := strings.TrimSpace(getenv("GATEPASS_CONFIG")); p != "" {
		return p, true
	}
	return "./gatepass.yml", false
}

// loadPolicy reads the policy, with errors that say how to fix a missing
// file.
func loadPolicy(path string, fromEnv bool, flagName string) (*workflow.Policy, []string, error) {
	p, warnings, err := workflow.LoadPolicy(path)
	if err != nil {
		where := "GATEPASS_CONFIG"
		if flagName != "" {
			where = flagName
		}
		if errors.Is(err, os.ErrNotExist) {
			if !fromEnv && flagName == "" {
				return nil, warnings, fmt.Errorf("no policy file at %s: start from the example (cp gatepass.example.yml gatepass.yml), or name one with -config or GATEPASS_CONFIG", path)
			}
			return nil, warnings, fmt.Errorf("%s: no policy file at %s", where, path)
		}
		return nil, warnings, fmt.Errorf("%s: %w", where, err)
	}
	return p, warnings, nil
}

// check validates a policy file and summarises it, with what each provider
// would do.
func check(_ context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stdout)
	path := fs.String("config", "", "policy file (default: GATEPASS_CONFIG, or ./gatepass.yml)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	fromEnv, flagName := false, ""
	if *path == "" {
		*path, fromEnv = policyPath(getenv)
	} else {
		flagName = "-config"
	}
	p, warnings, err := loadPolicy(*path, fromEnv, flagName)
	for _, w := range warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s is valid: approvals go to %s, announcements to %s; %d introspection key(s).\n", *path, p.ApproverChannel, p.AnnounceChannel, len(p.IntrospectionKeys))
	for _, name := range p.ResourceNames() {
		res := p.Resources[name]
		fmt.Fprintf(stdout, "  %s (approvers %v, break-glass %v)\n", name, res.Approvers, res.BreakGlass)
		for _, ln := range res.LevelNames() {
			l := res.Levels[ln]
			fmt.Fprintf(stdout, "    %s: up to %s, %d approval(s)", ln, workflow.FormatDuration(l.MaxDuration), l.Approvals)
			if len(l.Roles) > 0 {
				fmt.Fprintf(stdout, ", roles %v", l.Roles)
			}
			if len(l.Methods) > 0 {
				fmt.Fprintf(stdout, ", methods %v", l.Methods)
			}
			fmt.Fprintln(stdout)
		}
		if res.Provider != nil {
			fmt.Fprintf(stdout, "    provider: %s\n", describeProvider(res.Provider, getenv))
		}
	}
	return nil
}

// describeProvider says what a provider would do, and what serve will need
// that is missing now.
func describeProvider(c *workflow.ProviderConfig, getenv func(string) string) string {
	switch c.Kind {
	case workflow.ProviderPostgres:
		p, err := postgres.New(*c.Postgres, getenv)
		if err != nil {
			return fmt.Sprintf("postgres: a login role per grant (serve will fail now: %v)", err)
		}
		defer p.Close()
		return p.Describe()
	case workflow.ProviderHTTPProxy:
		s := fmt.Sprintf("http_proxy: listens on %s and forwards requests with an active token to %s", c.HTTPProxy.Listen, c.HTTPProxy.Upstream)
		var missing []string
		for _, v := range c.HTTPProxy.UpstreamHeaders {
			for _, name := range envRefs(v) {
				if getenv(name) == "" {
					missing = append(missing, name)
				}
			}
		}
		if len(missing) > 0 {
			s += fmt.Sprintf(" (serve needs %s set)", strings.Join(missing, ", "))
		}
		return s
	case workflow.ProviderWebhook:
		s := fmt.Sprintf("webhook: signed grant and revoke events to %s", c.Webhook.URL)
		if getenv(c.Webhook.SecretEnv) == "" {
			s += fmt.Sprintf(" (serve needs %s set)", c.Webhook.SecretEnv)
		}
		return s
	}
	return c.Kind
}

// envRefs lists the ${VAR} names in s.
func envRefs(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return out
		}
		out = append(out, s[i+2:i+j])
		s = s[i+j+1:]
	}
}

// adminPolicy is the policy serve runs with, for the admin commands. They
// work on GATEPASS_DB alone: without GATEPASS_CONFIG and without a
// ./gatepass.yml, the policy is unknown (known is false) and empty.
func adminPolicy(getenv func(string) string) (p *workflow.Policy, known bool, err error) {
	path, fromEnv := policyPath(getenv)
	if !fromEnv {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return &workflow.Policy{}, false, nil
		}
	}
	p, _, err = loadPolicy(path, fromEnv, "")
	return p, err == nil, err
}

// openForAdmin opens the database and a workflow over it that queues, but
// never delivers, notices: a running serve delivers them.
func openForAdmin(ctx context.Context, getenv func(string) string) (*storage.Store, *workflow.Service, error) {
	dsn := strings.TrimSpace(getenv("GATEPASS_DB"))
	if dsn == "" {
		dsn = "./gatepass.db"
	}
	if !storage.IsPostgres(dsn) {
		if _, err := os.Stat(dsn); err != nil {
			return nil, nil, fmt.Errorf("GATEPASS_DB: no database at %s (set GATEPASS_DB to gatepass serve's database)", dsn)
		}
	}
	p, known, err := adminPolicy(getenv)
	if err != nil {
		return nil, nil, err
	}
	store, err := storage.Open(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("GATEPASS_DB: %w", err)
	}
	provs := map[string]workflow.Provider{}
	for name, res := range p.Resources {
		if res.Provider != nil {
			provs[name] = servedElsewhere{}
		}
	}
	if !known {
		// Without the policy, which resources have a provider is unknown:
		// a revocation asks serve to undo what a provider made for any
		// resource with live grants, and serve ignores the ask where none
		// did.
		var names []string
		if err := store.DB().WithContext(ctx).Raw("SELECT DISTINCT resource FROM requests WHERE state = ?", string(workflow.StateActive)).Scan(&names).Error; err != nil {
			store.Close()
			return nil, nil, fmt.Errorf("GATEPASS_DB: read live grants' resources: %w", err)
		}
		for _, name := range names {
			provs[name] = servedElsewhere{}
		}
	}
	svc, err := workflow.New(workflow.Config{Policy: p, Store: store, Notifier: servedElsewhere{}, Clock: workflow.SystemClock{}, Providers: provs})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, svc, nil
}

// servedElsewhere stands for the notifier and providers of the running
// serve: the admin commands queue their work, serve carries it out.
type servedElsewhere struct{}

var errServedElsewhere = errors.New("delivered by gatepass serve")

func (servedElsewhere) Notify(context.Context, workflow.Notice) ([]workflow.MessageRef, error) {
	return nil, errServedElsewhere
}
func (servedElsewhere) Announce(context.Context, string, []workflow.Notice) error {
	return errServedElsewhere
}
func (servedElsewhere) Grant(context.Context, workflow.ProviderGrant) (workflow.Credential, error) {
	return workflow.Credential{}, errServedElsewhere
}
func (servedElsewhere) Extend(context.Context, workflow.ProviderGrant) error {
	return errServedElsewhere
}
func (servedElsewhere) Revoke(context.Context, workflow.ProviderGrant) error {
	return errServedElsewhere
}
func (servedElsewhere) Reconcile(context.Context, []workflow.ProviderGrant) error {
	return errServedElsewhere
}

// adminGrants lists live grants.
func adminGrants(ctx context.Context, args []string, getenv func(string) string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("grants", flag.ContinueOnError)
	fs.SetOutput(stdout)
	asJSON := fs.Bool("json", false, "one JSON object per grant")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	store, svc, err := openForAdmin(ctx, getenv)
	if err != nil {
		return err
	}
	defer store.Close()
	rs, err := store.Find(ctx, workflow.Query{States: []workflow.State{workflow.StateActive}, Limit: 100000})
	if err != nil {
		return err
	}
	now := svc.Now()
	var live []workflow.Request
	ids := []string{}
	for _, r := range rs {
		if r.ActiveAt(now) {
			live = append(live, r)
			ids = append(ids, r.ID)
		}
	}
	uses, err := svc.UsesOf(ctx, ids)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range live {
			if err := enc.Encode(map[string]any{
				"request_id": r.ID, "sub": r.Requester, "resource": r.Resource, "level": r.Level, "ticket": r.Ticket,
				"iat": r.Grant.IssuedAt.Unix(), "exp": r.Grant.ExpiresAt.Unix(), "break_glass": r.BreakGlass,
				"delivered": !r.Grant.DeliveredAt.IsZero(), "uses": workflow.UseSummary(uses[r.ID]),
			}); err != nil {
				return err
			}
		}
		return nil
	}
	if len(live) == 0 {
		fmt.Fprintln(stdout, "No live grants.")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REQUEST\tREQUESTER\tSCOPE\tTICKET\tEXPIRES\tLEFT\tKIND\tUSE")
	for _, r := range live {
		kind := "approved"
		if r.BreakGlass {
			kind = "break-glass"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Requester, r.Scope(), r.Ticket,
			r.Grant.ExpiresAt.UTC().Format(time.RFC3339), workflow.FormatDuration(r.Grant.ExpiresAt.Sub(now)), kind, workflow.UseSummary(uses[r.ID]))
	}
	return tw.Flush()
}

// interleaved parses flags that may come before or after the positional
// arguments (`revoke ID --reason R` and `revoke --reason R ID`).
func interleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) > 0 {
			pos = append(pos, args[0])
			args = args[1:]
		}
	}
	return pos, nil
}

// adminRevoke ends a grant (or withdraws a pending request) without Slack.
func adminRevoke(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("revoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	reason := fs.String("reason", "", "why (required; it goes into the audit log and the announcement)")
	by := fs.String("by", "", "who is revoking (default: cli:$USER)")
	pos, err := interleaved(fs, args)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: gatepass revoke <request-id> --reason \"…\"", errUsage)
	}
	if strings.TrimSpace(*reason) == "" {
		return fmt.Errorf("%w: say why with --reason \"…\"; it goes into the audit log", errUsage)
	}
	actor := *by
	if actor == "" {
		u := getenv("USER")
		if u == "" {
			u = "operator"
		}
		actor = "cli:" + u
	}
	store, svc, err := openForAdmin(ctx, getenv)
	if err != nil {
		return err
	}
	defer store.Close()
	r, err := svc.RevokeAsOperator(ctx, pos[0], actor, strings.TrimSpace(*reason))
	if err != nil {
		if msg := workflow.UserMessage(err); msg != "" {
			return errors.New(strings.ReplaceAll(strings.ReplaceAll(msg, "`", ""), "<@", "@"))
		}
		return err
	}
	if r.State == workflow.StateWithdrawn {
		fmt.Fprintf(stdout, "Withdrew pending request %s (%s for %s, ticket %s).\n", r.ID, r.Scope(), r.Requester, r.Ticket)
	} else {
		fmt.Fprintf(stdout, "Revoked %s: %s's %s access (ticket %s) has ended. A running gatepass serve refuses its token within a second and announces the revocation in Slack once Slack answers.\n",
			r.ID, r.Requester, r.Scope(), r.Ticket)
	}
	return nil
}

// adminToken reads a token on stdin and prints what introspection would
// answer. The token itself is never printed.
func adminToken(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) != 1 || args[0] != "inspect" {
		return fmt.Errorf("%w: gatepass token inspect < token-file (the token is read from stdin, never from the command line)", errUsage)
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the token from stdin: %w", err)
	}
	token := strings.TrimSpace(line)
	if token == "" {
		return fmt.Errorf("%w: give the token on stdin, e.g. gatepass token inspect < token.txt", errUsage)
	}
	enc := json.NewEncoder(stdout)
	if !tokens.Valid(token) {
		fmt.Fprintln(stderr, "not a well-formed gatepass token (gpass_ prefix, base62, checksum)")
		return enc.Encode(map[string]bool{"active": false})
	}
	store, svc, err := openForAdmin(ctx, getenv)
	if err != nil {
		return err
	}
	defer store.Close()
	c, ok, err := svc.LookupToken(ctx, token)
	if err != nil {
		return err
	}
	if !ok {
		return enc.Encode(map[string]bool{"active": false})
	}
	return enc.Encode(map[string]any{
		"active": true, "scope": c.Scope(), "resource": c.Resource, "level": c.Level, "sub": c.Subject,
		"exp": c.ExpiresAt.Unix(), "iat": c.IssuedAt.Unix(), "ticket": c.Ticket, "request_id": c.RequestID,
		"break_glass": c.BreakGlass, "token_type": "Bearer",
	})
}

// adminAudit verifies or exports the audit log.
func adminAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "export") {
		return fmt.Errorf("%w: gatepass audit verify | gatepass audit export [--since RFC3339] [--until RFC3339] [--ticket T] [--resource R] [--format jsonl|csv]", errUsage)
	}
	dsn := strings.TrimSpace(getenv("GATEPASS_DB"))
	if dsn == "" {
		dsn = "./gatepass.db"
	}
	if !storage.IsPostgres(dsn) {
		if _, err := os.Stat(dsn); err != nil {
			return fmt.Errorf("GATEPASS_DB: no database at %s", dsn)
		}
	}
	if args[0] == "verify" {
		if len(args) > 1 {
			return fmt.Errorf("%w: audit verify takes no arguments", errUsage)
		}
		store, err := storage.Open(ctx, dsn)
		if err != nil {
			return fmt.Errorf("GATEPASS_DB: %w", err)
		}
		defer store.Close()
		n, last, err := store.VerifyAudit(ctx)
		if fault, ok := errors.AsType[*audit.Fault](err); ok {
			return &exitError{code: 1, err: fmt.Errorf("the audit log is broken at event %d: %s (%d events before it hold)", fault.Seq, fault.Reason, max(0, fault.Seq-1-firstSeq(n, last)))}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "The audit log holds: %d events, each linked to the one before it.\nTip: event %d, hash %s\n", n, last.Seq, last.Hash)
		return nil
	}
	fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	since := fs.String("since", "", "only events at or after this time (RFC 3339)")
	until := fs.String("until", "", "only events before this time (RFC 3339)")
	ticket := fs.String("ticket", "", "only events of requests with this ticket")
	resource := fs.String("resource", "", "only events of this resource")
	format := fs.String("format", "jsonl", "jsonl (one JSON object per line) or csv")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected %q", errUsage, fs.Arg(0))
	}
	var f storage.AuditFilter
	var err error
	if f.Since, err = parseTimeFlag("--since", *since); err != nil {
		return err
	}
	if f.Until, err = parseTimeFlag("--until", *until); err != nil {
		return err
	}
	f.Ticket, f.Resource = *ticket, *resource
	if *format != "jsonl" && *format != "csv" && *format != "json" {
		return fmt.Errorf("%w: --format is jsonl or csv, not %q", errUsage, *format)
	}
	store, err := storage.Open(ctx, dsn)
	if err != nil {
		return fmt.Errorf("GATEPASS_DB: %w", err)
	}
	defer store.Close()
	w := bufio.NewWriterSize(stdout, 64<<10)
	defer w.Flush()
	if *format == "csv" {
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"seq", "time", "request_id", "type", "actor", "resource", "level", "ticket", "detail", "hash", "prev_hash"})
		err = store.ScanAudit(ctx, f, func(e *audit.Event) error {
			return cw.Write([]string{strconv.FormatInt(e.Seq, 10), audit.FormatTime(e.Time), e.RequestID, e.Type, e.Actor, e.Resource, e.Level, e.Ticket, e.Detail, e.Hash, e.PrevHash})
		})
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return store.ScanAudit(ctx, f, func(e *audit.Event) error { return enc.Encode(e) })
}

func firstSeq(n int64, last audit.Event) int64 {
	if n == 0 {
		return 0
	}
	return last.Seq - n
}

func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %q is not an RFC 3339 time such as 2026-11-27T09:00:00Z", errUsage, name, v)
	}
	return t, nil
}
