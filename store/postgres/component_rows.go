package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"citygrid/registry"

	"github.com/jackc/pgx/v5"
)

// The rows of PutComponents: the columns of a component, its binary COPY tuple and unnest
// arrays, and the statements that write updates and creates (component_put.go decides what
// each element becomes).

// componentInsertCols are the columns written for a component, in the order of
// appendComponentRow and componentArrays.
const componentInsertCols = `key, id, legacy_id, class, legacy_class, name, status, supervisor, owner,
	maintainer, cell_code, census_date, change_date, source, note, geom, version, updated, updated_by, attributes`

// appendComponentRow appends c as the first fields of a binary COPY tuple: the tuple's field
// count, 20 + extra, then componentInsertCols. The caller appends the extra fields.
func appendComponentRow(b []byte, c *registry.Component, extra int) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(20+extra))
	b = putInt8(b, int64(c.Key))
	b = putCode(b, c.ID)
	b = putCode(b, c.LegacyID)
	b = putText(b, c.Class)
	b = putText(b, c.LegacyClass)
	b = putText(b, c.Name)
	b = putText(b, c.Status.String())
	b = putText(b, c.Supervisor)
	b = putText(b, c.Owner)
	b = putText(b, c.Maintainer)
	b = putText(b, string(c.Cell))
	b = putTime(b, c.CensusDate)
	b = putTime(b, c.ChangeDate)
	b = putText(b, c.Source)
	b = putText(b, c.Note)
	b = binary.BigEndian.AppendUint32(b, 25)
	b = appendPointEWKB(b, c.Point)
	b = putInt8(b, c.Version)
	b = putTime(b, c.Updated)
	b = putText(b, c.UpdatedBy)
	return putJSONB(b, string(c.Attributes))
}

// putJSONB writes the JSON text s as a binary jsonb value (version 1, then the text); "" is
// NULL.
func putJSONB(b []byte, s string) []byte {
	if s == "" {
		return putNull(b)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)+1))
	b = append(b, 1)
	return append(b, s...)
}

// componentArrays returns the columns of comps as arrays, for unnest.
func componentArrays(comps []registry.Component) []any {
	n := len(comps)
	keys, versions, ids, legacy := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	classes, legacyClasses, names := make([]string, n), make([]string, n), make([]string, n)
	status, supervisors, owners, maintainers, cells := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	census, changed, updated := make([]*time.Time, n), make([]*time.Time, n), make([]time.Time, n)
	sources, notes, by, attrs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	geoms := make([][]byte, n)
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	for i := range comps {
		c := &comps[i]
		keys[i], versions[i] = int64(c.Key), c.Version
		ids[i], legacy[i] = int64(c.ID.Uint64()), int64(c.LegacyID.Uint64())
		classes[i], legacyClasses[i], names[i] = c.Class, c.LegacyClass, c.Name
		status[i], supervisors[i], owners[i], maintainers[i], cells[i] = c.Status.String(), c.Supervisor, c.Owner, c.Maintainer, string(c.Cell)
		census[i], changed[i], updated[i] = opt(c.CensusDate), opt(c.ChangeDate), c.Updated
		sources[i], notes[i], by[i], attrs[i] = c.Source, c.Note, c.UpdatedBy, string(c.Attributes)
		geoms[i] = appendPointEWKB(nil, c.Point)
	}
	return []any{keys, ids, legacy, classes, legacyClasses, names, status, supervisors, owners, maintainers,
		cells, census, changed, sources, notes, geoms, versions, updated, by, attrs}
}

// componentUnnest selects componentInsertCols from the arrays of componentArrays ($1..$20),
// with "" and a zero legacy_id as NULL, as in the binary rows.
const componentUnnest = `SELECT key, id, NULLIF(legacy_id, 0) AS legacy_id, NULLIF(class, '') AS class,
		NULLIF(legacy_class, '') AS legacy_class, NULLIF(name, '') AS name, NULLIF(status, '') AS status,
		NULLIF(supervisor, '') AS supervisor, NULLIF(owner, '') AS owner, NULLIF(maintainer, '') AS maintainer,
		NULLIF(cell_code, '') AS cell_code, census_date, change_date, NULLIF(source, '') AS source,
		NULLIF(note, '') AS note, ST_GeomFromEWKB(geom) AS geom, version, updated,
		NULLIF(updated_by, '') AS updated_by, NULLIF(attributes, '')::jsonb AS attributes%s
	FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
		$8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[], $13::timestamptz[],
		$14::text[], $15::text[], $16::bytea[], $17::bigint[], $18::timestamptz[], $19::text[], $20::text[]%s)
		AS u(key, id, legacy_id, class, legacy_class, name, status, supervisor, owner, maintainer,
			cell_code, census_date, change_date, source, note, geom, version, updated, updated_by, attributes%s)`

// componentSet assigns every column but key from u.
const componentSet = `id = u.id, legacy_id = u.legacy_id, class = u.class, legacy_class = u.legacy_class,
	name = u.name, status = u.status, supervisor = u.supervisor, owner = u.owner, maintainer = u.maintainer,
	cell_code = u.cell_code, census_date = u.census_date, change_date = u.change_date, source = u.source,
	note = u.note, geom = u.geom, version = u.version, updated = u.updated, updated_by = u.updated_by,
	attributes = u.attributes`

// writeUpdates records the before-images of the updated records in the history, then
// overwrites them, and files the names they leave behind as aliases. run() writes their
// changes.
func (p *putter) writeUpdates(ctx context.Context) error {
	var idx []int
	for i := range p.in {
		if p.isUpd[i] {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	tx := p.w.Tx
	var src string
	var args []any
	if p.copy {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE stage_updates ON COMMIT DROP AS
			SELECT `+componentInsertCols+`, 0::bigint AS seq, ''::text AS op FROM components WITH NO DATA`); err != nil {
			return err
		}
		cs := newCopySource(len(idx), func(b []byte, j int) []byte {
			i := idx[j]
			c := p.record(i)
			b = appendComponentRow(b, &c, 2)
			b = putInt8(b, p.seq(i))
			return putText(b, p.ops[i])
		})
		if _, err := tx.Conn().PgConn().CopyFrom(ctx, cs, "COPY stage_updates ("+componentInsertCols+", seq, op) FROM STDIN BINARY"); err != nil {
			return err
		}
		src = "stage_updates u"
		args = []any{p.now, p.actor}
	} else {
		comps := make([]registry.Component, len(idx))
		seqs, ops := make([]int64, len(idx)), make([]string, len(idx))
		for j, i := range idx {
			comps[j], seqs[j], ops[j] = p.record(i), p.seq(i), p.ops[i]
		}
		args = append(componentArrays(comps), seqs, ops, p.now, p.actor)
		src = "(" + fmt.Sprintf(componentUnnest, ", seq, op", ", $21::bigint[], $22::text[]", ", seq, op") + ") u"
	}
	tp, ap, np := len(args)-1, len(args), len(args)+1 // $ of the time, actor and note
	if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO component_history (component_key, seq, time, actor, op, version, before, note)
		SELECT c.key, u.seq, $%d, NULLIF($%d, ''), u.op, u.version, component_image(c), NULLIF($%d, '')
		FROM components c JOIN %s ON c.key = u.key`, tp, ap, np, src), append(args, p.note)...); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE components c SET %s FROM %s WHERE c.key = u.key`, componentSet, src), args[:len(args)-2]...); err != nil {
		return err
	}
	if len(p.reclaim) > 0 {
		codes, keys := aliasArrays(p.reclaim)
		if _, err := tx.Exec(ctx, `DELETE FROM component_aliases a USING unnest($1::bigint[], $2::bigint[]) AS r(code, key)
			WHERE a.code = r.code AND a.component_key = r.key`, codes, keys); err != nil {
			return err
		}
	}
	if len(p.aliases) > 0 {
		codes, keys := aliasArrays(p.aliases)
		if _, err := tx.Exec(ctx, `INSERT INTO component_aliases (code, component_key)
			SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT (code) DO NOTHING`, codes, keys); err != nil {
			return err
		}
	}
	return nil
}

func aliasArrays(as []alias) ([]int64, []int64) {
	codes, keys := make([]int64, len(as)), make([]int64, len(as))
	for i, a := range as {
		codes[i], keys[i] = int64(a.code), a.key
	}
	return codes, keys
}

// bulkIndex is an index of components that a large import drops and builds again; the
// statements are those of migrations/0001_init.sql.
type bulkIndex struct{ name, drop, create string }

var bulkIndexes = []bulkIndex{
	{"components_geom_idx",
		"DROP INDEX components_geom_idx",
		"CREATE INDEX components_geom_idx ON components USING gist (geom)"},
	{"components_pkey",
		"ALTER TABLE components DROP CONSTRAINT components_pkey",
		"ALTER TABLE components ADD CONSTRAINT components_pkey PRIMARY KEY (key)"},
	{"components_id_key",
		"DROP INDEX components_id_key",
		"CREATE UNIQUE INDEX components_id_key ON components (id)"},
	{"components_legacy_id_key",
		"DROP INDEX components_legacy_id_key",
		"CREATE UNIQUE INDEX components_legacy_id_key ON components (legacy_id) WHERE legacy_id IS NOT NULL"},
}

// writeCreates inserts the new records. Their history entries are implicit (created_seq and
// version 1 of the record), and run() writes their changes.
func (p *putter) writeCreates(ctx context.Context, creates int) error {
	if creates == 0 {
		return nil
	}
	idx := make([]int, 0, creates)
	for i := range p.in {
		if !p.isUpd[i] {
			idx = append(idx, i)
		}
	}
	tx := p.w.Tx
	if !p.copy {
		comps := make([]registry.Component, len(idx))
		seqs := make([]int64, len(idx))
		for j, i := range idx {
			comps[j], seqs[j] = p.record(i), p.seq(i)
		}
		_, err := tx.Exec(ctx, "INSERT INTO components ("+componentInsertCols+", created_seq) "+
			fmt.Sprintf(componentUnnest, ", created_seq", ", $21::bigint[]", ", created_seq"),
			append(componentArrays(comps), seqs)...)
		return err
	}

	// The indexes of components, when the import at least quarters its size, are dropped and
	// built again after the load: a sorted build costs a fraction of a million index insertions
	// (each WAL-logged). DDL is transactional, so a failure restores them.
	var rebuild []bulkIndex
	if creates >= rebuildMin {
		stored, err := rowEstimate(ctx, tx, "components")
		if err != nil {
			return err
		}
		legacy := 0
		for _, i := range idx {
			if !p.legacyIDs[i].IsZero() {
				legacy++
			}
		}
		for _, ix := range bulkIndexes {
			// Rows without a legacy ID cost the partial index nothing.
			if int64(creates) >= stored/rebuildShare && (ix.name != "components_legacy_id_key" || legacy >= rebuildMin) {
				rebuild = append(rebuild, ix)
			}
		}
	}
	workMem := p.workMem
	if workMem == "" {
		workMem = "512MB"
	}
	if _, err := tx.Exec(ctx, "SELECT set_config('maintenance_work_mem', $1, true)", workMem); err != nil {
		return err
	}
	for _, ix := range rebuild {
		if _, err := tx.Exec(ctx, ix.drop); err != nil {
			return err
		}
	}
	conn := tx.Conn().PgConn()
	rows := newCopySource(len(idx), func(b []byte, j int) []byte {
		i := idx[j]
		c := p.record(i)
		b = appendComponentRow(b, &c, 1)
		return putInt8(b, p.seq(i))
	})
	if _, err := conn.CopyFrom(ctx, rows, "COPY components ("+componentInsertCols+", created_seq) FROM STDIN BINARY"); err != nil {
		return err
	}
	// The server builds the indexes, the GiST one first, on one core: the result is put
	// together meanwhile.
	p.build()
	for _, ix := range rebuild {
		if _, err := tx.Exec(ctx, ix.create); err != nil {
			return err
		}
	}
	return nil
}

// rowEstimate is about how many rows table has: the planner's estimate, or a count when the
// table was never analysed.
func rowEstimate(ctx context.Context, tx pgx.Tx, table string) (int64, error) {
	var n float64
	if err := tx.QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = $1::regclass", table).Scan(&n); err != nil {
		return 0, err
	}
	if n >= 0 {
		return int64(n), nil
	}
	var c int64
	err := tx.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&c)
	return c, err
}
