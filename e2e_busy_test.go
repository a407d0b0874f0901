package main

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"
)

// While another process holds the SQLite database's write lock (a backup,
// a `gatepass revoke`, a second serve), a command is still answered within
// Slack's 3 seconds, saying gatepass is busy and that nothing changed; once
// the lock is released, commands work again.
func TestBusyDatabaseIsAnsweredInTime(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	db, err := sql.Open("sqlite3", h.env["GATEPASS_DB"]+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := h.command(alice, "prod-db read 30m INC-77 while the database is held")
	took := time.Since(start)
	if took > 3*time.Second {
		t.Errorf("answered after %s, want within Slack's 3 s", took)
	}
	mustContain(t, "reply while busy", r.Text, "busy", "nothing was changed")
	if idRE.MatchString(r.Text) {
		t.Fatalf("a request was filed while the database was held: %s", r.Text)
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	id := h.request(alice, "prod-db read 30m INC-77 once it is free")
	if list := h.command(alice, "list"); !strings.Contains(list.Text, id) || strings.Count(list.Text, "INC-77") != 1 {
		t.Fatalf("after the lock was released: %s", list.Text)
	}
}
