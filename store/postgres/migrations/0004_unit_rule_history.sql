-- citygrid registry schema, version 4: units and rules keep a history, as components do. Every
-- create, update and delete of a unit or rule adds a row, in the transaction of the write, with
-- the record before and after (null before a create and after a delete); a deleted record's
-- history stays. The images are the records as the store reads them back (area as hex EWKB,
-- so that every bit of the coordinates survives). Units and rules stored before this version
-- have no history rows: their history starts with their next change.

CREATE TABLE unit_history (
	id      text COLLATE "C" NOT NULL,
	seq     bigint NOT NULL,
	time    timestamptz NOT NULL,
	actor   text,
	op      text NOT NULL CHECK (op IN ('create', 'update', 'delete')),
	version bigint NOT NULL,
	before  jsonb,
	after   jsonb,
	PRIMARY KEY (id, seq),
	CHECK ((before IS NULL) = (op = 'create') AND (after IS NULL) = (op = 'delete'))
);
COMMENT ON TABLE unit_history IS 'every change of a unit, also after its delete; before/after hold the unit as it was and became';

CREATE TABLE rule_history (
	id      text COLLATE "C" NOT NULL,
	seq     bigint NOT NULL,
	time    timestamptz NOT NULL,
	actor   text,
	op      text NOT NULL CHECK (op IN ('create', 'update', 'delete')),
	version bigint NOT NULL,
	before  jsonb,
	after   jsonb,
	PRIMARY KEY (id, seq),
	CHECK ((before IS NULL) = (op = 'create') AND (after IS NULL) = (op = 'delete'))
);
COMMENT ON TABLE rule_history IS 'every change of a rule, also after its delete; before/after hold the rule as it was and became';
