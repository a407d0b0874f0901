package tokens

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/big"
	"strings"
	"testing"
)

// base62 is an independent base62 writer (math/big) to check Checksum.
func base62(n uint32, width int) string {
	s := big.NewInt(int64(n)).Text(62) // 0-9a-zA-Z: swap the letter cases for 0-9A-Za-z
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteRune(c - 'a' + 'A')
		case c >= 'A' && c <= 'Z':
			b.WriteRune(c - 'A' + 'a')
		default:
			b.WriteRune(c)
		}
	}
	return strings.Repeat("0", width-b.Len()) + b.String()
}

func TestMintedTokensHaveTheContractForm(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		tok, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, "gpass_") || len(tok) != len("gpass_")+RandomLen+ChecksumLen {
			t.Fatalf("token %q: wrong shape", tok)
		}
		random, sum := tok[6:6+RandomLen], tok[6+RandomLen:]
		for _, c := range random + sum {
			if !strings.ContainsRune(alphabet, c) {
				t.Fatalf("token %q: %q is not base62", tok, c)
			}
		}
		if want := base62(crc32.ChecksumIEEE([]byte(random)), 6); sum != want {
			t.Fatalf("token %q: checksum %s, want %s", tok, sum, want)
		}
		if !Valid(tok) {
			t.Fatalf("minted token %q is not Valid", tok)
		}
		if seen[tok] {
			t.Fatal("the same token twice")
		}
		seen[tok] = true
	}
}

func TestMintRejectsBiasedBytes(t *testing.T) {
	// Bytes 248..255 would favour the first eight characters; they are
	// skipped, so 248 then 0 yields '0', and 61 yields 'z'.
	src := bytes.Repeat([]byte{248, 255, 61, 0}, 64)
	tok, err := Mint(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := tok[6 : 6+RandomLen]; got != strings.Repeat("z0", RandomLen/2) {
		t.Fatalf("random part %q", got)
	}
	if _, err := Mint(bytes.NewReader(nil)); err == nil {
		t.Fatal("minted from an empty reader")
	}
}

func TestValid(t *testing.T) {
	good, _ := New()
	flip := []byte(good)
	if flip[10] == 'a' {
		flip[10] = 'b'
	} else {
		flip[10] = 'a'
	}
	random30 := strings.Repeat("A", 30)
	cases := []struct {
		tok  string
		want bool
	}{
		{good, true},
		{"gpass_" + random30 + Checksum([]byte(random30)), true}, // the shortest allowed
		{string(flip), false}, // one character changed: checksum fails
		{"gpass_" + strings.Repeat("A", 29) + Checksum([]byte(strings.Repeat("A", 29))), false},
		{"gpass_000000000000000000000000000000000000", false},
		{strings.Replace(good, "gpass_", "gpask_", 1), false},
		{good + "!", false},
		{good[:len(good)-1] + "-", false},
		{"", false},
		{"gpass_", false},
		{"gpass_" + strings.Repeat("A", 300), false},
	}
	for _, c := range cases {
		if got := Valid(c.tok); got != c.want {
			t.Errorf("Valid(%q) = %v, want %v", c.tok, got, c.want)
		}
	}
}

func FuzzValid(f *testing.F) {
	tok, _ := New()
	f.Add(tok)
	f.Add("gpass_000000000000000000000000000000000000")
	f.Fuzz(func(t *testing.T, s string) {
		if !Valid(s) {
			return
		}
		body := s[len(Prefix):]
		if Checksum([]byte(body[:len(body)-ChecksumLen])) != body[len(body)-ChecksumLen:] {
			t.Fatalf("Valid(%q) with a wrong checksum", s)
		}
	})
}

func TestHash(t *testing.T) {
	h := HashOf("gpass_x")
	back, err := ParseHash(h.String())
	if err != nil || !back.Equal(h) || back.Equal(HashOf("gpass_y")) {
		t.Fatalf("hash round trip: %v %v", back, err)
	}
	if _, err := ParseHash("abc"); err == nil {
		t.Fatal("short hash parsed")
	}
}

func TestSecretIsRedactedWhenPrinted(t *testing.T) {
	tok, _ := New()
	s := Secret(tok)
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "token", s)
	js, _ := json.Marshal(struct{ T Secret }{s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%s %v %#v %+v", s, s, s, struct{ T Secret }{s}), logs.String(), string(js)} {
		if strings.Contains(out, tok[6:]) {
			t.Errorf("token printed: %s", out)
		}
	}
	if s.Reveal() != tok {
		t.Fatal("Reveal lost the token")
	}
}

func BenchmarkMint(b *testing.B) {
	for range b.N {
		if _, err := New(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidAndHash(b *testing.B) {
	tok, _ := New()
	b.ReportAllocs()
	for range b.N {
		if !Valid(tok) {
			b.Fatal("invalid")
		}
		_ = HashOf(tok)
	}
}

// FuzzCRC32String: the string CRC that Valid uses is crc32.ChecksumIEEE.
func FuzzCRC32String(f *testing.F) {
	for _, s := range []string{"", "a", "0123456789ABCDEFGHIJKLMNOPQRSTUV", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := crc32String(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Fatalf("crc32String(%q) = %08x, want %08x", s, got, want)
		}
	})
}
