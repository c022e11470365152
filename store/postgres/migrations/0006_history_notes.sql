-- citygrid registry schema, version 6: a component's history entry may carry a note, why the
-- change was made (a retirement's reason, a restore's), apart from the component's own note.

ALTER TABLE component_history ADD COLUMN note text;
COMMENT ON COLUMN component_history.note IS 'why the change was made, as its writer said (a retirement''s reason); null when not said';
