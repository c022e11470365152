-- citygrid registry schema, version 2: a census import of a million components writes the
-- components, their indexes and a few hundred feed rows, instead of two million more rows and
-- their indexes (doc.go explains the layout).
--
-- 1. A create no longer has a component_history row. components.created_seq keeps its change
--    seq; its time and actor are those of version 1 of the record (updated, updated_by), which
--    is the before-image of the first update, or the record itself while there is none.
-- 2. The change feed is kept as runs, like store/bolt: one change_runs row per run of up to
--    4,096 consecutive seqs taken by one write. The view changes shows one row per change, as
--    the table it replaces did.
-- 3. Component identifiers are bigint: their unique indexes build in half the time of text
--    ones. The number tells the layout: a 16-digit legacy identifier is below 10^16, a
--    17-digit one is not (both start with a non-zero digit). The views for GIS clients keep
--    showing them as text, since 17 digits are beyond the 2^53 that a double holds exactly.

DROP VIEW component_names;
DROP VIEW v_components;
ALTER TABLE components
	ALTER COLUMN id TYPE bigint USING id::bigint,
	ALTER COLUMN legacy_id TYPE bigint USING legacy_id::bigint,
	ADD CONSTRAINT components_id_check CHECK (id BETWEEN 1000000000000000 AND 99999999999999999),
	ADD CONSTRAINT components_legacy_id_check CHECK (legacy_id BETWEEN 1000000000000000 AND 99999999999999999);
ALTER TABLE component_aliases ALTER COLUMN code TYPE bigint USING code::bigint;
COMMENT ON COLUMN components.id IS '17-digit identifier: district(6) class(5) serial(6); 16 digits (below 10^16) for legacy records';
COMMENT ON COLUMN components.legacy_id IS 'the 16-digit identifier (CJ/T 214-2007) the component was imported with, if any';

CREATE VIEW component_names AS
	SELECT id AS code, key FROM components
	UNION ALL
	SELECT legacy_id, key FROM components WHERE legacy_id IS NOT NULL
	UNION ALL
	SELECT code, component_key FROM component_aliases;

CREATE VIEW v_components AS
	SELECT key, id::text AS id, legacy_id::text AS legacy_id, class, legacy_class, name, status,
		supervisor, owner, maintainer, cell_code,
		(census_date AT TIME ZONE 'Asia/Shanghai')::date AS census_date,
		(change_date AT TIME ZONE 'Asia/Shanghai')::date AS change_date,
		source, note, version, updated, updated_by, geom
	FROM components;

-- Identifiers stay strings in the before-images, as version 1 wrote them.
CREATE OR REPLACE FUNCTION component_image(c components) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'key', c.key, 'id', c.id::text, 'legacy_id', c.legacy_id::text, 'class', c.class,
		'legacy_class', c.legacy_class, 'name', c.name, 'status', c.status,
		'supervisor', c.supervisor, 'owner', c.owner, 'maintainer', c.maintainer,
		'cell_code', c.cell_code, 'census_date', c.census_date, 'change_date', c.change_date,
		'source', c.source, 'note', c.note, 'lon', ST_X(c.geom), 'lat', ST_Y(c.geom), 'geom', encode(ST_AsEWKB(c.geom, 'NDR'), 'hex'),
		'version', c.version, 'updated', c.updated, 'updated_by', c.updated_by)
$$;

ALTER TABLE components ADD COLUMN created_seq bigint;
UPDATE components c SET created_seq = h.seq
	FROM component_history h
	WHERE h.component_key = c.key AND h.op = 'create';
ALTER TABLE components ALTER COLUMN created_seq SET NOT NULL;
COMMENT ON COLUMN components.created_seq IS 'change seq of the create; its time and actor are those of version 1';

DELETE FROM component_history WHERE op = 'create';
ALTER TABLE component_history DROP CONSTRAINT component_history_op_check;
ALTER TABLE component_history ADD CONSTRAINT component_history_op_check CHECK (op IN ('update', 'retire'));
ALTER TABLE component_history ALTER COLUMN before SET NOT NULL;
COMMENT ON TABLE component_history IS 'every update and retirement of a component; before holds the record as it was (the create is components.created_seq)';

CREATE TABLE change_runs (
	seq_first bigint NOT NULL,
	seq_last  bigint PRIMARY KEY,
	time      timestamptz NOT NULL,
	kind      text NOT NULL CHECK (kind IN ('cell', 'component', 'unit', 'rule')),
	actor     text,
	op        text CHECK (op IN ('create', 'update', 'retire', 'delete')),
	ops       text[] CHECK (ops <@ ARRAY['create', 'update', 'retire', 'delete']),
	key_first bigint,
	keys      bigint[],
	ids       text[],
	CHECK (seq_first BETWEEN 1 AND seq_last),
	CHECK ((op IS NULL) <> (ops IS NULL)),
	CHECK (cardinality(ops) = seq_last - seq_first + 1),
	CHECK (cardinality(keys) = seq_last - seq_first + 1),
	CHECK (cardinality(ids) = seq_last - seq_first + 1),
	CHECK (CASE WHEN kind IN ('cell', 'component') THEN (key_first IS NULL) <> (keys IS NULL) AND ids IS NULL
		ELSE key_first IS NULL AND keys IS NULL AND ids IS NOT NULL END)
);
COMMENT ON TABLE change_runs IS 'the change feed: changes seq_first … seq_last of one write, each with its own seq; the view changes lists them one by one';
COMMENT ON COLUMN change_runs.op IS 'the op of every change of the run; null when ops lists them one by one';
COMMENT ON COLUMN change_runs.key_first IS 'cell or component keys key_first, key_first+1, …; null when keys lists them one by one';
COMMENT ON COLUMN change_runs.ids IS 'unit or rule ids; null for cells and components, whose code or identifier follows from the key';

-- Runs of the version 1 rows: consecutive seqs of one kind stamped with one time (one write,
-- or writes that are alike enough to share a run), 4,096 at most.
INSERT INTO change_runs (seq_first, seq_last, time, kind, op, ops, key_first, keys, ids)
SELECT min(seq), max(seq), time, kind,
	CASE WHEN min(op) = max(op) THEN min(op) END,
	CASE WHEN min(op) <> max(op) THEN array_agg(op ORDER BY seq) END,
	CASE WHEN kind IN ('cell', 'component') AND min(key - seq) = max(key - seq) THEN min(key - seq) + min(seq) END,
	CASE WHEN kind IN ('cell', 'component') AND min(key - seq) <> max(key - seq) THEN array_agg(key ORDER BY seq) END,
	CASE WHEN kind IN ('unit', 'rule') THEN array_agg(id ORDER BY seq) END
FROM (
	SELECT *, (row_number() OVER (PARTITION BY time, kind, island ORDER BY seq) - 1) / 4096 AS part
	FROM (SELECT *, seq - row_number() OVER (PARTITION BY time, kind ORDER BY seq) AS island FROM changes) c
) c
GROUP BY time, kind, island, part;

DROP TABLE changes;

-- One row per change, as the version 1 table had them, plus the actor. A component's id is
-- the identifier it had after the change: that of the before-image of its next history entry,
-- or its current one. Expanding runs costs: filter on change_runs.seq_last to read a stretch.
CREATE VIEW changes AS
	SELECT c.seq, r.time, r.kind,
		CASE r.kind
			WHEN 'cell' THEN (SELECT code FROM cells WHERE cells.key = c.key)
			WHEN 'component' THEN coalesce(
				(SELECT h.before->>'id' FROM component_history h
					WHERE h.component_key = c.key AND h.seq > c.seq ORDER BY h.seq LIMIT 1),
				(SELECT id::text FROM components WHERE components.key = c.key))
			ELSE r.ids[c.i]
		END COLLATE "C" AS id,
		coalesce(r.op, r.ops[c.i]) AS op, c.key, r.actor
	FROM change_runs r
	CROSS JOIN LATERAL (
		SELECT i, r.seq_first + i - 1 AS seq, coalesce(r.key_first + i - 1, r.keys[i]) AS key
		FROM generate_series(1, (r.seq_last - r.seq_first + 1)::integer) AS i
	) c;
COMMENT ON VIEW changes IS 'the change feed, one row per change: seq, time, kind, id, op, key (null for units and rules), actor';
