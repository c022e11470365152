package postgres

import (
	"context"
	"fmt"

	"citygrid/registry"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paulmach/orb"
)

// CopyComponents writes comps (keys set) into table, whose columns are those of components,
// with the store's own binary COPY encoder: the baseline of BenchmarkImport1M.
func CopyComponents(ctx context.Context, conn *pgconn.PgConn, table string, comps []registry.Component) (int64, error) {
	src := newCopySource(len(comps), func(b []byte, i int) []byte {
		return appendComponentRow(b, &comps[i], 0)
	})
	tag, err := conn.CopyFrom(ctx, src, "COPY "+table+" ("+componentInsertCols+") FROM STDIN BINARY")
	return tag.RowsAffected(), err
}

// Geometry codecs, for the round-trip tests.
var (
	MultiPolygonEWKB   = multiPolygonEWKB
	DecodeMultiPolygon = decodeMultiPolygon
	DecodePoint        = decodePoint
)

func PointEWKB(p orb.Point) []byte { return appendPointEWKB(nil, p) }

// RedactURL is redactURL, for the redaction tests.
var RedactURL = redactURL

// MigrationCount is the number of embedded migrations.
func MigrationCount() int {
	ms, err := migrations()
	if err != nil {
		panic(err)
	}
	return len(ms)
}

// MigrateTo applies the embedded migrations up to version only, as an older build did: the
// starting point of the tests that migrate forward.
func MigrateTo(ctx context.Context, url string, version int) error {
	cfg, display, secret, err := parseConfig(url)
	if err != nil {
		return err
	}
	if version <= 0 {
		return fmt.Errorf("migrate to version %d: want a version above 0", version)
	}
	return migrate(ctx, cfg.ConnConfig, display, secret, version)
}
