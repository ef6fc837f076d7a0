-- Queries: a global ordering of events (the offset), tags, and the offsets projections
-- have handled up to.
--
-- The journal becomes a rowid table whose rowid is the ordering: SQLite gives each new row
-- the highest rowid plus one, under its write lock, so orderings increase in commit order
-- (rows are never removed: deletion only marks them). `(persistence_id, sequence_nr)`
-- stays unique. Events written before this migration are numbered in the order they were
-- written.
CREATE TABLE bactor_journal_v2 (
    ordering       INTEGER PRIMARY KEY,
    persistence_id TEXT    NOT NULL,
    sequence_nr    INTEGER NOT NULL,
    manifest       TEXT    NOT NULL,
    payload        TEXT    NOT NULL, -- JSON
    written_at     INTEGER NOT NULL, -- milliseconds since the Unix epoch
    deleted        INTEGER NOT NULL DEFAULT 0,
    tags           TEXT,             -- a JSON array of strings, NULL for none
    UNIQUE (persistence_id, sequence_nr)
);

INSERT INTO bactor_journal_v2 (persistence_id, sequence_nr, manifest, payload, written_at, deleted)
SELECT persistence_id, sequence_nr, manifest, payload, written_at, deleted FROM bactor_journal
ORDER BY written_at, persistence_id, sequence_nr;

DROP TABLE bactor_journal;
ALTER TABLE bactor_journal_v2 RENAME TO bactor_journal;

-- One row per tag of an event, filled by the trigger in the same statement as the event.
CREATE TABLE bactor_tag (
    tag      TEXT    NOT NULL,
    ordering INTEGER NOT NULL,
    PRIMARY KEY (tag, ordering)
) WITHOUT ROWID;

CREATE TRIGGER bactor_journal_tags AFTER INSERT ON bactor_journal
WHEN NEW.tags IS NOT NULL
BEGIN
    INSERT INTO bactor_tag (tag, ordering) SELECT value, NEW.ordering FROM json_each(NEW.tags);
END;

CREATE TABLE bactor_offset (
    projection  TEXT    NOT NULL PRIMARY KEY,
    last_offset INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL -- milliseconds since the Unix epoch
) WITHOUT ROWID;
