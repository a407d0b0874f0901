package postgres

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/gatepass/gatepass/workflow"
)

// These tests need no server.

func TestRoleName(t *testing.T) {
	const want = "gatepass_0b7e4c1f9a2d4e6f8a1b2c3d4e5f6a7b"
	for _, id := range []string{
		"0b7e4c1f-9a2d-4e6f-8a1b-2c3d4e5f6a7b",
		"0B7E4C1F-9A2D-4E6F-8A1B-2C3D4E5F6A7B",
		"{0b7e4c1f-9a2d-4e6f-8a1b-2c3d4e5f6a7b}",
		"urn:uuid:0b7e4c1f-9a2d-4e6f-8a1b-2c3d4e5f6a7b",
		"0b7e4c1f9a2d4e6f8a1b2c3d4e5f6a7b",
	} {
		if got := RoleName(id); got != want {
			t.Errorf("RoleName(%q) = %q, want %q", id, got, want)
		}
	}
	if !isGrantRoleName(want) {
		t.Errorf("isGrantRoleName(%q) = false", want)
	}
	// Not a UUID: still deterministic and of the same shape.
	a, b := RoleName("req-42"), RoleName("req-42")
	if a != b || !isGrantRoleName(a) || a == RoleName("req-43") {
		t.Errorf("RoleName of a non-UUID: %q, %q, %q", a, b, RoleName("req-43"))
	}
	if len(want) > 63 {
		t.Errorf("%q is longer than PostgreSQL's 63-byte names", want)
	}
	for _, name := range []string{
		"gatepass_admin", "gatepass_", "gatepass_ro", "gatepass",
		"gatepass_0B7E4C1F9A2D4E6F8A1B2C3D4E5F6A7B",  // upper case: not ours
		"gatepass_0b7e4c1f9a2d4e6f8a1b2c3d4e5f6a7",   // 31 digits
		"gatepass_0b7e4c1f9a2d4e6f8a1b2c3d4e5f6a7bc", // 33 digits
		"gatepass_0b7e4c1f-9a2d-4e6f-8a1b-2c3d4e5f6a7b",
		"gatepassx0b7e4c1f9a2d4e6f8a1b2c3d4e5f6a7b",
		"xgatepass_0b7e4c1f9a2d4e6f8a1b2c3d4e5f6a7b",
		"gatepass_0b7e4c1f9a2d4e6f8a1b2c3d4e5f6a7z",
	} {
		if isGrantRoleName(name) {
			t.Errorf("isGrantRoleName(%q) = true, want false", name)
		}
	}
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestNewErrors(t *testing.T) {
	const connect = "postgres://{user}:{password}@127.0.0.1:5432/app"
	cases := []struct {
		name    string
		cfg     workflow.PostgresConfig
		env     map[string]string
		want    []string // substrings of the error
		notWant []string
	}{
		{
			name: "no variable named",
			cfg:  workflow.PostgresConfig{Connect: connect},
			want: []string{"admin_dsn_env"},
		},
		{
			name: "variable unset",
			cfg:  workflow.PostgresConfig{AdminDSNEnv: "PROD_DB_ADMIN_DSN", Connect: connect},
			want: []string{"PROD_DB_ADMIN_DSN", "not set"},
		},
		{
			name: "variable empty",
			cfg:  workflow.PostgresConfig{AdminDSNEnv: "PROD_DB_ADMIN_DSN", Connect: connect},
			env:  map[string]string{"PROD_DB_ADMIN_DSN": "  "},
			want: []string{"PROD_DB_ADMIN_DSN", "not set"},
		},
		{
			name:    "DSN does not parse",
			cfg:     workflow.PostgresConfig{AdminDSNEnv: "PROD_DB_ADMIN_DSN", Connect: connect},
			env:     map[string]string{"PROD_DB_ADMIN_DSN": "postgres://admin:Sup3rS3cret@db:notaport/app"},
			want:    []string{"PROD_DB_ADMIN_DSN", "valid PostgreSQL DSN"},
			notWant: []string{"Sup3rS3cret"},
		},
		{
			name:    "key=value DSN does not parse",
			cfg:     workflow.PostgresConfig{AdminDSNEnv: "PROD_DB_ADMIN_DSN", Connect: connect},
			env:     map[string]string{"PROD_DB_ADMIN_DSN": "host=db password='Sup3r S3cret' port=notaport"},
			want:    []string{"PROD_DB_ADMIN_DSN"},
			notWant: []string{"Sup3r S3cret", "Sup3r", "S3cret"},
		},
		{
			name: "connect empty",
			cfg:  workflow.PostgresConfig{AdminDSNEnv: "DSN"},
			env:  map[string]string{"DSN": "postgres://admin@db/app"},
			want: []string{"connect", "empty"},
		},
		{
			name: "connect not postgres",
			cfg:  workflow.PostgresConfig{AdminDSNEnv: "DSN", Connect: "mysql://{user}:{password}@db/app"},
			env:  map[string]string{"DSN": "postgres://admin@db/app"},
			want: []string{"connect", "postgres://"},
		},
		{
			name: "connect without password",
			cfg:  workflow.PostgresConfig{AdminDSNEnv: "DSN", Connect: "postgres://{user}@db/app"},
			env:  map[string]string{"DSN": "postgres://admin@db/app"},
			want: []string{"connect", "{password}"},
		},
		{
			name:    "connect with a literal password",
			cfg:     workflow.PostgresConfig{AdminDSNEnv: "DSN", Connect: "postgres://app:LiteralPw1@db/app"},
			env:     map[string]string{"DSN": "postgres://admin@db/app"},
			want:    []string{"connect", "{user}"},
			notWant: []string{"LiteralPw1"},
		},
		{
			name: "connect without user",
			cfg:  workflow.PostgresConfig{AdminDSNEnv: "DSN", Connect: "postgresql://app:{password}@db/app"},
			env:  map[string]string{"DSN": "postgres://admin@db/app"},
			want: []string{"connect", "{user}"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := New(c.cfg, env(c.env))
			if err == nil {
				p.Close()
				t.Fatal("New succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, nw := range c.notWant {
				if strings.Contains(err.Error(), nw) {
					t.Errorf("error %q reveals %q", err, nw)
				}
			}
		})
	}
}

func TestNewAcceptsBothSchemesAndDescribes(t *testing.T) {
	for _, connect := range []string{
		"postgres://{user}:{password}@127.0.0.1:5432/app",
		"postgresql://{user}:{password}@127.0.0.1:5432/app?sslmode=require",
		"postgres://127.0.0.1:5432/app?user={user}&password={password}",
	} {
		p, err := New(workflow.PostgresConfig{AdminDSNEnv: "PROD_DB_ADMIN_DSN", Connect: connect},
			env(map[string]string{"PROD_DB_ADMIN_DSN": "postgres://admin:Sup3rS3cret@db.internal:5432/app"}))
		if err != nil {
			t.Fatalf("New(%q): %v", connect, err)
		}
		d := p.Describe()
		p.Close()
		const want = "postgres: a login role per grant on 127.0.0.1:5432/app (admin DSN from $PROD_DB_ADMIN_DSN)"
		if d != want {
			t.Errorf("Describe() = %q, want %q", d, want)
		}
		if strings.Contains(d, "Sup3rS3cret") || strings.Contains(d, "db.internal") {
			t.Errorf("Describe() = %q reveals the admin DSN", d)
		}
	}
}

func TestFillConnect(t *testing.T) {
	const user, pw = "gatepass_0b7e4c1f9a2d4e6f8a1b2c3d4e5f6a7b", "p@ss:w/rd?#&= '%x"
	for _, tmpl := range []string{
		"postgres://{user}:{password}@db:5432/app?sslmode=require",
		"postgres://db:5432/app?user={user}&password={password}&sslmode=require",
	} {
		got := fillConnect(tmpl, user, pw)
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("fillConnect(%q) = %q: %v", tmpl, got, err)
		}
		gotUser, gotPW := u.User.Username(), ""
		if p, ok := u.User.Password(); ok {
			gotPW = p
		} else {
			gotUser, gotPW = u.Query().Get("user"), u.Query().Get("password")
		}
		if gotUser != user || gotPW != pw {
			t.Errorf("fillConnect(%q) = %q: user %q password %q", tmpl, got, gotUser, gotPW)
		}
		if u.Query().Get("sslmode") != "require" || u.Host != "db:5432" || u.Path != "/app" {
			t.Errorf("fillConnect(%q) = %q changed the rest", tmpl, got)
		}
	}
	if got := shellQuote("postgres://a:b@h/d?x='y'"); got != `'postgres://a:b@h/d?x='\''y'\'''` {
		t.Errorf("shellQuote: %s", got)
	}
}

func TestNewPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		pw := newPassword()
		if len(pw) != passwordLength || passwordLength < 24 {
			t.Fatalf("password %q has %d characters", pw, len(pw))
		}
		if strings.Trim(pw, base62) != "" {
			t.Fatalf("password %q is not base62", pw)
		}
		if seen[pw] {
			t.Fatalf("password %q twice", pw)
		}
		seen[pw] = true
	}
}

func TestScramVerifierShape(t *testing.T) {
	v, err := newScramVerifier("pencil")
	if err != nil {
		t.Fatal(err)
	}
	head, keys, ok := strings.Cut(strings.TrimPrefix(v, "SCRAM-SHA-256$"), "$")
	if !ok || !strings.HasPrefix(v, "SCRAM-SHA-256$4096:") {
		t.Fatalf("verifier %q", v)
	}
	_, salt, _ := strings.Cut(head, ":")
	stored, server, _ := strings.Cut(keys, ":")
	for _, part := range []string{salt, stored, server} {
		if _, err := base64.StdEncoding.DecodeString(part); err != nil {
			t.Errorf("verifier %q: %q is not base64", v, part)
		}
	}
	if strings.Contains(v, "pencil") {
		t.Errorf("verifier %q holds the password", v)
	}
}

func TestQuoteLiteral(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                `'plain'`,
		"it's":                 `'it''s'`,
		`back\slash`:           ` E'back\\slash'`,
		`it's\` + "\x00":       ` E'it''s\\'`,
		"2026-01-02 03:04:05Z": `'2026-01-02 03:04:05Z'`,
	} {
		if got := quoteLiteral(in); got != want {
			t.Errorf("quoteLiteral(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestScrubRedactsDSNPasswords(t *testing.T) {
	for _, dsn := range []string{
		"postgres://admin:Sup3r%2FS3cret@db/app",
		"host=db user=admin password=Sup3r/S3cret",
		"host=db user=admin password='Sup3r/S3cret'",
		"postgres://db/app?user=admin&password=Sup3r%2FS3cret",
	} {
		err := scrub(errors.New("failed: Sup3r/S3cret and Sup3r%2FS3cret"), dsnSecrets(dsn))
		if strings.Contains(err.Error(), "S3cret") {
			t.Errorf("%s: %q", dsn, err)
		}
	}
	plain := errors.New("nothing secret")
	if scrub(plain, []string{"x1"}) != plain {
		t.Error("scrub replaced an error without secrets")
	}
}
