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
// # Schema (migrations/0001_init.sql)
//
// Plain column names that a GIS officer reads without a manual; empty strings are stored as
// NULL and read back as "". Times are timestamptz, kept to the microsecond.
//
//	cells              key bigint unique (from cell_key_seq), code text primary key, name,
//	                   area_m2 double precision (geodesic m²), geom geometry(MultiPolygon,4490),
//	                   version, updated
//	components         key bigint primary key (from component_key_seq), id text unique
//	                   (17 digits, 16 for legacy records), legacy_id text unique null, class,
//	                   legacy_class, name, status text (intact, damaged, lost, abandoned,
//	                   removed), supervisor, owner, maintainer, cell_code, census_date,
//	                   change_date, source, note, geom geometry(Point,4490), version, updated,
//	                   updated_by
//	component_aliases  code text primary key, component_key: identifiers a component was
//	                   stored with and no longer carries; they keep finding it and are never
//	                   given to another component (store/bolt does the same)
//	component_history  component_key, seq, time, actor, op (create, update, retire), version
//	                   (after the change), before jsonb (the record before the change, null on
//	                   create; column names as in components, lon/lat instead of geom);
//	                   primary key (component_key, seq)
//	units              id text primary key, key bigint unique (identity, for GIS layers), name,
//	                   type, parent, supervisor, districts text[], area
//	                   geometry(MultiPolygon,4490), phone, version, updated
//	rules              id text primary key, ord, class, kind, area, in_unit, unit, reason, version
//	serials            district, class, last: the highest serial of any identifier ever stored
//	                   with that prefix; primary key (district, class)
//	changes            seq bigint primary key, time, kind (cell, component, unit, rule), id, op
//	                   (create, update, retire, delete), key (the cell or component key; null
//	                   for units and rules)
//	schema_migrations  version, name, applied
//
// Identifier and code columns use COLLATE "C": byte order, as Go sorts, and fast. GiST
// indexes cover every geometry. census_date and change_date are timestamptz rather than date
// because registry.Component carries a time and the store must give back what it was given;
// v_components shows them as dates in Asia/Shanghai.
//
// Views for QGIS and other GIS clients, each with a unique integer key and one geometry
// column, to open as layers as they are: v_cells, v_components, v_units (geom is the unit's
// own area). component_names lists every name (id, legacy_id, alias) a component answers to.
//
// # Keys and the change sequence
//
// Keys come from the sequences cell_key_seq and component_key_seq, bounded to 2^53-1, and
// are never reused; a rolled-back write leaves a gap. Every write takes one value of
// change_seq per changed record and adds a row to changes; writes hold a store-wide advisory
// lock (pg_advisory_xact_lock), so seqs commit in increasing order and a follower reading
// Changes(since) never misses one that commits later. At commit each write sends
// NOTIFY citygrid_changes with its last seq; Listen delivers them.
//
// # Large imports
//
// A PutComponents batch above Options.CopyThreshold (1,000) is written with binary COPY: the
// names it uses are staged in a temporary table and joined with component_names, updates are
// staged in a temporary table and merged with set-based SQL (before-images into the history,
// then one UPDATE), and new records, their history entries and their changes are copied
// straight into their tables: staging them too would cost one more pass over every row. It is
// one transaction: all or nothing. When a batch adds at least a quarter of a table's rows, the
// table's indexes (the components' GiST and unique indexes, the primary keys of
// component_history and changes) are dropped before the load and built after it, inside the
// transaction, with maintenance_work_mem raised for the sorts (Options.MaintenanceWorkMem);
// readers of those tables wait until it commits. synchronous_commit is left as configured.
//
// Smaller batches send each column as one array parameter; both paths store the same rows (a
// test compares them).
package postgres
