-- Payloads as JSON text, as written: `JSONB` parsed every event on insert and rendered it
-- again on every replay (half the time of a recovery). Cast to `jsonb` to query them.
ALTER TABLE bactor_journal ALTER COLUMN payload TYPE TEXT USING payload::text;
ALTER TABLE bactor_snapshot ALTER COLUMN payload TYPE TEXT USING payload::text;
