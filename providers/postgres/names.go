package postgres

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/google/uuid"
)

// rolePrefix starts the name of every role this provider creates.
const rolePrefix = "gatepass_"

// RoleName is the PostgreSQL role that holds the grant of request
// requestID: "gatepass_" followed by the request UUID's 32 hex digits, in
// lower case ("gatepass_0b7e4c1f9a2d4e6f8a1b2c3d4e5f6a7b" for request
// 0b7e4c1f-9a2d-4e6f-8a1b-2c3d4e5f6a7b). It is deterministic, so a retry
// finds the role an earlier attempt made, and at 41 characters it fits
// PostgreSQL's 63-byte limit for names.
//
// Request IDs are UUIDs; any other ID is mapped to 32 hex digits of its
// SHA-256, which keeps the name deterministic, of the same shape, and
// collision-free in practice.
func RoleName(requestID string) string {
	if id, err := uuid.Parse(strings.TrimSpace(requestID)); err == nil {
		return rolePrefix + hex.EncodeToString(id[:])
	}
	sum := sha256.Sum256([]byte("gatepass request " + requestID))
	return rolePrefix + hex.EncodeToString(sum[:16])
}

// isGrantRoleName reports whether name has the exact shape RoleName gives:
// "gatepass_" and 32 lower-case hex digits that parse back to a UUID. Roles
// people name "gatepass_admin" or "gatepass_ro" do not qualify, so
// Reconcile never touches them.
func isGrantRoleName(name string) bool {
	rest, ok := strings.CutPrefix(name, rolePrefix)
	if !ok || len(rest) != 32 {
		return false
	}
	for _, c := range rest {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	_, err := uuid.Parse(rest)
	return err == nil
}
