package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"citygrid/registry"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

// componentCols are the columns of components in the order decodeComponent reads them.
const componentCols = `key, id, legacy_id, class, legacy_class, name, status, supervisor, owner,
	maintainer, cell_code, census_date, change_date, source, note, geom, version, updated, updated_by, attributes`

// componentColsC is componentCols qualified with c.
const componentColsC = `c.key, c.id, c.legacy_id, c.class, c.legacy_class, c.name, c.status, c.supervisor, c.owner,
	c.maintainer, c.cell_code, c.census_date, c.change_date, c.source, c.note, c.geom, c.version, c.updated, c.updated_by, c.attributes`

// binaryResults asks for every result column in binary: the geometry arrives as EWKB.
var binaryResults = pgx.QueryResultFormats{pgx.BinaryFormatCode}

// componentStringCols are the text columns decoded into one allocation per record.
var componentStringCols = []int{3, 4, 5, 7, 8, 9, 10, 13, 14, 18}

// componentDecoder decodes rows of componentCols, reusing its scratch space.
type componentDecoder struct {
	cell string
	dst  [10]*string
}

// decode overwrites every field of c with the row vals.
func (d *componentDecoder) decode(c *registry.Component, vals [][]byte) error {
	if len(vals) != 20 {
		return fmt.Errorf("component row of %d columns", len(vals))
	}
	key, err := getInt8(vals[0])
	if err != nil {
		return fmt.Errorf("key: %w", err)
	}
	*c = registry.Component{Key: registry.Key(key)}
	if c.ID, err = codeFromInt8(vals[1]); err != nil {
		return fmt.Errorf("component %d: id: %w", key, err)
	}
	if c.LegacyID, err = codeFromInt8(vals[2]); err != nil {
		return fmt.Errorf("component %d: legacy_id: %w", key, err)
	}
	if c.Status, err = statusFromBytes(vals[6]); err != nil {
		return fmt.Errorf("component %d: %w", key, err)
	}
	d.dst = [10]*string{&c.Class, &c.LegacyClass, &c.Name, &c.Supervisor, &c.Owner, &c.Maintainer, &d.cell, &c.Source, &c.Note, &c.UpdatedBy}
	decodeStrings(d.dst[:], vals, componentStringCols)
	c.Cell = registry.GridCode(d.cell)
	if c.CensusDate, err = getTime(vals[11]); err != nil {
		return fmt.Errorf("component %d: census_date: %w", key, err)
	}
	if c.ChangeDate, err = getTime(vals[12]); err != nil {
		return fmt.Errorf("component %d: change_date: %w", key, err)
	}
	if c.Point, err = decodePoint(vals[15]); err != nil {
		return fmt.Errorf("component %d: %w", key, err)
	}
	if c.Version, err = getInt8(vals[16]); err != nil {
		return fmt.Errorf("component %d: version: %w", key, err)
	}
	if c.Updated, err = getTime(vals[17]); err != nil {
		return fmt.Errorf("component %d: updated: %w", key, err)
	}
	if c.Attributes, err = getAttributes(vals[19]); err != nil {
		return fmt.Errorf("component %d: attributes: %w", key, err)
	}
	return nil
}

// getAttributes decodes a binary jsonb value (a version byte, 1, then the text) into
// registry's canonical form; NULL is none.
func getAttributes(b []byte) (registry.Attributes, error) {
	if b == nil {
		return "", nil
	}
	if len(b) == 0 || b[0] != 1 {
		return "", fmt.Errorf("jsonb of an unknown binary version")
	}
	return registry.ParseAttributes(b[1:])
}

// Stored identifiers are bigint: a 16-digit legacy identifier is below 10^16, a 17-digit
// one is not, and neither starts with a zero (the CHECKs of components say the same).
const (
	minCode   = 1_000_000_000_000_000
	minCode17 = 10_000_000_000_000_000
	maxCode   = 99_999_999_999_999_999
)

// codeFromInt8 decodes a stored bigint identifier; NULL is the zero code.
func codeFromInt8(b []byte) (registry.ComponentCode, error) {
	if b == nil {
		return registry.ComponentCode{}, nil
	}
	v, err := getInt8(b)
	if err != nil {
		return registry.ComponentCode{}, err
	}
	return codeFromInt64(v)
}

// codeFromInt64 is the identifier stored as v.
func codeFromInt64(v int64) (registry.ComponentCode, error) {
	if v < minCode || v > maxCode {
		return registry.ComponentCode{}, fmt.Errorf("%d is not a 16- or 17-digit identifier: %w", v, registry.ErrInvalidComponentCode)
	}
	return registry.ComponentCodeFromUint64(uint64(v), v < minCode17), nil
}

// codeFromBytes parses an identifier written as digits (before-images) without allocating;
// NULL is the zero code.
func codeFromBytes(b []byte) (registry.ComponentCode, error) {
	if b == nil {
		return registry.ComponentCode{}, nil
	}
	if (len(b) != 16 && len(b) != 17) || b[0] == '0' {
		return registry.ComponentCode{}, registry.ErrInvalidComponentCode
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return registry.ComponentCode{}, registry.ErrInvalidComponentCode
		}
		n = n*10 + uint64(c-'0')
	}
	return registry.ComponentCodeFromUint64(n, len(b) == 16), nil
}

func statusFromBytes(b []byte) (registry.Status, error) {
	switch string(b) {
	case "":
		return 0, nil
	case "intact":
		return registry.StatusIntact, nil
	case "damaged":
		return registry.StatusDamaged, nil
	case "lost":
		return registry.StatusLost, nil
	case "abandoned":
		return registry.StatusAbandoned, nil
	case "removed":
		return registry.StatusRemoved, nil
	}
	return 0, fmt.Errorf("status %q: %w", b, registry.ErrInvalidStatus)
}

// ctxEvery is how many rows a long read goes between looks at ctx.
const ctxEvery = 1024

// ForEachComponent calls fn for every component in key order, from one snapshot. fn's
// argument is reused between calls; the strings it holds are not. An error of fn is returned
// as is.
func (s *Store) ForEachComponent(ctx context.Context, fn func(*registry.Component) error) error {
	var d componentDecoder
	return forEachRow(ctx, s, "components", "SELECT "+componentCols+" FROM components ORDER BY key", d.decode, fn)
}

// forEachRow runs query, a whole table in key order, in one read snapshot, decodes each row
// into one reused T and calls fn with it. An error of fn is returned as is; others are
// wrapped as listing what.
func forEachRow[T any](ctx context.Context, s *Store, what, query string, decode func(*T, [][]byte) error, fn func(*T) error) error {
	var fnErr error
	err := s.read(ctx, func(tx pgx.Tx) error {
		// The only other plan for ORDER BY key over the whole table sorts it, on disk.
		if _, err := tx.Exec(ctx, "SET LOCAL enable_sort = off"); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, query, binaryResults)
		if err != nil {
			return err
		}
		defer rows.Close()
		var v T
		for i := 0; rows.Next(); i++ {
			if i%ctxEvery == ctxEvery-1 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := decode(&v, rows.RawValues()); err != nil {
				return err
			}
			if err := fn(&v); err != nil {
				fnErr = err
				return err
			}
		}
		return rows.Err()
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", what, err)
	}
	return nil
}

// Component returns the component whose identifier, legacy identifier or former identifier
// is id, or an error wrapping registry.ErrComponentNotFound.
func (s *Store) Component(ctx context.Context, id registry.ComponentCode) (registry.Component, error) {
	if err := ctx.Err(); err != nil {
		return registry.Component{}, fmt.Errorf("get component %s: %w", id, err)
	}
	var c registry.Component
	if err := componentByID(ctx, s.pool, id, &c); err != nil {
		return registry.Component{}, fmt.Errorf("get component %s: %w", id, s.dbErr(ctx, err))
	}
	return c, nil
}

// querier is a pool or a transaction: one statement sees one snapshot either way.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func componentByID(ctx context.Context, tx querier, id registry.ComponentCode, c *registry.Component) error {
	if id.IsZero() {
		return registry.ErrComponentNotFound
	}
	rows, err := tx.Query(ctx, "SELECT "+componentColsC+` FROM components c
		WHERE c.key = (SELECT key FROM component_names WHERE code = $1 LIMIT 1)`, binaryResults, int64(id.Uint64()))
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return registry.ErrComponentNotFound
	}
	var d componentDecoder
	if err := d.decode(c, rows.RawValues()); err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// ComponentsByKey returns the components with keys, in the same order (a key may repeat), or
// an error wrapping registry.ErrComponentNotFound naming the first missing key.
func (s *Store) ComponentsByKey(ctx context.Context, keys []registry.Key) ([]registry.Component, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get components by key: %w", err)
	}
	out := make([]registry.Component, len(keys))
	if err := componentsByKey(ctx, s.pool, keys, out); err != nil {
		return nil, fmt.Errorf("get components by key: %w", s.dbErr(ctx, err))
	}
	return out, nil
}

func componentsByKey(ctx context.Context, tx querier, keys []registry.Key, out []registry.Component) error {
	if len(keys) == 0 {
		return nil
	}
	ks := make([]int64, len(keys))
	for i, k := range keys {
		ks[i] = int64(k)
	}
	rows, err := tx.Query(ctx, "SELECT "+componentCols+" FROM components WHERE key = ANY($1)", binaryResults, ks)
	if err != nil {
		return err
	}
	defer rows.Close()
	found := make(map[registry.Key]*registry.Component, len(keys))
	var d componentDecoder
	for rows.Next() {
		c := new(registry.Component)
		if err := d.decode(c, rows.RawValues()); err != nil {
			return err
		}
		found[c.Key] = c
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i, k := range keys {
		c, ok := found[k]
		if !ok {
			return fmt.Errorf("key %d: %w", k, registry.ErrComponentNotFound)
		}
		out[i] = *c
	}
	return nil
}

// History returns every change of the component named id, oldest first, or an error
// wrapping registry.ErrComponentNotFound. A change's After is the next change's Before, and
// the current record for the last one; its Time and Actor are those stamped on it. The create
// has no history row: its seq is created_seq and its time and actor are those stamped on
// version 1 of the record, the first update's Before (or the record itself while there is no
// update).
func (s *Store) History(ctx context.Context, id registry.ComponentCode) ([]registry.Change, error) {
	var out []registry.Change
	err := s.read(ctx, func(tx pgx.Tx) error {
		var cur registry.Component
		if err := componentByID(ctx, tx, id, &cur); err != nil {
			return err
		}
		var created int64
		if err := tx.QueryRow(ctx, "SELECT created_seq FROM components WHERE key = $1", int64(cur.Key)).Scan(&created); err != nil {
			return err
		}
		out = append(out, registry.Change{Seq: uint64(created), Op: registry.OpCreate, Version: 1})
		rows, err := tx.Query(ctx, `SELECT seq, time, actor, op, version, before, note FROM component_history
			WHERE component_key = $1 ORDER BY seq`, int64(cur.Key))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ch registry.Change
			var actor, note *string
			var op string
			var before []byte
			if err := rows.Scan(&ch.Seq, &ch.Time, &actor, &op, &ch.Version, &before, &note); err != nil {
				return err
			}
			if note != nil {
				ch.Note = *note
			}
			ch.Time = ch.Time.UTC()
			ch.Op = registry.ChangeOp(op)
			if actor != nil {
				ch.Actor = *actor
			}
			if before != nil {
				b, err := decodeImage(before)
				if err != nil {
					return fmt.Errorf("history seq %d: %w", ch.Seq, err)
				}
				ch.Before = &b
			}
			out = append(out, ch)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			after := cur
			if i+1 < len(out) {
				if out[i+1].Before == nil {
					return fmt.Errorf("history seq %d has no before-image", out[i+1].Seq)
				}
				after = *out[i+1].Before
			}
			out[i].After = &after
		}
		v1 := out[0].After
		if v1.Version != 1 {
			return fmt.Errorf("component %d: the history starts at version %d", cur.Key, v1.Version)
		}
		out[0].Time, out[0].Actor = v1.Updated, v1.UpdatedBy
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get history of %s: %w", id, err)
	}
	return out, nil
}

// image is the jsonb before-image written by component_image (migrations/0001_init.sql).
type image struct {
	Key         int64           `json:"key"`
	ID          string          `json:"id"`
	LegacyID    *string         `json:"legacy_id"`
	Class       *string         `json:"class"`
	LegacyClass *string         `json:"legacy_class"`
	Name        *string         `json:"name"`
	Status      *string         `json:"status"`
	Supervisor  *string         `json:"supervisor"`
	Owner       *string         `json:"owner"`
	Maintainer  *string         `json:"maintainer"`
	CellCode    *string         `json:"cell_code"`
	CensusDate  *time.Time      `json:"census_date"`
	ChangeDate  *time.Time      `json:"change_date"`
	Source      *string         `json:"source"`
	Note        *string         `json:"note"`
	Lon         *float64        `json:"lon"`
	Lat         *float64        `json:"lat"`
	Geom        *string         `json:"geom"` // hex EWKB
	Version     int64           `json:"version"`
	Updated     time.Time       `json:"updated"`
	UpdatedBy   *string         `json:"updated_by"`
	Attributes  json.RawMessage `json:"attributes"`
}

func decodeImage(b []byte) (registry.Component, error) {
	var im image
	if err := json.Unmarshal(b, &im); err != nil {
		return registry.Component{}, fmt.Errorf("before-image: %w", err)
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	tm := func(p *time.Time) time.Time {
		if p == nil {
			return time.Time{}
		}
		return p.UTC()
	}
	c := registry.Component{
		Key: registry.Key(im.Key), Class: str(im.Class), LegacyClass: str(im.LegacyClass),
		Name: str(im.Name), Supervisor: str(im.Supervisor), Owner: str(im.Owner),
		Maintainer: str(im.Maintainer), Cell: registry.GridCode(str(im.CellCode)),
		CensusDate: tm(im.CensusDate), ChangeDate: tm(im.ChangeDate), Source: str(im.Source),
		Note: str(im.Note), Version: im.Version, Updated: im.Updated.UTC(), UpdatedBy: str(im.UpdatedBy),
	}
	var err error
	if c.Attributes, err = registry.ParseAttributes(im.Attributes); err != nil {
		return c, fmt.Errorf("before-image attributes: %w", err)
	}
	if c.ID, err = codeFromBytes([]byte(im.ID)); err != nil {
		return c, fmt.Errorf("before-image id: %w", err)
	}
	if im.LegacyID != nil {
		if c.LegacyID, err = codeFromBytes([]byte(*im.LegacyID)); err != nil {
			return c, fmt.Errorf("before-image legacy_id: %w", err)
		}
	}
	if im.Status != nil {
		if c.Status, err = statusFromBytes([]byte(*im.Status)); err != nil {
			return c, fmt.Errorf("before-image: %w", err)
		}
	}
	switch {
	case im.Geom != nil:
		b, err := hex.DecodeString(*im.Geom)
		if err != nil {
			return c, fmt.Errorf("before-image geom: %w", err)
		}
		if c.Point, err = decodePoint(b); err != nil {
			return c, fmt.Errorf("before-image: %w", err)
		}
	case im.Lon != nil && im.Lat != nil:
		c.Point = orb.Point{*im.Lon, *im.Lat}
	}
	return c, nil
}

// sortedKeys returns the distinct keys, ascending.
func sortedKeys(keys []int64) []int64 {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return slices.Compact(keys)
}
