package client

import "hash/crc32"

// The form of a gatepass token: "gpass_", at least minRandomLen base62
// characters, then the CRC32 (IEEE) of those characters in base62, most
// significant digit first, left-padded with '0' to checksumLen characters.
const (
	tokenPrefix  = "gpass_"
	minRandomLen = 30
	checksumLen  = 6
	minTokenLen  = len(tokenPrefix) + minRandomLen + checksumLen
	maxTokenLen  = 256 // longer strings are not looked at
	base62       = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// WellFormed reports whether s has the form of a gatepass token: the "gpass_"
// prefix, at least 30 base62 characters, and a checksum that matches them. It
// is checked offline and says nothing about whether the token was ever issued
// or is active; [Client.Introspect] answers a token that is not well-formed
// as inactive without asking gatepass.
func WellFormed(s string) bool {
	if len(s) > maxTokenLen || len(s) < minTokenLen || s[:len(tokenPrefix)] != tokenPrefix {
		return false
	}
	body := s[len(tokenPrefix):]
	for i := 0; i < len(body); i++ {
		if !isBase62(body[i]) {
			return false
		}
	}
	random, sum := body[:len(body)-checksumLen], body[len(body)-checksumLen:]
	crc := ^uint32(0)
	for i := 0; i < len(random); i++ {
		crc = crcTable[byte(crc)^random[i]] ^ crc>>8
	}
	crc = ^crc
	for i := checksumLen - 1; i >= 0; i-- {
		if sum[i] != base62[crc%62] {
			return false
		}
		crc /= 62
	}
	return true // 62^6 > 2^32: six digits hold every CRC32
}

// crcTable is the CRC32 (IEEE) table; the loop above reads the token without
// copying it to a []byte, as crc32.ChecksumIEEE would need.
var crcTable = crc32.MakeTable(crc32.IEEE)

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}
