// Package storage keeps gatepass's state in a SQL database through gorm:
// SQLite (a file, the default) or PostgreSQL. It implements workflow.Store.
//
// State changes are transactions that read the request under a write lock
// (BEGIN IMMEDIATE on SQLite, SELECT … FOR UPDATE on PostgreSQL) and write
// it back with a version check, so concurrent decisions on one request, from
// one process or several, apply one after the other.
//
// The audit log is a hash chain (package audit). Every transaction that
// appends events locks the chain's tip, so events are numbered without gaps
// in commit order. That numbering is also the change feed: each process
// mirrors the live grants in memory for introspection, and follows the log
// (LISTEN/NOTIFY on PostgreSQL, a cheap poll on SQLite) to learn of changes
// other processes made. See index.go and feed.go.
package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatepass/gatepass/workflow"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// maxInParams is how many values one "IN ?" list binds at most: large
// sets are read in slices, to stay under the databases' limits on bound
// parameters.
const maxInParams = 500

var _ workflow.Store = (*Store)(nil)

// Store is the gorm implementation of workflow.Store.
type Store struct {
	db       *gorm.DB
	postgres bool
	dsn      string
	log      *slog.Logger

	// gate queues this process's SQLite writers in Go, where waiting can
	// honour a context and handing over is immediate. Unused for
	// PostgreSQL, whose row locks let writers to different requests run at
	// once.
	gate chan struct{}

	// file is the SQLite database file as opened, to notice it being
	// deleted or replaced under a running process.
	file os.FileInfo

	index *grantIndex
	feed  *feed

	onChange atomic.Pointer[func()]
}

// Options tune a Store.
type Options struct {
	Logger *slog.Logger
}

// IsPostgres reports whether dsn names a PostgreSQL database rather than a
// SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open connects to dsn (a SQLite file path, or a postgres:// URL), migrates
// the schema and loads the live grants.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return OpenWith(ctx, dsn, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, dsn string, o Options) (*Store, error) {
	if dsn == "" {
		return nil, errors.New("open database: empty location")
	}
	s := &Store{postgres: IsPostgres(dsn), dsn: dsn, log: o.Logger, gate: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	cfg := &gorm.Config{
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC() },
		TranslateError:         true,
		SkipDefaultTransaction: true,
	}
	var dialector gorm.Dialector
	if s.postgres {
		// A generic plan cached while a table was empty can turn a
		// cheap claim into a scan of the whole queue: plan every query
		// for its parameters.
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", redactURLError(err))
		}
		q := u.Query()
		if q.Get("plan_cache_mode") == "" {
			q.Set("plan_cache_mode", "force_custom_plan")
		}
		u.RawQuery = q.Encode()
		dialector = postgres.Open(u.String())
	} else {
		if strings.ContainsAny(dsn, "?#") {
			return nil, fmt.Errorf("open database %q: a SQLite path may not contain '?' or '#'", dsn)
		}
		// WAL lets readers run beside the writer; IMMEDIATE transactions take
		// the write lock up front; FULL sync keeps every commit across a
		// crash. The busy timeout is short: writers wait for each other in
		// Go (see writeTx), where the wait honours the caller's deadline.
		q := url.Values{}
		q.Set("_journal_mode", "WAL")
		q.Set("_busy_timeout", "50")
		q.Set("_foreign_keys", "on")
		q.Set("_txlock", "immediate")
		q.Set("_synchronous", "FULL")
		dialector = sqlite.Open(dsn + "?" + q.Encode())
	}
	db, err := gorm.Open(dialector, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", redactURLError(err))
	}
	s.db = db
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if s.postgres {
		sqlDB.SetMaxOpenConns(16)
	} else {
		sqlDB.SetMaxOpenConns(8)
	}
	sqlDB.SetMaxIdleConns(8)
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("open database: %w", redactURLError(err))
	}
	if !s.postgres {
		if s.file, err = os.Stat(dsn); err != nil {
			_ = sqlDB.Close()
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	if err := s.migrate(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	s.index = newGrantIndex()
	s.feed = newFeed(s)
	if err := s.feed.load(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// OnChange sets a function called when the change feed brings changes made
// by another process (new notices to deliver, for instance).
func (s *Store) OnChange(fn func()) { s.onChange.Store(&fn) }

func (s *Store) changed() {
	if fn := s.onChange.Load(); fn != nil && *fn != nil {
		(*fn)()
	}
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// CheckWritable checks that the database can still be written: a small
// durable write, and for SQLite that the file gatepass opened is still the
// one at its path (not deleted or replaced).
func (s *Store) CheckWritable(ctx context.Context) error {
	if s.file != nil {
		fi, err := os.Stat(s.dsn)
		if err != nil {
			return fmt.Errorf("database file %s: %w", s.dsn, err)
		}
		if !os.SameFile(fi, s.file) {
			return fmt.Errorf("database file %s was replaced", s.dsn)
		}
	}
	return s.writeTx(ctx, func(tx *gorm.DB) error {
		return tx.Save(&metaRow{Key: "health", Value: time.Now().UTC().Format(time.RFC3339Nano)}).Error
	})
}

// writeTx runs fn in a write transaction, in turn with the process's other
// SQLite writers. While another process holds the database it retries,
// until ctx ends; then it returns an error wrapping workflow.ErrBusy.
func (s *Store) writeTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if !s.postgres {
		select {
		case s.gate <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", workflow.ErrBusy, ctx.Err())
		}
		defer func() { <-s.gate }()
	}
	delay := time.Millisecond
	for {
		err := s.db.WithContext(ctx).Transaction(fn)
		if err == nil {
			return nil
		}
		if !retryable(err) {
			if ctx.Err() != nil {
				return fmt.Errorf("%w: %w", workflow.ErrBusy, err)
			}
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: %w", workflow.ErrBusy, err)
		case <-t.C:
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
}

// retryable reports errors that mean "another writer was in the way".
func retryable(err error) bool {
	if se, ok := errors.AsType[sqlite3.Error](err); ok {
		return se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pe.Code {
		case "40001", "40P01", "55P03": // serialization failure, deadlock, lock not available
			return true
		}
	}
	return false
}

// notFound maps gorm's not-found to workflow.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return workflow.ErrNotFound
	}
	return err
}

// redactURLError keeps a DSN's password out of an error.
func redactURLError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if i := strings.Index(msg, "://"); i >= 0 {
		if j := strings.Index(msg[i+3:], "@"); j >= 0 {
			if k := strings.Index(msg[i+3:i+3+j], ":"); k >= 0 {
				msg = msg[:i+3+k+1] + "xxxxx" + msg[i+3+j:]
				return errors.New(msg)
			}
		}
	}
	return err
}

// DB returns the underlying gorm handle, for tests and maintenance.
func (s *Store) DB() *gorm.DB { return s.db }
