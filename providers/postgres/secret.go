package postgres

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// passwordLength is the number of base62 characters in a generated
// password: about 190 bits from crypto/rand.
const passwordLength = 32

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newPassword returns passwordLength random base62 characters from
// crypto/rand. Bytes of 248 and above are rejected so that every character
// is equally likely.
func newPassword() string {
	out := make([]byte, 0, passwordLength)
	buf := make([]byte, 2*passwordLength)
	for len(out) < passwordLength {
		rand.Read(buf) // never fails; it panics if the system's source does
		for _, b := range buf {
			if b < 248 && len(out) < passwordLength {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out)
}

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// scramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password (RFC 5802, RFC 7677), in the form rolpassword holds:
//
//	SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
//
// Sent as the role's PASSWORD, the server stores it as is: the password
// itself never reaches the server, so it cannot appear in the server's
// statement log. The password must need no SASLprep normalisation (base62
// does not).
func scramVerifier(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s",
		iterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

// newScramVerifier is scramVerifier with a fresh 16-byte random salt.
func newScramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	return scramVerifier(password, salt, scramIterations)
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// quoteLiteral quotes s as an SQL string literal, for the statements
// (CREATE ROLE, COMMENT ON) that take no bind parameters. It is correct
// whatever standard_conforming_strings says: quotes are doubled and, when
// s holds a backslash, the E” form is used with backslashes doubled. NUL
// bytes, which no literal can hold, are dropped.
func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	s = strings.ReplaceAll(s, `'`, `''`)
	if strings.Contains(s, `\`) {
		return ` E'` + strings.ReplaceAll(s, `\`, `\\`) + `'`
	}
	return `'` + s + `'`
}

// shellQuote quotes s for a POSIX shell, in single quotes.
func shellQuote(s string) string {
	return `'` + strings.ReplaceAll(s, `'`, `'\''`) + `'`
}

// dsnPasswordPatterns find a password in a DSN, URL or key=value form,
// quoted or not, even in one too broken to parse.
var dsnPasswordPatterns = []*regexp.Regexp{
	regexp.MustCompile(`://[^:/?#@\s]*:([^@\s]+)@`),
	regexp.MustCompile(`(?i)\bpassword\s*=\s*'((?:[^'\\]|\\.)*)'`),
	regexp.MustCompile(`(?i)\bpassword\s*=\s*([^\s']\S*)`),
	regexp.MustCompile(`(?i)[?&]password=([^&#\s]+)`),
}

// dsnSecrets returns the password(s) written in dsn, in every form they
// might be quoted in an error message (as written, URL-decoded).
func dsnSecrets(dsn string) []string {
	var out []string
	for _, re := range dsnPasswordPatterns {
		for _, m := range re.FindAllStringSubmatch(dsn, -1) {
			if m[1] == "" {
				continue
			}
			out = append(out, m[1], url.QueryEscape(m[1]), url.PathEscape(m[1]))
			if dec, err := url.PathUnescape(m[1]); err == nil && dec != m[1] {
				out = append(out, dec)
			}
			if dec, err := url.QueryUnescape(m[1]); err == nil && dec != m[1] {
				out = append(out, dec)
			}
		}
	}
	return out
}

// redact replaces every secret in s by "xxxxx".
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) > 0 {
			s = strings.ReplaceAll(s, sec, "xxxxx")
		}
	}
	return s
}

// redactedError is an error whose text had a secret removed. It keeps
// nothing of the original error, so no caller can unwrap its way back to
// the secret.
type redactedError struct{ msg string }

func (e *redactedError) Error() string { return e.msg }

// scrub returns err, or a redacted copy of it when its text contains one
// of secrets.
func scrub(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := redact(msg, secrets); clean != msg {
		return &redactedError{msg: clean}
	}
	return err
}
