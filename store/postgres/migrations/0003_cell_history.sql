-- citygrid registry schema, version 3: grid cells are retired, never deleted, and keep a history.
--
-- 1. cells.status is 'active' or 'retired' (a grid revision retires the cells it replaces);
--    cells.retired is when. A retired cell keeps its code, key and geometry.
-- 2. cell_history holds one row per change of a cell with the cell as it was after it (the
--    before-image of a change is the row before it). Every cell stored before this migration
--    gets one row, seq 0, op 'create', with its current state: its history starts there.

ALTER TABLE cells
	ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
	ADD COLUMN retired timestamptz;
COMMENT ON COLUMN cells.status IS 'active, or retired by a grid revision (cells are never deleted)';
COMMENT ON COLUMN cells.retired IS 'when the cell was retired; null while active';

CREATE TABLE cell_history (
	cell_key bigint NOT NULL,
	seq      bigint NOT NULL,
	time     timestamptz NOT NULL,
	actor    text,
	op       text NOT NULL CHECK (op IN ('create', 'update', 'retire')),
	note     text,
	name     text,
	area_m2  double precision NOT NULL,
	geom     geometry(MultiPolygon, 4490),
	status   text NOT NULL CHECK (status IN ('active', 'retired')),
	retired  timestamptz,
	version  bigint NOT NULL,
	updated  timestamptz NOT NULL,
	PRIMARY KEY (cell_key, seq)
);
COMMENT ON TABLE cell_history IS 'every change of a grid cell, with the cell as it was after it; seq 0 rows predate the history';

INSERT INTO cell_history (cell_key, seq, time, actor, op, note, name, area_m2, geom, status, retired, version, updated)
	SELECT key, 0, updated, NULL, 'create', 'history begins (schema version 3)', name, area_m2, geom, 'active', NULL, version, updated
	FROM cells;

-- 3. The QGIS layer v_cells shows the current grid: its columns stay those of version 1.
CREATE OR REPLACE VIEW v_cells AS
	SELECT key, code, name, area_m2, version, updated, geom FROM cells WHERE status = 'active';
