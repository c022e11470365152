// Package postgres is the production registry.Store and registry.ChangeFeed, on PostgreSQL 15
// with PostGIS 3. Several citygrid nodes may share one database: each keeps its index in
// step by following the change feed (Changes, Listen).
//
// Entry points: Open (which migrates), Migrate, Store.Listen; package pgtest gives tests a
// fresh database.
//
// # Coordinates
//
// Every geometry column is SRID 4490, CGCS2000 geographic (China Geodetic Coordinate System
// 2000, the national datum), in degrees, x = longitude and y = latitude: the lon/lat order of
// the API and of orb, not the lat/lon axis order of the EPSG definition. CGCS2000 and WGS84
// agree to well within a metre (centimetres in practice), far below the accuracy of a census
// point, so the WGS84 coordinates citygrid handles are stored as they are, bit for bit:
// geometry goes in and out as EWKB (go-geom), never through text.
//
// # Schema (migrations/0001_init.sql, 0002_runs.sql, 0003_cell_history.sql, 0004_unit_rule_history.sql)
//
// Plain column names that a GIS officer reads without a manual; empty strings are stored as
// NULL and read back as "". Times are timestamptz, kept to the microsecond.
//
//	cells              key bigint unique (from cell_key_seq), code text primary key, name,
//	                   area_m2 double precision (geodesic m²), geom geometry(MultiPolygon,4490),
//	                   version, updated, status text (active, retired), retired timestamptz
//	cell_history       cell_key, seq, time, actor, op (create, update, retire), note, and the
//	                   cell after the change (name, area_m2, geom, status, retired, version,
//	                   updated); primary key (cell_key, seq). An entry's before-image is the
//	                   row before it; cells stored before version 3 start with a seq 0 row
//	components         key bigint primary key (from component_key_seq), id bigint unique
//	                   (the 17 digits; a 16-digit legacy identifier is below 10^16),
//	                   legacy_id bigint unique null, class, legacy_class, name, status text
//	                   (intact, damaged, lost, abandoned, removed), supervisor, owner,
//	                   maintainer, cell_code, census_date, change_date, source, note, geom
//	                   geometry(Point,4490), version, updated, updated_by, created_seq (the
//	                   change seq of the create)
//	component_aliases  code bigint primary key, component_key: identifiers a component was
//	                   stored with and no longer carries; they keep finding it and are never
//	                   given to another component (store/bolt does the same)
//	component_history  component_key, seq, time, actor, op (update, retire), version (after
//	                   the change), before jsonb (the record before the change; column names as
//	                   in components, lon/lat instead of geom), note (why, when the writer
//	                   said: a retirement's reason); primary key (component_key, seq). A create
//	                   has no row: see History below
//	units              id text primary key, key bigint unique (identity, for GIS layers), name,
//	                   type, parent, supervisor, districts text[], area
//	                   geometry(MultiPolygon,4490), phone, version, updated
//	rules              id text primary key, ord, class, kind, area, in_unit, unit, reason, version
//	unit_history       id, seq, time, actor, op (create, update, delete), version (after the
//	rule_history       change; the deleted one for a delete), before and after jsonb (the
//	                   record as it was and became, null before a create and after a delete;
//	                   a unit's area as hex EWKB); primary key (id, seq). Written in the
//	                   transaction of the change; a deleted record's rows stay
//	serials            district, class, last: the highest serial of any identifier ever stored
//	                   with that prefix; primary key (district, class)
//	change_runs        the change feed: seq_first, seq_last bigint primary key, time, kind
//	                   (cell, component, unit, rule), actor, op or ops text[] (create, update,
//	                   retire, delete), key_first or keys bigint[] (cells and components), ids
//	                   text[] (units and rules); see below
//	changes            view: one row per change, seq, time, kind, id, op, key, actor
//	schema_migrations  version, name, applied
//
// Component identifiers are bigint, 16 or 17 digits, which the value tells apart: their
// unique indexes build in half the time of text ones, which matters to a census import. The
// views show them as text, since 17 digits are more than a double (a JavaScript number, a
// GeoJSON reader) holds exactly; before-images keep them as strings. Other identifier and
// code columns use COLLATE "C": byte order, as Go sorts, and fast. GiST indexes cover every
// geometry. census_date and change_date are timestamptz rather than date
// because registry.Component carries a time and the store must give back what it was given;
// v_components shows them as dates in Asia/Shanghai.
//
// Views for QGIS and other GIS clients, each with a unique integer key and one geometry
// column, to open as layers as they are: v_cells (the active cells: the current grid),
// v_components, v_units (geom is the unit's own area). component_names lists every name (id, legacy_id, alias) a component answers to,
// as bigint.
//
// # Keys and the change sequence
//
// Keys come from the sequences cell_key_seq and component_key_seq, bounded to 2^53-1, and
// are never reused; a rolled-back write leaves a gap. Every write takes one value of
// change_seq per changed record, consecutive and in input order; writes hold a store-wide
// advisory lock (pg_advisory_xact_lock), so seqs commit in increasing order and a follower
// reading Changes(since) never misses one that commits later. At commit each write sends
// NOTIFY citygrid_changes with its last seq; Listen delivers them.
//
// The feed is stored as runs, as store/bolt stores it: a change_runs row holds up to 4,096
// consecutive seqs of one write, seq_first … seq_last, with one op when all share it (else
// ops lists them) and, for cells and components, the first key when the keys are consecutive
// (else keys lists them). A census import of a million components is thus 245 rows of a few
// numbers each. Units and rules keep their ids in the run; a cell's code and a component's
// identifier follow from the key: a component's identifier after a change is that of the
// before-image of its next history entry, or its current one, so an entry shows the
// identifier the component had then, as the version 1 table, one row per change, did. Changes
// reads the runs that hold the page it returns and nothing more; the view changes expands
// every run, for people.
//
// History keeps one component_history row per update or retirement. The create's seq is
// components.created_seq; its time and actor are those stamped on version 1 of the record,
// which is the before-image of the first update or, until there is one, the record itself.
//
// # Large imports
//
// A PutComponents batch above Options.CopyThreshold (1,000) is written with binary COPY: the
// names it uses are staged in a temporary table and joined with component_names, updates are
// staged in a temporary table and merged with set-based SQL (before-images into the history,
// then one UPDATE), and new records are copied straight into components: staging them too
// would cost one more pass over every row. Creates write nothing else but their runs of the
// feed. It is one transaction: all or nothing. When a batch adds at least a quarter of the
// rows of components, its indexes (GiST, primary key, unique id and legacy_id) are dropped
// before the load and built after it, inside the transaction, with maintenance_work_mem
// raised for the sorts (Options.MaintenanceWorkMem); readers of components wait until it
// commits. synchronous_commit is left as configured. BenchmarkImport1M compares a
// million-component import with a bare COPY of the same rows plus its GiST index
// (docs/benchmarks.md, "Figures behind the code").
//
// Smaller batches send each column as one array parameter; both paths store the same rows (a
// test compares them).
package postgres
