package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"citygrid/registry"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Advisory lock ids (pg_advisory_xact_lock). Any two fixed bigints would do; these spell
// "citygrid" and "citygrim" in ASCII so that they are recognisable in pg_locks.
const (
	lockWrite   int64 = 0x63697479_67726964 // serialises every write of the store
	lockMigrate int64 = 0x63697479_6772696d // serialises migrations of concurrent Opens
	lockSetup   int64 = 0x63697479_67726965 // serialises Exclusive sections (the demo city's import)
)

// Exclusive runs fn while holding a database-wide lock that other calls of Exclusive on the
// same database, from any process, wait for: for a node's start-up work that must happen
// once, such as seeding an empty database with the demo city. The lock is a session-level
// advisory lock on a connection of its own, released when fn returns (or when the
// connection breaks). fn uses the store as usual.
func (s *Store) Exclusive(ctx context.Context, fn func() error) error {
	// A connection outside the pool: fn needs the pool's, and a pool of one would wait on
	// itself.
	conn, err := pgx.ConnectConfig(ctx, s.cfg.ConnConfig.Copy())
	if err != nil {
		return s.dbErr(ctx, fmt.Errorf("exclusive: %w", err))
	}
	defer conn.Close(context.WithoutCancel(ctx)) // closing the session releases the lock
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockSetup); err != nil {
		return s.dbErr(ctx, fmt.Errorf("exclusive: %w", err))
	}
	return fn()
}

// notifyChannel is the LISTEN/NOTIFY channel that carries the last change seq of each commit.
const notifyChannel = "citygrid_changes"

// DefaultCopyThreshold is the batch size above which PutComponents loads through COPY.
const DefaultCopyThreshold = 1000

// Options configures Open. The zero value is ready to use.
type Options struct {
	// CopyThreshold: a PutComponents batch of more components than this goes through binary
	// COPY instead of array parameters; 0 means DefaultCopyThreshold, a negative value means
	// always COPY.
	CopyThreshold int
	// MaintenanceWorkMem is the maintenance_work_mem of a large import's transaction, used by
	// the index builds; "" means 512MB. Sorting a million points for the GiST build in the
	// server's default 64MB spills to disk and takes twice as long.
	MaintenanceWorkMem string
	// MaxConns is the pool size; 0 means pgxpool's default (max(4, GOMAXPROCS)).
	MaxConns int32
	// Now returns the time stamped on writes; nil means time.Now. It is truncated to the
	// microsecond that PostgreSQL keeps.
	Now func() time.Time
	// Logger receives Listen's reconnects; nil discards them. Messages never hold passwords.
	Logger *slog.Logger
}

// Store is the PostgreSQL registry.Store. It is safe for concurrent use by many goroutines
// and by many processes on one database: writes are serialised by an advisory lock so that
// change seqs commit in increasing order.
type Store struct {
	pool    *pgxpool.Pool
	cfg     *pgxpool.Config
	display string // the URL without its password, for errors
	secret  string // the password, scrubbed from every error text
	opts    Options
	now     func() time.Time
	log     *slog.Logger

	closeOnce sync.Once
	lastReset atomic.Int64 // unix ns of the last resetPool
}

var (
	_ registry.Store      = (*Store)(nil)
	_ registry.ChangeFeed = (*Store)(nil)
)

// Open connects to the database at url (a postgres:// URL or key=value DSN), applies any
// pending migration and returns the store. The database needs PostGIS, or the right to
// create it. Errors never contain the password of url.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, display, secret, err := parseConfig(url)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, cfg.ConnConfig.Copy(), display, secret, 0); err != nil {
		return nil, err
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, redact(fmt.Errorf("open %s: %w", display, err), secret)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, redact(fmt.Errorf("open %s: %w", display, err), secret)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{pool: pool, cfg: cfg, display: display, secret: secret, opts: opts, now: now, log: log}, nil
}

// parseConfig parses url and returns the pool config, the URL for messages and the password.
func parseConfig(url string) (*pgxpool.Config, string, string, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parser's message quotes the URL; it redacts it, but only as best it can.
		return nil, "", "", fmt.Errorf("parse database url %s: malformed", redactURL(url, ""))
	}
	secret := cfg.ConnConfig.Password
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "citygrid"
	}
	return cfg, redactURL(url, secret), secret, nil
}

// Close closes the pool. It is safe to call more than once. It does not stop Listen, which
// has a connection of its own: cancel Listen's ctx for that.
func (s *Store) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}

// stamp returns the write time: UTC, whole microseconds, no monotonic reading, as read back.
func (s *Store) stamp() time.Time { return s.now().UTC().Truncate(time.Microsecond).Round(0) }

// wtx is one write transaction: now is its time stamp, taken once it holds the write lock so
// that stamps rise with seqs; lastSeq is the last change seq it took, for the NOTIFY.
type wtx struct {
	pgx.Tx
	now     time.Time
	lastSeq uint64
}

// write runs fn in one transaction holding the store-wide write lock, notifies listeners of
// the last change seq it took and commits. A ctx that ends before the commit stores nothing;
// the commit itself is not cut short by ctx.
func (s *Store) write(ctx context.Context, fn func(*wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := s.begin(ctx, pgx.TxOptions{}, "SELECT pg_advisory_xact_lock($1)", lockWrite)
	if err != nil {
		return s.dbErr(ctx, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	w := &wtx{Tx: tx, now: s.stamp()}
	if err := fn(w); err != nil {
		return s.dbErr(ctx, err)
	}
	if w.lastSeq > 0 {
		if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", notifyChannel, fmt.Sprint(w.lastSeq)); err != nil {
			return s.dbErr(ctx, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The commit is not cut short by ctx: once it is sent, its outcome is the write's.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err := tx.Commit(cctx); err != nil {
		var pe *pgconn.PgError
		switch {
		case errors.As(err, &pe) && !connLost(err):
			return s.dbErr(ctx, err) // the database refused the commit: nothing stored
		case pgconn.SafeToRetry(err):
			// COMMIT was never sent: nothing stored.
			return s.as(err, registry.ErrStoreUnavailable)
		}
		return s.as(err, registry.ErrCommitUnknown)
	}
	return nil
}

// as returns err as the registry error e, keeping err's text without the password.
func (s *Store) as(err error, e *registry.Error) error {
	return fmt.Errorf("%s: %w", scrub(err.Error(), s.secret), e)
}

// commitTimeout bounds a write's COMMIT, which its request's context does not cut short.
const commitTimeout = 30 * time.Second

// begin starts a transaction and runs its first statement, if any, and does both once more
// on a fresh connection when the first attempt finds its connection broken: after the
// database restarts, the pool's idle connections are dead, and the first statement on one
// is where that shows. Nothing of the transaction has run then, so trying again is safe; the
// pool is reset so that the retry does not draw another dead connection.
func (s *Store) begin(ctx context.Context, opts pgx.TxOptions, first string, args ...any) (pgx.Tx, error) {
	for attempt := 0; ; attempt++ {
		tx, err := s.pool.BeginTx(ctx, opts)
		if err == nil && first != "" {
			if _, err = tx.Exec(ctx, first, args...); err != nil {
				tx.Rollback(context.WithoutCancel(ctx))
			}
		}
		if err == nil || attempt > 0 || ctx.Err() != nil || !connLost(err) {
			return tx, err
		}
		s.resetPool(err)
	}
}

// resetPool drops the pool's connections after one was found dead (begin), at most once
// a second: while the database is down every request finds that, and resetting each time
// would also drop the connections that the retries just opened.
func (s *Store) resetPool(cause error) {
	now := time.Now().UnixNano()
	last := s.lastReset.Load()
	if now-last < int64(time.Second) || !s.lastReset.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("database connection lost; retrying on new connections", "err", scrub(cause.Error(), s.secret))
	s.pool.Reset()
}

// connLost reports whether err says that the connection to the database broke or could not
// be made (the server restarting, shutting down, unreachable), rather than that the database
// refused the statement.
func connLost(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01–57P03: admin shutdown, crash shutdown,
		// cannot connect now (starting up).
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) || pgconn.SafeToRetry(err)
}

// read runs fn in a read-only transaction: one snapshot for several queries.
func (s *Store) read(ctx context.Context, fn func(pgx.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := s.begin(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, "")
	if err != nil {
		return s.dbErr(ctx, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return s.dbErr(ctx, err)
	}
	return s.dbErr(ctx, tx.Commit(ctx))
}

// reserve takes n consecutive values of sequence seq (n ≥ 1) and returns the first. Callers
// hold the write lock, so nextval and setval cannot interleave with another writer's.
func reserve(ctx context.Context, tx pgx.Tx, seq string, n int) (int64, error) {
	var last int64
	err := tx.QueryRow(ctx, "SELECT setval($1::regclass, nextval($1::regclass) + $2 - 1)", seq, int64(n)).Scan(&last)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "2200H" { // sequence_generator_limit_exceeded
			return 0, fmt.Errorf("reserve %d values of %s: key space exhausted", n, seq)
		}
		return 0, fmt.Errorf("reserve %d values of %s: %w", n, seq, err)
	}
	return last - int64(n) + 1, nil
}

// changes takes n change seqs and returns the first.
func (w *wtx) changeSeqs(ctx context.Context, n int) (uint64, error) {
	if n == 0 {
		return 0, nil
	}
	first, err := reserve(ctx, w.Tx, "change_seq", n)
	if err != nil {
		return 0, err
	}
	w.lastSeq = uint64(first) + uint64(n) - 1
	return uint64(first), nil
}

// dbErr translates a database error: a unique violation (SQLSTATE 23505) wraps
// registry.ErrDuplicate, an error caused by ctx ending wraps ctx's error, and no error text
// contains the password.
func (s *Store) dbErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var re *registry.Error
	if errors.As(err, &re) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%s)", cerr, scrub(err.Error(), s.secret))
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%s: %w", scrub(pe.Detail, s.secret), registry.ErrDuplicate)
	}
	if connLost(err) {
		return s.as(err, registry.ErrStoreUnavailable)
	}
	return redact(err, s.secret)
}
