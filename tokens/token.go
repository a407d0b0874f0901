// Package tokens mints, checks and hashes gatepass access tokens, and serves
// RFC 7662 token introspection over a lookup the caller provides.
//
// A token is "gpass_" followed by RandomLen base62 characters drawn from
// crypto/rand and a ChecksumLen-character base62 CRC32 (IEEE) of those random
// characters. The checksum lets secret scanners recognise tokens and reject
// look-alikes without asking the server. Only the SHA-256 of a token is ever
// stored; the token text itself lives in the requester's direct message alone.
//
// [Introspector] is the RFC 7662 endpoint production services call. Clients
// authenticate with "Authorization: Bearer <key>" or with HTTP Basic
// (<name>:<key>, each form-urlencoded first, as RFC 6749 §2.3.1 says); a
// missing or bad key answers 401 with a WWW-Authenticate challenge for the
// scheme used. A body that is not application/x-www-form-urlencoded, repeats
// a parameter, or lacks a token answers 400 {"error":"invalid_request"}.
//
// The package depends on the standard library only.
package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"strings"
)

const (
	// Prefix starts every token.
	Prefix = "gpass_"
	// RandomLen is the number of random base62 characters a minted token carries
	// (about 190 bits).
	RandomLen = 32
	// MinRandomLen is the fewest random characters a well-formed token may carry.
	MinRandomLen = 30
	// ChecksumLen is the length of the base62 CRC32 checksum that ends a token.
	ChecksumLen = 6
	// maxLen bounds what Parse looks at, so a huge form value costs nothing.
	maxLen = 256

	alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// ErrMalformed reports a string that is not a well-formed gatepass token.
var ErrMalformed = errors.New("malformed token")

// Hash is the SHA-256 digest of a token's full text. It is what storage keeps.
type Hash [sha256.Size]byte

// String returns the hash in lowercase hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash reads a hash written by Hash.String.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("parse token hash: want %d hex characters", 2*len(h))
	}
	copy(h[:], b)
	return h, nil
}

// HashOf returns the SHA-256 of a token's text.
func HashOf(token string) Hash {
	// A copy on the stack is cheaper than the heap copy []byte(token) makes
	// of anything longer than 32 bytes.
	var buf [maxLen]byte
	if len(token) <= len(buf) {
		return sha256.Sum256(buf[:copy(buf[:], token)])
	}
	return sha256.Sum256([]byte(token))
}

// Equal compares two hashes in constant time.
func (h Hash) Equal(o Hash) bool { return subtle.ConstantTimeCompare(h[:], o[:]) == 1 }

// Mint returns a new token whose random part is read from r. Callers pass
// crypto/rand.Reader; tests may pass a deterministic reader.
func Mint(r io.Reader) (string, error) {
	random := make([]byte, RandomLen)
	if err := randomBase62(r, random); err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	var b strings.Builder
	b.Grow(len(Prefix) + RandomLen + ChecksumLen)
	b.WriteString(Prefix)
	b.Write(random)
	b.WriteString(Checksum(random))
	return b.String(), nil
}

// New mints a token from crypto/rand.
func New() (string, error) { return Mint(rand.Reader) }

// randomBase62 fills dst with uniformly random base62 characters, using
// rejection sampling so no character is likelier than another.
func randomBase62(r io.Reader, dst []byte) error {
	buf := make([]byte, 2*len(dst))
	n := 0
	for n < len(dst) {
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		for _, c := range buf {
			if c >= 248 { // 248 = 4*62: keep only bytes that map evenly
				continue
			}
			dst[n] = alphabet[c%62]
			n++
			if n == len(dst) {
				break
			}
		}
	}
	return nil
}

// Checksum returns the CRC32 (IEEE) of random written in base62, most
// significant digit first, left-padded with '0' to ChecksumLen characters.
func Checksum(random []byte) string {
	out := checksumDigits(crc32.ChecksumIEEE(random))
	return string(out[:])
}

// checksumDigits writes a CRC32 as Checksum does, into an array, so that
// Valid need not allocate.
func checksumDigits(sum uint32) [ChecksumLen]byte {
	var out [ChecksumLen]byte
	for i := ChecksumLen - 1; i >= 0; i-- {
		out[i] = alphabet[sum%62]
		sum /= 62
	}
	return out
}

// Valid reports whether s is a well-formed token: the prefix, at least
// MinRandomLen base62 characters, and a checksum that matches them. It does
// not say whether the token was ever issued.
func Valid(s string) bool {
	if len(s) > maxLen || !strings.HasPrefix(s, Prefix) {
		return false
	}
	body := s[len(Prefix):]
	if len(body) < MinRandomLen+ChecksumLen {
		return false
	}
	for i := 0; i < len(body); i++ {
		if !isBase62(body[i]) {
			return false
		}
	}
	random, sum := body[:len(body)-ChecksumLen], body[len(body)-ChecksumLen:]
	want := checksumDigits(crc32String(random))
	return subtle.ConstantTimeCompare(want[:], []byte(sum)) == 1
}

var ieeeTable = crc32.MakeTable(crc32.IEEE)

// crc32String is crc32.ChecksumIEEE of s, without copying s to the heap as
// []byte(s) would (crc32 lets its argument escape).
func crc32String(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = ieeeTable[byte(crc)^s[i]] ^ crc>>8
	}
	return ^crc
}

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// Secret holds a token's text on its way to the one message that shows it.
// Formatting it (%v, %s, %#v) or logging it with log/slog prints a redacted
// form; Reveal returns the text.
type Secret string

// Reveal returns the token text.
func (s Secret) Reveal() string { return string(s) }

// String redacts the token.
func (s Secret) String() string { return Prefix + "[redacted]" }

// GoString redacts the token.
func (s Secret) GoString() string { return s.String() }

// LogValue redacts the token in log/slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText redacts the token in JSON and other encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
