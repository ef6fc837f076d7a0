-- Queries: a global ordering of events (the offset), tags, and the offsets projections
-- have handled up to.
--
-- `ordering` is numbered by each insert after the highest one in the file, under SQLite's
-- write lock, so it increases in commit order. Events written before this migration are
-- numbered in the order they were written.
ALTER TABLE bactor_journal ADD COLUMN ordering INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bactor_journal ADD COLUMN tags TEXT; -- a JSON array of strings, NULL for none

UPDATE bactor_journal SET ordering = o.n
FROM (SELECT persistence_id AS p, sequence_nr AS s,
             row_number() OVER (ORDER BY written_at, persistence_id, sequence_nr) AS n
      FROM bactor_journal) AS o
WHERE bactor_journal.persistence_id = o.p AND bactor_journal.sequence_nr = o.s;

CREATE UNIQUE INDEX bactor_journal_ordering ON bactor_journal (ordering);

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
