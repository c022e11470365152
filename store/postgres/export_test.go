package postgres

import (
	"context"

	"citygrid/registry"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paulmach/orb"
)

// CopyComponents writes comps (keys set) into table, whose columns are those of components,
// with the store's own binary COPY encoder: the baseline of BenchmarkImport1M.
func CopyComponents(ctx context.Context, conn *pgconn.PgConn, table string, comps []registry.Component) (int64, error) {
	src := newCopySource(len(comps), func(b []byte, i int) []byte {
		return appendComponentRow(b, &comps[i], false, 0, "")
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
