-- citygrid registry schema, version 5: a component keeps the properties outside the census
-- standard (材质, 规格, a QGIS fid) it came with, as a jsonb object (NULL when none). The store
-- reads it back in registry's canonical form (names sorted bytewise, compact), whatever order
-- and number forms jsonb keeps. The before-image of the history carries it too.

ALTER TABLE components ADD COLUMN attributes jsonb
	CHECK (attributes IS NULL OR jsonb_typeof(attributes) = 'object');
COMMENT ON COLUMN components.attributes IS 'properties outside the census standard (材质, 规格, fid …): a JSON object of names and values, NULL when none';

CREATE OR REPLACE FUNCTION component_image(c components) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'key', c.key, 'id', c.id::text, 'legacy_id', c.legacy_id::text, 'class', c.class,
		'legacy_class', c.legacy_class, 'name', c.name, 'status', c.status,
		'supervisor', c.supervisor, 'owner', c.owner, 'maintainer', c.maintainer,
		'cell_code', c.cell_code, 'census_date', c.census_date, 'change_date', c.change_date,
		'source', c.source, 'note', c.note, 'lon', ST_X(c.geom), 'lat', ST_Y(c.geom), 'geom', encode(ST_AsEWKB(c.geom, 'NDR'), 'hex'),
		'version', c.version, 'updated', c.updated, 'updated_by', c.updated_by, 'attributes', c.attributes)
$$;
