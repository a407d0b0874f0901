package deploy

// No container runtime runs here, so these tests read the deployment files
// the way Docker, Compose, HAProxy and Kubernetes would, strictly (an
// unknown or misspelt key is an error), and check that they agree with each
// other and with gatepass's contract: every replica runs `gatepass serve` on
// a shared PostgreSQL, with its Slack credentials and policy, listens where
// it is probed, and is probed on /healthz.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatepass/gatepass/workflow"
	"go.yaml.in/yaml/v3"
)

const (
	repoRoot    = ".."
	composeFile = "compose.yml"
	haproxyFile = "haproxy.cfg"
	k8sDir      = "kubernetes"
	secretFile  = "secret.example.yaml"
	healthPath  = "/healthz"
	binaryPath  = "/usr/local/bin/gatepass"
	// minGrace is how long a replica must be given to stop: gatepass drains
	// in-flight HTTP (5 s), a notice being delivered (3 s) and Slack replies
	// (2 s) on SIGTERM, and the contract's "about 15 s" leaves room for it.
	minGrace = 15 * time.Second
)

// knownEnv is every GATEPASS_* and SLACK_* variable gatepass reads; another
// name with those prefixes is a typo that gatepass would silently ignore.
var knownEnv = map[string]bool{
	"SLACK_BOT_TOKEN":      true,
	"SLACK_SIGNING_SECRET": true,
	"SLACK_APP_TOKEN":      true,
	"SLACK_API_URL":        true,
	"GATEPASS_CONFIG":      true,
	"GATEPASS_DB":          true,
	"GATEPASS_ADDR":        true,
	"GATEPASS_LOG_LEVEL":   true,
	"GATEPASS_LOG_FORMAT":  true,
}

func checkEnvNames(t *testing.T, where string, names []string) {
	t.Helper()
	for _, n := range names {
		if (strings.HasPrefix(n, "GATEPASS_") || strings.HasPrefix(n, "SLACK_")) && !knownEnv[n] {
			t.Errorf("%s: environment variable %s is not one gatepass reads (a typo?)", where, n)
		}
	}
}

// addrPort is the port of a GATEPASS_ADDR value such as ":8080".
func addrPort(t *testing.T, where, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: GATEPASS_ADDR %q: %v", where, addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n <= 0 || n > 65535 {
		t.Fatalf("%s: GATEPASS_ADDR %q: no numeric port", where, addr)
	}
	return n
}

// checkPolicy validates a policy with gatepass's own parser. A deployment
// example must load without warnings and hold no introspection secret in
// clear (key_sha256 only).
func checkPolicy(t *testing.T, name string, data []byte) {
	t.Helper()
	p, warnings, err := workflow.ParsePolicy(name, data)
	if err != nil {
		t.Errorf("policy %s is invalid: %v", name, err)
		return
	}
	for _, w := range warnings {
		t.Errorf("policy %s: warning: %s", name, w)
	}
	if len(p.IntrospectionKeys) == 0 {
		t.Errorf("policy %s has no introspection_keys: every /v1/introspect call would get 401", name)
	}
	if len(p.Resources) == 0 {
		t.Errorf("policy %s has no resources", name)
	}
	var raw struct {
		Keys []map[string]any `yaml:"introspection_keys"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Errorf("policy %s: %v", name, err)
	}
	for i, k := range raw.Keys {
		if _, ok := k["key"]; ok {
			t.Errorf("policy %s: introspection_keys[%d] holds its key in clear; store key_sha256 instead", name, i)
		}
		if _, ok := k["key_sha256"]; !ok {
			t.Errorf("policy %s: introspection_keys[%d] has no key_sha256", name, i)
		}
	}
}

// strictDecode decodes YAML into v, refusing keys v does not have.
func strictDecode(data []byte, v any) error {
	d := yaml.NewDecoder(bytes.NewReader(data))
	d.KnownFields(true)
	if err := d.Decode(v); err != nil {
		return err
	}
	var extra yaml.Node
	if err := d.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	return nil
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// ---------------------------------------------------------------------------
// Dockerfile

type instruction struct {
	line int
	cmd  string // upper case
	args string
}

type stage struct {
	index int
	image string // with build arguments expanded
	name  string
	ins   []instruction
}

func (s *stage) ref() string {
	if s.name != "" {
		return s.name
	}
	return strconv.Itoa(s.index)
}

func (s *stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func (s *stage) last(cmd string) (instruction, bool) {
	all := s.all(cmd)
	if len(all) == 0 {
		return instruction{}, false
	}
	return all[len(all)-1], true
}

// env is the stage's ENV settings, later ones winning.
func (s *stage) env(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, in := range s.all("ENV") {
		words := shellWords(in.args)
		if len(words) > 0 && !strings.Contains(words[0], "=") {
			// legacy form: ENV KEY value
			env[words[0]] = strings.Join(words[1:], " ")
			continue
		}
		for _, w := range words {
			k, v, ok := strings.Cut(w, "=")
			if !ok {
				t.Errorf("Dockerfile:%d: ENV %q is not KEY=value", in.line, w)
				continue
			}
			env[k] = v
		}
	}
	return env
}

// args is the stage's ARG defaults.
func (s *stage) args() map[string]string {
	args := map[string]string{}
	for _, in := range s.all("ARG") {
		k, v, _ := strings.Cut(strings.TrimSpace(in.args), "=")
		args[k] = strings.Trim(v, `"`)
	}
	return args
}

type dockerfile struct {
	globalArgs map[string]string
	stages     []*stage
}

func (d *dockerfile) final() *stage { return d.stages[len(d.stages)-1] }

var escapeDirective = regexp.MustCompile(`^#\s*escape\s*=\s*(\S)`)

// parseDockerfile reads a Dockerfile into stages of instructions, joining
// continued lines and dropping comments as Docker does.
func parseDockerfile(t *testing.T, name string) *dockerfile {
	t.Helper()
	d := &dockerfile{globalArgs: map[string]string{}}
	lines := strings.Split(string(readFile(t, name)), "\n")
	var cur strings.Builder
	start := 0
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			if m := escapeDirective.FindStringSubmatch(trimmed); m != nil && m[1] != `\` && len(d.stages) == 0 {
				t.Fatalf("%s:%d: escape character %q is not supported by this test", name, i+1, m[1])
			}
			continue
		}
		if trimmed == "" && cur.Len() == 0 {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`))
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(trimmed)
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			continue
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if strings.Contains(in.args, "<<") && in.cmd == "RUN" {
			t.Fatalf("%s:%d: heredocs are not supported by this test", name, start)
		}
		switch {
		case in.cmd == "FROM":
			words := strings.Fields(in.args)
			for len(words) > 0 && strings.HasPrefix(words[0], "--") {
				words = words[1:]
			}
			if len(words) != 1 && !(len(words) == 3 && strings.EqualFold(words[1], "AS")) {
				t.Fatalf("%s:%d: cannot read FROM %s", name, start, in.args)
			}
			st := &stage{index: len(d.stages), image: expandArgs(words[0], d.globalArgs)}
			if len(words) == 3 {
				st.name = words[2]
			}
			d.stages = append(d.stages, st)
		case len(d.stages) == 0:
			if in.cmd != "ARG" {
				t.Fatalf("%s:%d: %s before the first FROM", name, start, in.cmd)
			}
			k, v, _ := strings.Cut(in.args, "=")
			d.globalArgs[k] = strings.Trim(v, `"`)
		default:
			st := d.stages[len(d.stages)-1]
			st.ins = append(st.ins, in)
		}
	}
	if cur.Len() > 0 {
		t.Fatalf("%s: ends inside a continued line", name)
	}
	if len(d.stages) == 0 {
		t.Fatalf("%s: no FROM", name)
	}
	return d
}

func expandArgs(s string, vars map[string]string) string {
	return os.Expand(s, func(k string) string {
		if name, def, ok := strings.Cut(k, ":-"); ok {
			if v := vars[name]; v != "" {
				return v
			}
			return def
		}
		return vars[k]
	})
}

// shellWords splits s on blanks, keeping quoted parts together (quotes
// removed).
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	in := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				w.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words
}

// execForm reads an instruction's JSON (exec) form.
func execForm(in instruction) ([]string, error) {
	var argv []string
	if err := json.Unmarshal([]byte(in.args), &argv); err != nil {
		return nil, fmt.Errorf("Dockerfile:%d: %s is not in exec form (a JSON array): %v", in.line, in.cmd, err)
	}
	return argv, nil
}

// runArgs drops RUN's own flags (--mount=…, --network=…).
func runArgs(in instruction) string {
	words := strings.Fields(in.args)
	i := 0
	for i < len(words) && strings.HasPrefix(words[i], "--") {
		i++
	}
	return strings.Join(words[i:], " ")
}

// copyArgs splits COPY's arguments, without flags, into sources and
// destination, and returns its --from.
func copyArgs(in instruction) (from string, srcs []string, dst string) {
	words := shellWords(in.args)
	var rest []string
	for _, w := range words {
		if v, ok := strings.CutPrefix(w, "--from="); ok {
			from = v
			continue
		}
		if strings.HasPrefix(w, "--") {
			continue
		}
		rest = append(rest, w)
	}
	if len(rest) < 2 {
		return from, nil, ""
	}
	return from, rest[:len(rest)-1], rest[len(rest)-1]
}

// imageFacts is what the other files rely on from the image.
type imageFacts struct {
	entrypoint []string
	cmd        []string
	port       int    // GATEPASS_ADDR's port, and EXPOSEd
	uid        int    // USER
	installed  string // the runtime stage's RUN lines, to look for tools in
	healthTool string // program the HEALTHCHECK runs, if any
}

// goDirective is go.mod's go version.
func goDirective(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go\s+(\d+\.\d+(?:\.\d+)?)\s*$`).FindSubmatch(readFile(t, filepath.Join(repoRoot, "go.mod")))
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

func versionParts(v string) []int {
	var out []int
	for _, p := range strings.Split(v, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil
		}
		out = append(out, n)
	}
	return out
}

// debianOf names the Debian release an image is built on ("bookworm"), if
// its reference says.
func debianOf(image string) string {
	for _, rel := range []struct{ name, number string }{{"bookworm", "12"}, {"trixie", "13"}, {"bullseye", "11"}} {
		if strings.Contains(image, rel.name) || strings.Contains(image, "debian"+rel.number) {
			return rel.name
		}
	}
	return ""
}

// buildStage is the stage that runs go build.
func buildStage(t *testing.T, d *dockerfile) (*stage, instruction) {
	t.Helper()
	var found *stage
	var run instruction
	for _, st := range d.stages {
		for _, in := range st.all("RUN") {
			if strings.Contains(runArgs(in), "go build") {
				if found != nil {
					t.Fatalf("Dockerfile:%d: go build runs more than once", in.line)
				}
				found, run = st, in
			}
		}
	}
	if found == nil {
		t.Fatal("Dockerfile: no stage runs go build")
	}
	return found, run
}

// declaresVersion reports whether package main (the repository root) has a
// package-level `version` variable for -X main.version to set.
func declaresVersion(t *testing.T) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`(?m)^(?:var\s+|\t)version(?:\s+string)?\s*=`)
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") && decl.Match(readFile(t, f)) {
			return true
		}
	}
	return false
}

// TestDockerfileBuilder checks the build stage: a golang image matching
// go.mod's Go, a module-download layer before the sources, cgo on (SQLite
// needs it), and the documented go build line.
func TestDockerfileBuilder(t *testing.T) {
	d := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	if len(d.stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s); want a builder and a small final stage", len(d.stages))
	}
	b, build := buildStage(t, d)
	if b == d.final() {
		t.Fatal("Dockerfile: go build runs in the final stage; build in a builder stage and copy the binary")
	}

	// Builder image: golang:<go version>-<debian release>.
	repo, tag, _ := strings.Cut(b.image, ":")
	if repo != "golang" && repo != "docker.io/library/golang" {
		t.Errorf("Dockerfile: builder image %s is not the official golang image", b.image)
	}
	goVer, _, _ := strings.Cut(tag, "-")
	want := goDirective(t)
	have, need := versionParts(goVer), versionParts(want)
	switch {
	case len(have) < 2 || len(need) < 2:
		t.Errorf("Dockerfile: builder image %s names no Go version", b.image)
	case have[0] != need[0] || have[1] != need[1]:
		t.Errorf("Dockerfile: builder image %s is not Go %d.%d as go.mod says (go %s)", b.image, need[0], need[1], want)
	case len(have) > 2 && len(need) > 2 && have[2] < need[2]:
		t.Errorf("Dockerfile: builder image %s is older than go.mod's go %s", b.image, want)
	}
	if debianOf(b.image) == "" {
		t.Errorf("Dockerfile: builder image %s names no Debian release; the final stage must run the same glibc", b.image)
	}

	// cgo on, never off.
	cgo := b.env(t)["CGO_ENABLED"] == "1" || strings.Contains(runArgs(build), "CGO_ENABLED=1")
	if !cgo {
		t.Errorf("Dockerfile:%d: go build without CGO_ENABLED=1; SQLite (mattn/go-sqlite3) needs cgo", build.line)
	}
	for _, st := range d.stages {
		for _, in := range st.ins {
			if (in.cmd == "ENV" || in.cmd == "RUN" || in.cmd == "ARG") && strings.Contains(in.args, "CGO_ENABLED=0") {
				t.Errorf("Dockerfile:%d: CGO_ENABLED=0 builds gatepass without SQLite", in.line)
			}
		}
	}

	// Module download layer: go.mod and go.sum copied alone, go mod
	// download, then the sources.
	modCopy, download, srcCopy := -1, -1, -1
	for i, in := range b.ins {
		switch in.cmd {
		case "COPY":
			_, srcs, _ := copyArgs(in)
			if slices.Contains(srcs, ".") && srcCopy < 0 {
				srcCopy = i
			}
			if slices.Contains(srcs, "go.mod") && slices.Contains(srcs, "go.sum") && !slices.Contains(srcs, ".") && modCopy < 0 {
				modCopy = i
			}
		case "RUN":
			if strings.Contains(runArgs(in), "go mod download") && download < 0 {
				download = i
			}
		}
	}
	if modCopy < 0 || download < 0 || srcCopy < 0 || !(modCopy < download && download < srcCopy) {
		t.Errorf("Dockerfile: want COPY go.mod go.sum, then RUN go mod download, then COPY . . in the builder (got positions %d, %d, %d)", modCopy, download, srcCopy)
	}

	// go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o OUT .
	var words []string
	for _, part := range strings.Split(runArgs(build), "&&") {
		if w := shellWords(strings.TrimSpace(part)); len(w) > 1 && w[0] == "go" && w[1] == "build" {
			words = w
		}
	}
	if words == nil {
		t.Fatalf("Dockerfile:%d: cannot find the go build command", build.line)
	}
	flag := func(name string) string {
		if i := slices.Index(words, name); i >= 0 && i+1 < len(words) {
			return words[i+1]
		}
		return ""
	}
	if !slices.Contains(words, "-trimpath") {
		t.Errorf("Dockerfile:%d: go build without -trimpath", build.line)
	}
	ldflags := flag("-ldflags")
	if !strings.Contains(ldflags, "-X main.version=${VERSION}") && !strings.Contains(ldflags, "-X main.version=$VERSION") {
		t.Errorf("Dockerfile:%d: go build -ldflags %q does not set main.version from VERSION", build.line, ldflags)
	}
	if !declaresVersion(t) {
		t.Errorf("package main declares no string variable version, which -X main.version sets")
	}
	if v, ok := b.args()["VERSION"]; !ok || v != "dev" {
		t.Errorf("Dockerfile: the builder needs ARG VERSION=dev (got %q)", v)
	}
	out := flag("-o")
	if out != "/out/gatepass" {
		t.Errorf("Dockerfile:%d: go build -o %q; want /out/gatepass", build.line, out)
	}
	if words[len(words)-1] != "." {
		t.Errorf("Dockerfile:%d: go build must build the module root (.), got %q", build.line, words[len(words)-1])
	}

	// The final stage copies that binary from this stage.
	copied := false
	for _, in := range d.final().all("COPY") {
		from, srcs, dst := copyArgs(in)
		if (from == b.ref() || from == strconv.Itoa(b.index)) && slices.Equal(srcs, []string{out}) && dst == binaryPath {
			copied = true
		}
	}
	if !copied {
		t.Errorf("Dockerfile: the final stage does not COPY --from=%s %s %s", b.ref(), out, binaryPath)
	}
}

// loadImage parses the Dockerfile's final stage and checks it: a glibc base
// of the builder's Debian release, a numeric non-root USER, `gatepass serve`
// as its command, GATEPASS_ADDR and EXPOSE on one port, GATEPASS_CONFIG, and
// a HEALTHCHECK on /healthz that the image can actually run.
func loadImage(t *testing.T) imageFacts {
	t.Helper()
	d := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	if len(d.stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s); want a builder and a small final stage", len(d.stages))
	}
	b, _ := buildStage(t, d)
	f := d.final()
	var facts imageFacts

	// Base: glibc (gatepass is linked with cgo), same Debian as the builder.
	base := f.image
	distroless := strings.Contains(base, "distroless")
	switch {
	case base == "scratch", strings.Contains(base, "alpine"), strings.Contains(base, "distroless/static"):
		t.Errorf("Dockerfile: final image %s has no glibc; the cgo binary cannot run there", base)
	case !strings.HasPrefix(base, "debian:") && !strings.HasPrefix(base, "gcr.io/distroless/base") && !strings.HasPrefix(base, "gcr.io/distroless/cc"):
		t.Errorf("Dockerfile: final image %s is not a known glibc base (debian:*-slim, gcr.io/distroless/base or cc)", base)
	}
	if rel := debianOf(b.image); rel == "" || debianOf(base) != rel {
		t.Errorf("Dockerfile: final image %s is not the builder's Debian release (%s): glibc must match", base, b.image)
	}

	var runs []string
	for _, in := range f.all("RUN") {
		runs = append(runs, runArgs(in))
	}
	facts.installed = strings.Join(runs, "\n")

	// USER: numeric and not root, so runAsNonRoot can verify it.
	user, ok := f.last("USER")
	if !ok {
		t.Errorf("Dockerfile: the final stage has no USER; it would run as root")
	} else {
		uid, _, _ := strings.Cut(user.args, ":")
		n, err := strconv.Atoi(uid)
		switch {
		case err != nil:
			t.Errorf("Dockerfile:%d: USER %s is not numeric; Kubernetes' runAsNonRoot cannot verify a name", user.line, user.args)
		case n == 0:
			t.Errorf("Dockerfile:%d: USER %s is root", user.line, user.args)
		}
		facts.uid = n
	}

	env := f.env(t)
	checkEnvNames(t, "Dockerfile", slices.Sorted(maps.Keys(env)))
	addr, ok := env["GATEPASS_ADDR"]
	if !ok {
		t.Fatalf("Dockerfile: the final stage does not set GATEPASS_ADDR")
	}
	facts.port = addrPort(t, "Dockerfile", addr)
	if c := env["GATEPASS_CONFIG"]; !path.IsAbs(c) {
		t.Errorf("Dockerfile: GATEPASS_CONFIG %q is not an absolute path (the policy is mounted there)", c)
	}
	exposed := false
	for _, in := range f.all("EXPOSE") {
		for _, p := range strings.Fields(in.args) {
			if p == strconv.Itoa(facts.port) || p == strconv.Itoa(facts.port)+"/tcp" {
				exposed = true
			}
		}
	}
	if !exposed {
		t.Errorf("Dockerfile: does not EXPOSE %d, the port of GATEPASS_ADDR %s", facts.port, addr)
	}

	// ENTRYPOINT + CMD = gatepass serve, in exec form so SIGTERM reaches
	// gatepass itself.
	ep, ok := f.last("ENTRYPOINT")
	if !ok {
		t.Fatal("Dockerfile: no ENTRYPOINT")
	}
	cmd, ok := f.last("CMD")
	if !ok {
		t.Fatal("Dockerfile: no CMD")
	}
	var err error
	if facts.entrypoint, err = execForm(ep); err != nil {
		t.Fatal(err)
	}
	if facts.cmd, err = execForm(cmd); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(facts.entrypoint, []string{binaryPath}) {
		t.Errorf("Dockerfile: ENTRYPOINT %q; want [%q]", facts.entrypoint, binaryPath)
	}
	if !slices.Equal(facts.cmd, []string{"serve"}) {
		t.Errorf("Dockerfile: CMD %q; want [\"serve\"]", facts.cmd)
	}

	// HEALTHCHECK: where the image can run one (a distroless image has no
	// shell or HTTP client), on /healthz at GATEPASS_ADDR's port, with a
	// program the image installs.
	hc, ok := f.last("HEALTHCHECK")
	switch {
	case !ok && !distroless:
		t.Errorf("Dockerfile: no HEALTHCHECK, though %s can run one", base)
	case ok && strings.TrimSpace(hc.args) == "NONE":
	case ok:
		words := strings.Fields(hc.args)
		i := slices.Index(words, "CMD")
		if i < 0 {
			t.Fatalf("Dockerfile:%d: HEALTHCHECK without CMD", hc.line)
		}
		argv, err := execForm(instruction{line: hc.line, cmd: "HEALTHCHECK", args: strings.Join(words[i+1:], " ")})
		if err != nil {
			t.Fatal(err)
		}
		facts.healthTool = argv[0]
		checkHealthCommand(t, "Dockerfile HEALTHCHECK", argv, facts)
		if distroless {
			t.Errorf("Dockerfile: %s has no %s for its HEALTHCHECK", base, argv[0])
		}
	}
	return facts
}

var healthURL = regexp.MustCompile(`https?://(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)(/[^\s"']*)`)

// checkHealthCommand checks a container health command: it asks /healthz on
// the port gatepass listens on, with a program the image has.
func checkHealthCommand(t *testing.T, where string, argv []string, img imageFacts) {
	t.Helper()
	if len(argv) == 0 {
		t.Errorf("%s: empty", where)
		return
	}
	m := healthURL.FindStringSubmatch(strings.Join(argv, " "))
	switch {
	case m == nil:
		t.Errorf("%s: %q asks no local http URL", where, argv)
	case m[2] != healthPath:
		t.Errorf("%s: checks %s, want %s", where, m[2], healthPath)
	case m[1] != strconv.Itoa(img.port):
		t.Errorf("%s: checks port %s, but gatepass listens on %d", where, m[1], img.port)
	}
	prog := path.Base(argv[0])
	if prog == path.Base(binaryPath) {
		t.Errorf("%s: gatepass has no health-check subcommand", where)
	}
	if (prog == "curl" || prog == "wget") && !regexp.MustCompile(`apt-get install[^\n]*\b`+prog+`\b`).MatchString(img.installed) {
		t.Errorf("%s: runs %s, which the final image does not install", where, prog)
	}
	failFlag := func(a string) bool {
		return a == "--fail" || a == "--fail-with-body" || (strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a, "f"))
	}
	if prog == "curl" && !slices.ContainsFunc(argv[1:], failFlag) {
		t.Errorf("%s: curl without -f (--fail) succeeds on a 503", where)
	}
}

// TestDockerfileRuntime checks the final stage (see loadImage).
func TestDockerfileRuntime(t *testing.T) {
	loadImage(t)
}

// ---------------------------------------------------------------------------
// .dockerignore

type ignoreRule struct {
	re     *regexp.Regexp
	negate bool
}

// loadDockerignore reads .dockerignore into rules with Docker's matching:
// paths relative to the context root, `*` and `?` within one element, `**`
// across any number, a pattern matching a directory excluding everything
// under it, and later rules (`!` exceptions too) winning.
func loadDockerignore(t *testing.T) []ignoreRule {
	t.Helper()
	var rules []ignoreRule
	for _, line := range strings.Split(string(readFile(t, filepath.Join(repoRoot, ".dockerignore"))), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{}
		if p, ok := strings.CutPrefix(line, "!"); ok {
			r.negate, line = true, p
		}
		line = strings.TrimPrefix(path.Clean("/"+line), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(?:.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		r.re = regexp.MustCompile(re.String())
		rules = append(rules, r)
	}
	return rules
}

func ignored(rules []ignoreRule, p string) bool {
	var prefixes []string
	for dir := p; dir != "." && dir != "/" && dir != ""; dir = path.Dir(dir) {
		prefixes = append(prefixes, dir)
	}
	out := false
	for _, r := range rules {
		if slices.ContainsFunc(prefixes, r.re.MatchString) {
			out = !r.negate
		}
	}
	return out
}

// TestDockerignore checks that the build context leaves out version control,
// databases, secrets and test artefacts, and keeps every file the binary is
// built from: the module files, the non-test Go sources and what they embed.
func TestDockerignore(t *testing.T) {
	rules := loadDockerignore(t)
	for _, p := range []string{".git", ".git/config", "gatepass.db", "gatepass.db-wal", "storage/x.db", ".env", "deploy/.env", "gatepass.test", "cpu.prof", "gatepass.yml"} {
		if !ignored(rules, p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	need := []string{"go.mod", "go.sum"}
	embed := regexp.MustCompile(`(?m)^//go:embed\s+(.+)$`)
	err := filepath.WalkDir(repoRoot, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		rel = filepath.ToSlash(rel)
		if de.IsDir() {
			// deploy holds only this test; hidden and underscore
			// directories and testdata are not part of any build.
			if rel != "." && (rel == "deploy" || strings.HasPrefix(de.Name(), ".") || strings.HasPrefix(de.Name(), "_") || de.Name() == "testdata" || de.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		need = append(need, rel)
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range embed.FindAllSubmatch(src, -1) {
			for _, pat := range shellWords(string(m[1])) {
				pat = strings.TrimPrefix(pat, "all:")
				matches, _ := filepath.Glob(filepath.Join(filepath.Dir(p), filepath.FromSlash(pat)))
				for _, mt := range matches {
					_ = filepath.WalkDir(mt, func(q string, de fs.DirEntry, err error) error {
						if err == nil && !de.IsDir() {
							r, _ := filepath.Rel(repoRoot, q)
							need = append(need, filepath.ToSlash(r))
						}
						return nil
					})
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(need) < 4 {
		t.Fatalf("found only %v to build from", need)
	}
	for _, p := range need {
		if ignored(rules, p) {
			t.Errorf(".dockerignore leaves out %s, which the build needs", p)
		}
	}
}

// ---------------------------------------------------------------------------
// Compose

type composeProject struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]*composeVolume `yaml:"volumes"`
	// x-… extension fields (anchors shared by the services).
	Extensions map[string]any `yaml:",inline"`
}

type composeVolume struct {
	Name     string `yaml:"name"`
	Driver   string `yaml:"driver"`
	External bool   `yaml:"external"`
}

type composeService struct {
	Image           string                       `yaml:"image"`
	Build           *composeBuild                `yaml:"build"`
	Command         []string                     `yaml:"command"`
	Entrypoint      []string                     `yaml:"entrypoint"`
	Environment     map[string]string            `yaml:"environment"`
	Volumes         []composeMount               `yaml:"volumes"`
	Ports           []string                     `yaml:"ports"`
	Healthcheck     *composeHealthcheck          `yaml:"healthcheck"`
	DependsOn       map[string]composeDependency `yaml:"depends_on"`
	StopGracePeriod string                       `yaml:"stop_grace_period"`
	StopSignal      string                       `yaml:"stop_signal"`
	Restart         string                       `yaml:"restart"`
	ReadOnly        bool                         `yaml:"read_only"`
	SecurityOpt     []string                     `yaml:"security_opt"`
	CapDrop         []string                     `yaml:"cap_drop"`
	User            string                       `yaml:"user"`
}

type composeBuild struct {
	Context    string            `yaml:"context"`
	Dockerfile string            `yaml:"dockerfile"`
	Args       map[string]string `yaml:"args"`
	Target     string            `yaml:"target"`
}

type composeMount struct {
	Type     string `yaml:"type"`
	Source   string `yaml:"source"`
	Target   string `yaml:"target"`
	ReadOnly bool   `yaml:"read_only"`
	Bind     *struct {
		CreateHostPath *bool `yaml:"create_host_path"`
	} `yaml:"bind"`
}

type composeHealthcheck struct {
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval"`
	Timeout     string   `yaml:"timeout"`
	Retries     int      `yaml:"retries"`
	StartPeriod string   `yaml:"start_period"`
}

type composeDependency struct {
	Condition string `yaml:"condition"`
	Restart   bool   `yaml:"restart"`
	Required  *bool  `yaml:"required"`
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}`)

// interpolate resolves Compose's ${VAR…} as Compose would with every
// variable set to "VAR_<name>", except ${VAR:-default}, which takes its default.
// required is false if a variable may be left unset silently (no ? form).
func interpolate(s string) (value string, required bool) {
	required = true
	value = interpolation.ReplaceAllStringFunc(s, func(m string) string {
		sub := interpolation.FindStringSubmatch(m)
		switch sub[2] {
		case "?", ":?":
			return "VAR_" + sub[1]
		case "-", ":-":
			required = false
			return sub[3]
		default:
			required = false
			return "VAR_" + sub[1]
		}
	})
	return value, required
}

func loadCompose(t *testing.T) *composeProject {
	t.Helper()
	var c composeProject
	if err := strictDecode(readFile(t, composeFile), &c); err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	for k := range c.Extensions {
		if !strings.HasPrefix(k, "x-") {
			t.Errorf("%s: unknown top-level key %q", composeFile, k)
		}
	}
	return &c
}

// gatepassServices are the services that run the image built from the
// repository's Dockerfile.
func (c *composeProject) gatepassServices(t *testing.T) []string {
	t.Helper()
	var names []string
	for name, s := range c.Services {
		img, _, _ := strings.Cut(s.Image, ":")
		if s.Build != nil || img == "gatepass" || strings.HasPrefix(name, "gatepass") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func (c *composeProject) serviceByImage(t *testing.T, image string) string {
	t.Helper()
	var found []string
	for name, s := range c.Services {
		if s.Image == image || strings.HasPrefix(s.Image, image+":") {
			found = append(found, name)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: want one %s service, found %v", composeFile, image, found)
	}
	return found[0]
}

func (s composeService) mount(target string) (composeMount, bool) {
	for _, m := range s.Volumes {
		if m.Target == target {
			return m, true
		}
	}
	return composeMount{}, false
}

// publishedPorts reads "host:container" short port syntax.
func publishedPorts(t *testing.T, name string, s composeService) map[int]int {
	t.Helper()
	out := map[int]int{}
	for _, p := range s.Ports {
		spec, _, _ := strings.Cut(p, "/")
		parts := strings.Split(spec, ":")
		if len(parts) < 2 {
			t.Errorf("%s: service %s publishes %q without a host port", composeFile, name, p)
			continue
		}
		host, err1 := strconv.Atoi(parts[len(parts)-2])
		ctr, err2 := strconv.Atoi(parts[len(parts)-1])
		if err1 != nil || err2 != nil {
			t.Errorf("%s: service %s: cannot read port %q", composeFile, name, p)
			continue
		}
		out[host] = ctr
	}
	return out
}

func parseDurationAtLeast(t *testing.T, where, s string, min time.Duration) {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Errorf("%s: %q is not a duration", where, s)
		return
	}
	if d < min {
		t.Errorf("%s: %s is shorter than gatepass's drain on SIGTERM needs (%s)", where, d, min)
	}
}

// TestCompose checks compose.yml: several gatepass replicas built from the
// repository, each running `serve` with the contract's environment, one
// PostgreSQL they all share (and wait for), the same read-only policy, a
// health check on /healthz where gatepass listens, and one load balancer
// published on 8080 in front of all of them.
func TestCompose(t *testing.T) {
	img := loadImage(t)
	c := loadCompose(t)
	replicas := c.gatepassServices(t)
	if len(replicas) < 2 {
		t.Fatalf("%s: %d gatepass service(s) %v; want several replicas", composeFile, len(replicas), replicas)
	}

	pg := c.serviceByImage(t, "postgres")
	pgs := c.Services[pg]
	if pgs.Healthcheck == nil || len(pgs.Healthcheck.Test) < 2 || !strings.Contains(strings.Join(pgs.Healthcheck.Test, " "), "pg_isready") {
		t.Errorf("%s: service %s has no pg_isready health check, so the replicas cannot wait for it", composeFile, pg)
	}
	pgEnv := map[string]string{}
	for k, v := range pgs.Environment {
		pgEnv[k], _ = interpolate(v)
	}
	if data, ok := pgs.mount("/var/lib/postgresql/data"); !ok || data.Type != "volume" || c.Volumes == nil {
		t.Errorf("%s: service %s keeps its data in no named volume", composeFile, pg)
	} else if _, declared := c.Volumes[data.Source]; !declared {
		t.Errorf("%s: volume %q of %s is not declared under volumes:", composeFile, data.Source, pg)
	}

	var first *composeService
	policies := map[string]bool{}
	for _, name := range replicas {
		s := c.Services[name]
		where := composeFile + ": " + name
		if first == nil {
			first = &s
		}

		// Built from the repository's Dockerfile, running `serve`.
		if s.Build == nil {
			t.Errorf("%s: not built from the repository (build:)", where)
		} else {
			ctx := filepath.Join(".", s.Build.Context)
			df := s.Build.Dockerfile
			if df == "" {
				df = "Dockerfile"
			}
			if abs1, _ := filepath.Abs(ctx); abs1 != mustAbs(t, repoRoot) {
				t.Errorf("%s: build context %q is not the repository root", where, s.Build.Context)
			} else if _, err := os.Stat(filepath.Join(ctx, df)); err != nil {
				t.Errorf("%s: %v", where, err)
			}
		}
		if !slices.Equal(s.Command, []string{"serve"}) {
			t.Errorf("%s: command %q; want [\"serve\"]", where, s.Command)
		}
		if s.Entrypoint != nil && !slices.Equal(s.Entrypoint, img.entrypoint) {
			t.Errorf("%s: entrypoint %q replaces gatepass", where, s.Entrypoint)
		}

		// Environment.
		env := map[string]string{}
		for k, v := range s.Environment {
			val, required := interpolate(v)
			env[k] = val
			if (k == "SLACK_BOT_TOKEN" || k == "SLACK_SIGNING_SECRET" || k == "GATEPASS_DB") && !required {
				t.Errorf("%s: %s=%q may end up empty without an error; use ${VAR:?message}", where, k, v)
			}
		}
		checkEnvNames(t, where, slices.Sorted(maps.Keys(env)))
		if env["SLACK_BOT_TOKEN"] == "" {
			t.Errorf("%s: no SLACK_BOT_TOKEN", where)
		}
		if env["SLACK_SIGNING_SECRET"] == "" && env["SLACK_APP_TOKEN"] == "" {
			t.Errorf("%s: neither SLACK_SIGNING_SECRET (HTTP) nor SLACK_APP_TOKEN (Socket Mode)", where)
		}
		if env["GATEPASS_LOG_FORMAT"] != "" && env["GATEPASS_LOG_FORMAT"] != "json" && env["GATEPASS_LOG_FORMAT"] != "text" {
			t.Errorf("%s: GATEPASS_LOG_FORMAT %q is neither json nor text", where, env["GATEPASS_LOG_FORMAT"])
		}

		// GATEPASS_DB: the postgres service, its user, database and password.
		if u, err := url.Parse(env["GATEPASS_DB"]); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			t.Errorf("%s: GATEPASS_DB %q is not a postgres:// URL; replicas must share PostgreSQL", where, s.Environment["GATEPASS_DB"])
		} else {
			pw, _ := u.User.Password()
			switch {
			case u.Hostname() != pg:
				t.Errorf("%s: GATEPASS_DB points at host %q, not the %s service", where, u.Hostname(), pg)
			case u.Port() != "" && u.Port() != "5432":
				t.Errorf("%s: GATEPASS_DB port %s; PostgreSQL listens on 5432", where, u.Port())
			case u.User.Username() != pgEnv["POSTGRES_USER"]:
				t.Errorf("%s: GATEPASS_DB user %q, but %s creates %q", where, u.User.Username(), pg, pgEnv["POSTGRES_USER"])
			case pw != pgEnv["POSTGRES_PASSWORD"]:
				t.Errorf("%s: GATEPASS_DB password is not %s's POSTGRES_PASSWORD", where, pg)
			case strings.TrimPrefix(u.Path, "/") != pgEnv["POSTGRES_DB"]:
				t.Errorf("%s: GATEPASS_DB database %q, but %s creates %q", where, u.Path, pg, pgEnv["POSTGRES_DB"])
			}
		}
		if dep, ok := s.DependsOn[pg]; !ok || dep.Condition != "service_healthy" {
			t.Errorf("%s: does not wait for %s to be healthy (depends_on condition: service_healthy)", where, pg)
		}

		// GATEPASS_CONFIG: the policy file, mounted read-only, valid.
		cfg := env["GATEPASS_CONFIG"]
		if m, ok := s.mount(cfg); !ok {
			t.Errorf("%s: nothing is mounted at GATEPASS_CONFIG %q", where, cfg)
		} else {
			if m.Type != "bind" || !m.ReadOnly {
				t.Errorf("%s: the policy at %s must be a read-only bind mount", where, cfg)
			}
			if m.Bind == nil || m.Bind.CreateHostPath == nil || *m.Bind.CreateHostPath {
				t.Errorf("%s: the policy mount needs bind.create_host_path: false, or a missing file becomes an empty directory", where)
			}
			if data, err := os.ReadFile(filepath.Join(".", m.Source)); err != nil {
				t.Errorf("%s: policy source: %v", where, err)
			} else if !policies[m.Source] {
				policies[m.Source] = true
				checkPolicy(t, m.Source, data)
			}
		}

		// GATEPASS_ADDR and the health check on that port.
		port := img.port
		if a, ok := env["GATEPASS_ADDR"]; ok {
			port = addrPort(t, where, a)
		} else {
			t.Errorf("%s: GATEPASS_ADDR is not set", where)
		}
		if s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 {
			t.Errorf("%s: no health check", where)
		} else {
			h := s.Healthcheck
			if h.Test[0] != "CMD" {
				t.Errorf("%s: health check %q: use [\"CMD\", …] (the image's PATH, no shell needed)", where, h.Test)
			}
			facts := img
			facts.port = port
			checkHealthCommand(t, where+" healthcheck", h.Test[1:], facts)
			for _, d := range []string{h.Interval, h.Timeout, h.StartPeriod} {
				if _, err := time.ParseDuration(d); d != "" && err != nil {
					t.Errorf("%s: health check duration %q", where, d)
				}
			}
		}
		if s.StopGracePeriod == "" {
			t.Errorf("%s: no stop_grace_period; Compose's 10 s default may cut gatepass's drain short", where)
		} else {
			parseDurationAtLeast(t, where+" stop_grace_period", s.StopGracePeriod, minGrace)
		}

		// Every replica runs the same thing.
		if !maps.Equal(s.Environment, first.Environment) || s.Image != first.Image || !slices.Equal(s.Command, first.Command) || !slices.EqualFunc(s.Volumes, first.Volumes, sameMount) {
			t.Errorf("%s: differs from %s; every replica must run the same image, environment and policy", where, replicas[0])
		}
	}

	// Published ports: no host port twice (Compose would refuse to start).
	seen := map[int]string{}
	for name, s := range c.Services {
		for host := range publishedPorts(t, name, s) {
			if other, dup := seen[host]; dup {
				t.Errorf("%s: host port %d is published by both %s and %s", composeFile, host, other, name)
			}
			seen[host] = name
		}
	}

	// The load balancer: HAProxy with haproxy.cfg, on 8080, after every
	// replica.
	lb := c.serviceByImage(t, "haproxy")
	lbs := c.Services[lb]
	if m, ok := lbs.mount("/usr/local/etc/haproxy/haproxy.cfg"); !ok || m.Source != "./"+haproxyFile || !m.ReadOnly {
		t.Errorf("%s: %s does not mount ./%s read-only at /usr/local/etc/haproxy/haproxy.cfg", composeFile, lb, haproxyFile)
	}
	if ctr, ok := publishedPorts(t, lb, lbs)[8080]; !ok {
		t.Errorf("%s: %s does not publish port 8080", composeFile, lb)
	} else if bind := loadHAProxy(t).frontendPort(t); ctr != bind {
		t.Errorf("%s: %s publishes container port %d, but HAProxy binds %d", composeFile, lb, ctr, bind)
	}
	for _, r := range replicas {
		if _, ok := lbs.DependsOn[r]; !ok {
			t.Errorf("%s: %s does not depend on %s", composeFile, lb, r)
		}
	}
}

func sameMount(a, b composeMount) bool {
	return a.Type == b.Type && a.Source == b.Source && a.Target == b.Target && a.ReadOnly == b.ReadOnly
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// ---------------------------------------------------------------------------
// HAProxy

type haLine struct {
	no    int
	words []string
}

type haSection struct {
	kind, name string
	lines      []haLine
}

type haproxyConfig struct{ sections []*haSection }

var haSectionKinds = []string{"global", "defaults", "frontend", "backend", "listen", "resolvers", "peers", "userlist", "mailers", "program", "http-errors", "ring", "cache"}

func loadHAProxy(t *testing.T) *haproxyConfig {
	t.Helper()
	cfg := &haproxyConfig{}
	for i, raw := range strings.Split(string(readFile(t, haproxyFile)), "\n") {
		line := raw
		if j := strings.Index(line, "#"); j >= 0 {
			line = line[:j]
		}
		words := strings.Fields(line)
		if len(words) == 0 {
			continue
		}
		if strings.ContainsAny(line, `"'\`) {
			t.Fatalf("%s:%d: quoting is not supported by this test", haproxyFile, i+1)
		}
		indented := raw[0] == ' ' || raw[0] == '\t'
		if !indented && slices.Contains(haSectionKinds, words[0]) {
			s := &haSection{kind: words[0]}
			if len(words) > 1 {
				s.name = words[1]
			}
			cfg.sections = append(cfg.sections, s)
			continue
		}
		if len(cfg.sections) == 0 {
			t.Fatalf("%s:%d: %q outside any section", haproxyFile, i+1, words[0])
		}
		cur := cfg.sections[len(cfg.sections)-1]
		cur.lines = append(cur.lines, haLine{no: i + 1, words: words})
	}
	return cfg
}

func (c *haproxyConfig) find(kind string) []*haSection {
	var out []*haSection
	for _, s := range c.sections {
		if s.kind == kind {
			out = append(out, s)
		}
	}
	return out
}

func (s *haSection) directives(name ...string) []haLine {
	var out []haLine
	for _, l := range s.lines {
		if len(l.words) >= len(name) && slices.Equal(l.words[:len(name)], name) {
			out = append(out, l)
		}
	}
	return out
}

func (c *haproxyConfig) frontend(t *testing.T) *haSection {
	t.Helper()
	fe := append(c.find("frontend"), c.find("listen")...)
	if len(fe) != 1 {
		t.Fatalf("%s: want one frontend, found %d", haproxyFile, len(fe))
	}
	return fe[0]
}

func (c *haproxyConfig) frontendPort(t *testing.T) int {
	t.Helper()
	binds := c.frontend(t).directives("bind")
	if len(binds) != 1 || len(binds[0].words) < 2 {
		t.Fatalf("%s: the frontend needs one bind", haproxyFile)
	}
	_, p, err := net.SplitHostPort(binds[0].words[1])
	n, err2 := strconv.Atoi(p)
	if err != nil || err2 != nil {
		t.Fatalf("%s:%d: cannot read bind %s", haproxyFile, binds[0].no, binds[0].words[1])
	}
	return n
}

// route says where the frontend sends a request for p: a backend name, or
// "" when it is denied. It understands named ACLs on path and path_beg,
// http-request deny/return with if/unless, use_backend and default_backend.
func (c *haproxyConfig) route(t *testing.T, p string) string {
	t.Helper()
	fe := c.frontend(t)
	acls := map[string]bool{}
	for _, l := range fe.directives("acl") {
		if len(l.words) < 4 {
			t.Fatalf("%s:%d: cannot read acl", haproxyFile, l.no)
		}
		name, crit, vals := l.words[1], l.words[2], l.words[3:]
		match := false
		switch crit {
		case "path":
			match = slices.Contains(vals, p)
		case "path_beg":
			match = slices.ContainsFunc(vals, func(v string) bool { return strings.HasPrefix(p, v) })
		default:
			t.Fatalf("%s:%d: acl criterion %s is not understood by this test", haproxyFile, l.no, crit)
		}
		acls[name] = acls[name] || match
	}
	// cond evaluates "[if|unless] a !b || c" (or = ||, juxtaposition = and).
	cond := func(l haLine, words []string) bool {
		if len(words) == 0 {
			return true
		}
		neg := words[0] == "unless"
		if words[0] != "if" && !neg {
			t.Fatalf("%s:%d: cannot read condition %q", haproxyFile, l.no, words)
		}
		anyOf, all := false, true
		for _, w := range append(words[1:], "||") {
			if w == "||" || w == "or" {
				anyOf = anyOf || all
				all = true
				continue
			}
			name, not := strings.CutPrefix(w, "!")
			v, ok := acls[name]
			if !ok {
				t.Fatalf("%s:%d: condition uses %q, which is no acl this test understands", haproxyFile, l.no, w)
			}
			all = all && (v != not)
		}
		return anyOf != neg
	}
	condAt := func(words []string) int {
		for i, w := range words {
			if w == "if" || w == "unless" {
				return i
			}
		}
		return len(words)
	}
	for _, l := range fe.lines {
		switch l.words[0] {
		case "http-request":
			if len(l.words) < 2 {
				t.Fatalf("%s:%d: bare http-request", haproxyFile, l.no)
			}
			i := condAt(l.words)
			if (l.words[1] == "deny" || l.words[1] == "return" || l.words[1] == "tarpit" || l.words[1] == "silent-drop" || l.words[1] == "reject") && cond(l, l.words[i:]) {
				return ""
			}
		case "use_backend":
			i := condAt(l.words)
			if cond(l, l.words[i:]) {
				return l.words[1]
			}
		}
	}
	if d := fe.directives("default_backend"); len(d) == 1 && len(d[0].words) == 2 {
		return d[0].words[1]
	}
	return ""
}

// TestLoadBalancer checks haproxy.cfg: gatepass's public paths reach a
// backend that round-robins over exactly the compose replicas, on the port
// gatepass listens on, each health-checked on /healthz; and nothing rewrites
// what Slack signed.
func TestLoadBalancer(t *testing.T) {
	img := loadImage(t)
	c := loadCompose(t)
	cfg := loadHAProxy(t)
	replicas := c.gatepassServices(t)
	port := img.port
	if a, ok := c.Services[replicas[0]].Environment["GATEPASS_ADDR"]; ok {
		port = addrPort(t, composeFile, a)
	}

	modeHTTP := false
	for _, s := range cfg.sections {
		if len(s.directives("mode", "http")) > 0 && (s.kind == "defaults" || s.kind == "frontend" || s.kind == "listen") {
			modeHTTP = true
		}
	}
	if !modeHTTP {
		t.Errorf("%s: not in mode http", haproxyFile)
	}

	backendName := cfg.route(t, "/slack/commands")
	if backendName == "" {
		t.Fatalf("%s: /slack/commands is not routed to any backend", haproxyFile)
	}
	for _, p := range []string{"/slack/commands", "/slack/interactions", "/slack/events", "/v1/introspect", healthPath} {
		if got := cfg.route(t, p); got != backendName {
			t.Errorf("%s: %s goes to %q, want backend %q", haproxyFile, p, got, backendName)
		}
	}
	if got := cfg.route(t, "/metrics"); got != "" {
		t.Errorf("%s: /metrics is published through the load balancer (to %q); keep it internal", haproxyFile, got)
	}

	var be *haSection
	for _, s := range cfg.find("backend") {
		if s.name == backendName {
			be = s
		}
	}
	if be == nil {
		t.Fatalf("%s: no backend %q", haproxyFile, backendName)
	}
	if len(be.directives("balance", "roundrobin")) != 1 {
		t.Errorf("%s: backend %s does not balance roundrobin", haproxyFile, be.name)
	}
	checkURI := ""
	for _, l := range be.directives("option", "httpchk") {
		if len(l.words) >= 4 {
			checkURI = l.words[3]
		}
	}
	for _, l := range be.directives("http-check", "send") {
		if i := slices.Index(l.words, "uri"); i >= 0 && i+1 < len(l.words) {
			checkURI = l.words[i+1]
		}
		if i := slices.Index(l.words, "meth"); i >= 0 && i+1 < len(l.words) && l.words[i+1] != "GET" {
			t.Errorf("%s:%d: health check method %s; /healthz answers GET", haproxyFile, l.no, l.words[i+1])
		}
	}
	if len(be.directives("option", "httpchk")) == 0 || checkURI != healthPath {
		t.Errorf("%s: backend %s does not check %s (option httpchk + http-check send uri %s)", haproxyFile, be.name, healthPath, healthPath)
	}
	defaultCheck := false
	for _, l := range be.directives("default-server") {
		defaultCheck = defaultCheck || slices.Contains(l.words, "check")
	}
	var servers []string
	for _, l := range be.directives("server") {
		if len(l.words) < 3 {
			t.Errorf("%s:%d: cannot read server", haproxyFile, l.no)
			continue
		}
		host, p, err := net.SplitHostPort(l.words[2])
		if err != nil {
			t.Errorf("%s:%d: server address %s: %v", haproxyFile, l.no, l.words[2], err)
			continue
		}
		servers = append(servers, host)
		if p != strconv.Itoa(port) {
			t.Errorf("%s:%d: server %s on port %s, but gatepass listens on %d", haproxyFile, l.no, host, p, port)
		}
		if !defaultCheck && !slices.Contains(l.words[3:], "check") {
			t.Errorf("%s:%d: server %s is not health-checked", haproxyFile, l.no, host)
		}
		if slices.Contains(l.words[3:], "disabled") || slices.Contains(l.words[3:], "backup") {
			t.Errorf("%s:%d: server %s does not take its share", haproxyFile, l.no, host)
		}
	}
	slices.Sort(servers)
	if !slices.Equal(servers, replicas) {
		t.Errorf("%s: backend %s serves %v; the compose replicas are %v", haproxyFile, be.name, servers, replicas)
	}

	// Slack signs the raw body with its timestamp header: nothing may
	// rewrite requests on the way.
	rewrite := regexp.MustCompile(`^(set|add|del|replace)-(header|uri|path|pathq|query|method|body|value)$|^normalize-uri$`)
	for _, s := range cfg.sections {
		for _, l := range s.lines {
			switch {
			case l.words[0] == "http-request" && len(l.words) > 1 && rewrite.MatchString(l.words[1]):
				t.Errorf("%s:%d: http-request %s rewrites what Slack signed", haproxyFile, l.no, l.words[1])
			case l.words[0] == "compression" || (l.words[0] == "filter" && len(l.words) > 1 && l.words[1] == "compression"):
				t.Errorf("%s:%d: compression", haproxyFile, l.no)
			case l.words[0] == "reqrep" || l.words[0] == "reqirep" || l.words[0] == "reqdel" || l.words[0] == "reqidel" || l.words[0] == "h1-case-adjust-bogus-server":
				t.Errorf("%s:%d: %s rewrites requests", haproxyFile, l.no, l.words[0])
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Kubernetes

type objectMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

// intOrString is Kubernetes' IntOrString (ports, budgets).
type intOrString struct {
	set   bool
	isInt bool
	i     int
	s     string
}

func (v intOrString) String() string {
	if v.isInt {
		return strconv.Itoa(v.i)
	}
	return strconv.Quote(v.s)
}

func (v *intOrString) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a number or a string", n.Line)
	}
	v.set = true
	if n.Tag == "!!int" {
		i, err := strconv.Atoi(n.Value)
		if err != nil {
			return err
		}
		v.isInt, v.i = true, i
		return nil
	}
	v.s = n.Value
	return nil
}

type deployment struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		Replicas             *int          `yaml:"replicas"`
		RevisionHistoryLimit *int          `yaml:"revisionHistoryLimit"`
		Selector             labelSelector `yaml:"selector"`
		Strategy             struct {
			Type          string `yaml:"type"`
			RollingUpdate struct {
				MaxUnavailable intOrString `yaml:"maxUnavailable"`
				MaxSurge       intOrString `yaml:"maxSurge"`
			} `yaml:"rollingUpdate"`
		} `yaml:"strategy"`
		Template struct {
			Metadata objectMeta `yaml:"metadata"`
			Spec     podSpec    `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	AutomountServiceAccountToken  *bool  `yaml:"automountServiceAccountToken"`
	ServiceAccountName            string `yaml:"serviceAccountName"`
	TerminationGracePeriodSeconds *int   `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot   *bool `yaml:"runAsNonRoot"`
		RunAsUser      *int  `yaml:"runAsUser"`
		RunAsGroup     *int  `yaml:"runAsGroup"`
		FSGroup        *int  `yaml:"fsGroup"`
		SeccompProfile struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	} `yaml:"securityContext"`
	TopologySpreadConstraints []struct {
		MaxSkew           int           `yaml:"maxSkew"`
		TopologyKey       string        `yaml:"topologyKey"`
		WhenUnsatisfiable string        `yaml:"whenUnsatisfiable"`
		LabelSelector     labelSelector `yaml:"labelSelector"`
		MatchLabelKeys    []string      `yaml:"matchLabelKeys"`
	} `yaml:"topologySpreadConstraints"`
	Affinity *struct {
		PodAntiAffinity struct {
			Required  []podAffinityTerm `yaml:"requiredDuringSchedulingIgnoredDuringExecution"`
			Preferred []struct {
				Weight int             `yaml:"weight"`
				Term   podAffinityTerm `yaml:"podAffinityTerm"`
			} `yaml:"preferredDuringSchedulingIgnoredDuringExecution"`
		} `yaml:"podAntiAffinity"`
	} `yaml:"affinity"`
	Containers []container `yaml:"containers"`
	Volumes    []volume    `yaml:"volumes"`
}

type podAffinityTerm struct {
	LabelSelector labelSelector `yaml:"labelSelector"`
	TopologyKey   string        `yaml:"topologyKey"`
}

type container struct {
	Name            string   `yaml:"name"`
	Image           string   `yaml:"image"`
	ImagePullPolicy string   `yaml:"imagePullPolicy"`
	Command         []string `yaml:"command"`
	Args            []string `yaml:"args"`
	Ports           []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
		Protocol      string `yaml:"protocol"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef    *keyRef `yaml:"secretKeyRef"`
			ConfigMapKeyRef *keyRef `yaml:"configMapKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	StartupProbe   *probe `yaml:"startupProbe"`
	Lifecycle      *struct {
		PreStop *struct {
			Exec *struct {
				Command []string `yaml:"command"`
			} `yaml:"exec"`
			Sleep *struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		RunAsUser                *int  `yaml:"runAsUser"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
			Add  []string `yaml:"add"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
}

type keyRef struct {
	Name     string `yaml:"name"`
	Key      string `yaml:"key"`
	Optional bool   `yaml:"optional"`
}

type probe struct {
	HTTPGet *struct {
		Path   string      `yaml:"path"`
		Port   intOrString `yaml:"port"`
		Scheme string      `yaml:"scheme"`
	} `yaml:"httpGet"`
	InitialDelaySeconds int `yaml:"initialDelaySeconds"`
	PeriodSeconds       int `yaml:"periodSeconds"`
	TimeoutSeconds      int `yaml:"timeoutSeconds"`
	SuccessThreshold    int `yaml:"successThreshold"`
	FailureThreshold    int `yaml:"failureThreshold"`
}

type volume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name  string `yaml:"name"`
		Items []struct {
			Key  string `yaml:"key"`
			Path string `yaml:"path"`
		} `yaml:"items"`
		DefaultMode *int `yaml:"defaultMode"`
	} `yaml:"configMap"`
	EmptyDir *struct {
		Medium    string `yaml:"medium"`
		SizeLimit string `yaml:"sizeLimit"`
	} `yaml:"emptyDir"`
}

type service struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		Type     string            `yaml:"type"`
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string      `yaml:"name"`
			Port       int         `yaml:"port"`
			TargetPort intOrString `yaml:"targetPort"`
			Protocol   string      `yaml:"protocol"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type podDisruptionBudget struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		MinAvailable   intOrString   `yaml:"minAvailable"`
		MaxUnavailable intOrString   `yaml:"maxUnavailable"`
		Selector       labelSelector `yaml:"selector"`
	} `yaml:"spec"`
}

type configMap struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   objectMeta        `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
}

type secret struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   objectMeta        `yaml:"metadata"`
	Type       string            `yaml:"type"`
	StringData map[string]string `yaml:"stringData"`
	Data       map[string]string `yaml:"data"`
}

type kustomization struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Namespace  string   `yaml:"namespace"`
	Resources  []string `yaml:"resources"`
	Labels     []struct {
		Pairs            map[string]string `yaml:"pairs"`
		IncludeSelectors bool              `yaml:"includeSelectors"`
		IncludeTemplates bool              `yaml:"includeTemplates"`
	} `yaml:"labels"`
	Images []struct {
		Name    string `yaml:"name"`
		NewName string `yaml:"newName"`
		NewTag  string `yaml:"newTag"`
		Digest  string `yaml:"digest"`
	} `yaml:"images"`
}

type k8sObjects struct {
	deployments []deployment
	services    []service
	pdbs        []podDisruptionBudget
	configMaps  []configMap
	secrets     []secret
}

// loadK8sFile decodes every document of a manifest strictly, by its kind.
func loadK8sFile(t *testing.T, name string, objs *k8sObjects) {
	t.Helper()
	d := yaml.NewDecoder(bytes.NewReader(readFile(t, filepath.Join(k8sDir, name))))
	for i := 0; ; i++ {
		var doc yaml.Node
		err := d.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var meta struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
		}
		if err := doc.Decode(&meta); err != nil {
			t.Fatalf("%s: document %d: %v", name, i, err)
		}
		data, err := yaml.Marshal(&doc)
		if err != nil {
			t.Fatal(err)
		}
		where := fmt.Sprintf("%s (document %d, %s)", name, i, meta.Kind)
		decode := func(v any, apiVersion string) {
			if meta.APIVersion != apiVersion {
				t.Errorf("%s: apiVersion %q, want %q", where, meta.APIVersion, apiVersion)
			}
			if err := strictDecode(data, v); err != nil {
				t.Errorf("%s: %v", where, err)
			}
		}
		switch meta.Kind {
		case "Deployment":
			var v deployment
			decode(&v, "apps/v1")
			objs.deployments = append(objs.deployments, v)
		case "Service":
			var v service
			decode(&v, "v1")
			objs.services = append(objs.services, v)
		case "PodDisruptionBudget":
			var v podDisruptionBudget
			decode(&v, "policy/v1")
			objs.pdbs = append(objs.pdbs, v)
		case "ConfigMap":
			var v configMap
			decode(&v, "v1")
			objs.configMaps = append(objs.configMaps, v)
		case "Secret":
			var v secret
			decode(&v, "v1")
			objs.secrets = append(objs.secrets, v)
		default:
			t.Errorf("%s: kind %q is not checked by this test; teach it", where, meta.Kind)
		}
	}
}

// loadKubernetes reads kustomization.yaml and everything it lists, plus the
// example Secret, which it must not list: applying the example would
// replace a real Secret with placeholders.
func loadKubernetes(t *testing.T) (*k8sObjects, kustomization) {
	t.Helper()
	var k kustomization
	if err := strictDecode(readFile(t, filepath.Join(k8sDir, "kustomization.yaml")), &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: apiVersion/kind %s/%s", k.APIVersion, k.Kind)
	}
	files, err := filepath.Glob(filepath.Join(k8sDir, "*.y*ml"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && b != secretFile {
			want = append(want, b)
		}
	}
	have := slices.Clone(k.Resources)
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		t.Errorf("kustomization.yaml lists %v; the manifests here are %v", have, want)
	}
	if slices.Contains(k.Resources, secretFile) {
		t.Errorf("kustomization.yaml lists %s: applying it would replace the real Secret with placeholders", secretFile)
	}
	objs := &k8sObjects{}
	for _, f := range k.Resources {
		loadK8sFile(t, f, objs)
	}
	if len(objs.secrets) != 0 {
		t.Errorf("kustomization.yaml applies a Secret; keep secrets out of the example manifests")
	}
	loadK8sFile(t, secretFile, objs)
	return objs, k
}

// subset reports whether every label of sel is in labels (and sel selects
// something).
func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// containerPort resolves a probe's or Service's port (name or number) to a
// port the container declares, or 0.
func (c container) containerPort(p intOrString) int {
	for _, cp := range c.Ports {
		if (p.isInt && cp.ContainerPort == p.i) || (!p.isInt && p.s != "" && cp.Name == p.s) {
			return cp.ContainerPort
		}
	}
	return 0
}

// TestKubernetes checks the manifests: a Deployment of several replicas of
// `gatepass serve` with its settings from the Secret and the ConfigMap,
// probed on /healthz where GATEPASS_ADDR listens, locked down, with
// resources, a grace period longer than the drain, and spread over nodes; a
// Service and a PodDisruptionBudget that select its pods; a valid policy;
// and an example Secret of placeholders only.
func TestKubernetes(t *testing.T) {
	img := loadImage(t)
	objs, _ := loadKubernetes(t)
	if len(objs.deployments) != 1 || len(objs.services) != 1 || len(objs.pdbs) != 1 || len(objs.configMaps) != 1 || len(objs.secrets) != 1 {
		t.Fatalf("want one each of Deployment, Service, PodDisruptionBudget, ConfigMap, Secret; got %d, %d, %d, %d, %d",
			len(objs.deployments), len(objs.services), len(objs.pdbs), len(objs.configMaps), len(objs.secrets))
	}
	dep, svc, pdb, cm, sec := objs.deployments[0], objs.services[0], objs.pdbs[0], objs.configMaps[0], objs.secrets[0]
	pod := dep.Spec.Template.Spec
	podLabels := dep.Spec.Template.Metadata.Labels

	// Replicas and selection.
	replicas := 1
	if dep.Spec.Replicas != nil {
		replicas = *dep.Spec.Replicas
	}
	if replicas < 2 {
		t.Errorf("Deployment %s: %d replica(s); want several", dep.Metadata.Name, replicas)
	}
	if !subset(dep.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("Deployment %s: selector %v does not select its own pods %v", dep.Metadata.Name, dep.Spec.Selector.MatchLabels, podLabels)
	}
	if !subset(svc.Spec.Selector, podLabels) {
		t.Errorf("Service %s: selector %v does not select the Deployment's pods %v", svc.Metadata.Name, svc.Spec.Selector, podLabels)
	}
	if !subset(pdb.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("PodDisruptionBudget %s: selector %v does not select the Deployment's pods %v", pdb.Metadata.Name, pdb.Spec.Selector.MatchLabels, podLabels)
	}
	switch minA, maxU := pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable; {
	case minA.set == maxU.set:
		t.Errorf("PodDisruptionBudget %s: set one of minAvailable and maxUnavailable", pdb.Metadata.Name)
	case minA.set && (!minA.isInt || minA.i < 1 || minA.i >= replicas):
		t.Errorf("PodDisruptionBudget %s: minAvailable %s; want 1..%d so nodes can still be drained", pdb.Metadata.Name, minA, replicas-1)
	case maxU.set && (!maxU.isInt || maxU.i < 1 || maxU.i >= replicas):
		t.Errorf("PodDisruptionBudget %s: maxUnavailable %s; want 1..%d", pdb.Metadata.Name, maxU, replicas-1)
	}

	// The container.
	if len(pod.Containers) != 1 {
		t.Fatalf("Deployment %s: want one container, got %d", dep.Metadata.Name, len(pod.Containers))
	}
	c := pod.Containers[0]
	where := "Deployment " + dep.Metadata.Name + " container " + c.Name
	if name, _, _ := strings.Cut(path.Base(c.Image), ":"); name != "gatepass" {
		t.Errorf("%s: image %s is not gatepass", where, c.Image)
	}
	argv := slices.Concat(img.entrypoint, c.Args)
	if c.Command != nil {
		argv = slices.Concat(c.Command, c.Args)
	}
	if c.Args == nil {
		argv = slices.Concat(argv, img.cmd)
	}
	if !slices.Equal(argv, []string{binaryPath, "serve"}) {
		t.Errorf("%s: runs %q, not `gatepass serve`", where, argv)
	}

	env := map[string]string{}
	refs := map[string]*keyRef{}
	var names []string
	for _, e := range c.Env {
		if slices.Contains(names, e.Name) {
			t.Errorf("%s: %s set twice", where, e.Name)
		}
		names = append(names, e.Name)
		env[e.Name] = e.Value
		if e.ValueFrom != nil {
			if e.ValueFrom.SecretKeyRef == nil || e.Value != "" {
				t.Errorf("%s: %s: only secretKeyRef is expected", where, e.Name)
				continue
			}
			refs[e.Name] = e.ValueFrom.SecretKeyRef
		}
	}
	checkEnvNames(t, where, names)
	fromSecret := func(name string, required bool) {
		r := refs[name]
		switch {
		case r == nil && required:
			t.Errorf("%s: %s does not come from a Secret", where, name)
		case r == nil:
		case r.Name != sec.Metadata.Name:
			t.Errorf("%s: %s comes from Secret %q; the example Secret is %q", where, name, r.Name, sec.Metadata.Name)
		case r.Optional == required:
			t.Errorf("%s: %s: optional %v; want %v", where, name, r.Optional, !required)
		case required && sec.StringData[r.Key] == "":
			t.Errorf("%s: %s: key %q is not in the example Secret", where, name, r.Key)
		}
	}
	fromSecret("SLACK_BOT_TOKEN", true)
	if refs["SLACK_SIGNING_SECRET"] != nil {
		fromSecret("SLACK_SIGNING_SECRET", true)
	} else if r := refs["SLACK_APP_TOKEN"]; r == nil || r.Optional {
		t.Errorf("%s: neither SLACK_SIGNING_SECRET nor a required SLACK_APP_TOKEN comes from the Secret", where)
	}
	fromSecret("SLACK_APP_TOKEN", false)
	if r := refs["GATEPASS_DB"]; r != nil {
		fromSecret("GATEPASS_DB", true)
		if u, err := url.Parse(sec.StringData[r.Key]); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			t.Errorf("Secret %s: %s is not a postgres:// URL; replicas must share PostgreSQL", sec.Metadata.Name, r.Key)
		}
	} else if !strings.HasPrefix(env["GATEPASS_DB"], "postgres://") && !strings.HasPrefix(env["GATEPASS_DB"], "postgresql://") {
		t.Errorf("%s: GATEPASS_DB is neither from the Secret nor a postgres:// URL", where)
	} else if u, err := url.Parse(env["GATEPASS_DB"]); err == nil {
		if _, has := u.User.Password(); has {
			t.Errorf("%s: GATEPASS_DB has a password in the Deployment; take it from the Secret", where)
		}
	}

	// Port: GATEPASS_ADDR, the declared port, the probes, the Service.
	addr, ok := env["GATEPASS_ADDR"]
	if !ok {
		addr = ":" + strconv.Itoa(img.port) // the image's ENV
	}
	port := addrPort(t, where, addr)
	if port != img.port {
		t.Logf("%s: GATEPASS_ADDR %s differs from the image's port %d", where, addr, img.port)
	}
	declared := false
	for _, p := range c.Ports {
		declared = declared || p.ContainerPort == port
	}
	if !declared {
		t.Errorf("%s: declares no containerPort %d (GATEPASS_ADDR %s)", where, port, addr)
	}
	for kind, p := range map[string]*probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
		switch {
		case p == nil || p.HTTPGet == nil:
			t.Errorf("%s: no %s httpGet", where, kind)
		case p.HTTPGet.Path != healthPath:
			t.Errorf("%s: %s on %s, want %s", where, kind, p.HTTPGet.Path, healthPath)
		case c.containerPort(p.HTTPGet.Port) != port:
			t.Errorf("%s: %s on port %s, but gatepass listens on %d", where, kind, p.HTTPGet.Port, port)
		case p.HTTPGet.Scheme != "" && p.HTTPGet.Scheme != "HTTP":
			t.Errorf("%s: %s scheme %s; gatepass serves plain HTTP", where, kind, p.HTTPGet.Scheme)
		}
	}
	if c.LivenessProbe != nil && c.LivenessProbe.FailureThreshold*max(c.LivenessProbe.PeriodSeconds, 1) < 30 {
		t.Errorf("%s: livenessProbe restarts after less than 30 s of failures; /healthz also fails during a short database outage", where)
	}
	if svc.Spec.Type != "" && svc.Spec.Type != "ClusterIP" {
		t.Errorf("Service %s: type %s; the example is ClusterIP", svc.Metadata.Name, svc.Spec.Type)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 80 || c.containerPort(svc.Spec.Ports[0].TargetPort) != port {
		t.Errorf("Service %s: want port 80 to the container's %d, got %+v", svc.Metadata.Name, port, svc.Spec.Ports)
	}

	// GATEPASS_CONFIG: the ConfigMap, mounted read-only, with a valid policy.
	cfg := env["GATEPASS_CONFIG"]
	if !path.IsAbs(cfg) {
		t.Errorf("%s: GATEPASS_CONFIG %q is not an absolute path", where, cfg)
	}
	found := false
	for _, m := range c.VolumeMounts {
		file := ""
		switch {
		case m.SubPath != "" && m.MountPath == cfg:
			file = m.SubPath
		case m.SubPath == "" && path.Dir(cfg) == path.Clean(m.MountPath):
			file = path.Base(cfg)
		default:
			continue
		}
		found = true
		if !m.ReadOnly {
			t.Errorf("%s: the policy volume %s is not mounted readOnly", where, m.Name)
		}
		i := slices.IndexFunc(pod.Volumes, func(v volume) bool { return v.Name == m.Name })
		if i < 0 || pod.Volumes[i].ConfigMap == nil {
			t.Errorf("%s: volume %s is not a ConfigMap", where, m.Name)
			continue
		}
		v := pod.Volumes[i].ConfigMap
		key := file
		if v.Items != nil {
			key = ""
			for _, it := range v.Items {
				if it.Path == file {
					key = it.Key
				}
			}
		}
		if v.Name != cm.Metadata.Name {
			t.Errorf("%s: policy from ConfigMap %q; the ConfigMap is %q", where, v.Name, cm.Metadata.Name)
		} else if data, ok := cm.Data[key]; !ok {
			t.Errorf("%s: GATEPASS_CONFIG %s would be missing: ConfigMap %s has no key %q", where, cfg, cm.Metadata.Name, key)
		} else {
			checkPolicy(t, "ConfigMap "+cm.Metadata.Name+" "+key, []byte(data))
		}
	}
	if !found {
		t.Errorf("%s: nothing is mounted at GATEPASS_CONFIG %q", where, cfg)
	}

	// Locked down.
	sc, psc := c.SecurityContext, pod.SecurityContext
	isTrue := func(b *bool) bool { return b != nil && *b }
	if !isTrue(sc.RunAsNonRoot) && !isTrue(psc.RunAsNonRoot) {
		t.Errorf("%s: runAsNonRoot is not set", where)
	}
	for _, uid := range []*int{sc.RunAsUser, psc.RunAsUser} {
		if uid != nil && (*uid == 0 || *uid != img.uid) {
			t.Errorf("%s: runAsUser %d; the image's USER is %d", where, *uid, img.uid)
		}
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation is not false", where)
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		t.Errorf("%s: readOnlyRootFilesystem is not true", where)
	}
	if !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		t.Errorf("%s: capabilities: drop %v, add %v; want drop [ALL]", where, sc.Capabilities.Drop, sc.Capabilities.Add)
	}
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" {
			t.Errorf("%s: no %s request", where, r)
		}
	}
	if c.Resources.Limits["memory"] == "" {
		t.Errorf("%s: no memory limit", where)
	}

	// Stopping: the grace period covers preStop and gatepass's drain.
	preStop := 0
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		switch ps := c.Lifecycle.PreStop; {
		case ps.Sleep != nil:
			preStop = ps.Sleep.Seconds
		case ps.Exec != nil && len(ps.Exec.Command) == 2 && ps.Exec.Command[0] == "sleep":
			preStop, _ = strconv.Atoi(ps.Exec.Command[1])
		default:
			t.Errorf("%s: preStop is not understood by this test", where)
		}
	}
	grace := 30 // Kubernetes' default
	if pod.TerminationGracePeriodSeconds != nil {
		grace = *pod.TerminationGracePeriodSeconds
	}
	if time.Duration(grace-preStop)*time.Second < minGrace {
		t.Errorf("Deployment %s: terminationGracePeriodSeconds %d leaves %d s after preStop; gatepass's drain needs %s", dep.Metadata.Name, grace, grace-preStop, minGrace)
	}

	// Spread over nodes.
	spread := false
	for _, tsc := range pod.TopologySpreadConstraints {
		if tsc.TopologyKey == "kubernetes.io/hostname" && tsc.MaxSkew >= 1 && subset(tsc.LabelSelector.MatchLabels, podLabels) {
			spread = true
		}
	}
	if pod.Affinity != nil {
		for _, term := range pod.Affinity.PodAntiAffinity.Required {
			spread = spread || (term.TopologyKey == "kubernetes.io/hostname" && subset(term.LabelSelector.MatchLabels, podLabels))
		}
		for _, p := range pod.Affinity.PodAntiAffinity.Preferred {
			spread = spread || (p.Term.TopologyKey == "kubernetes.io/hostname" && subset(p.Term.LabelSelector.MatchLabels, podLabels))
		}
	}
	if !spread {
		t.Errorf("Deployment %s: no topologySpreadConstraint or podAntiAffinity on kubernetes.io/hostname selecting its pods", dep.Metadata.Name)
	}

	// The example Secret: placeholders, nothing that looks real.
	if len(sec.Data) > 0 {
		t.Errorf("Secret %s: use stringData with placeholders, not data", sec.Metadata.Name)
	}
	for k, v := range sec.StringData {
		if !strings.Contains(v, "REPLACE-ME") {
			t.Errorf("Secret %s: %s = %q is not marked as a placeholder (REPLACE-ME)", sec.Metadata.Name, k, v)
		}
	}
	if !strings.HasPrefix(sec.StringData["SLACK_BOT_TOKEN"], "xoxb-") {
		t.Errorf("Secret %s: SLACK_BOT_TOKEN placeholder should show the xoxb- form", sec.Metadata.Name)
	}
}
