-- bactor event journal and snapshot store (SQLite).
CREATE TABLE IF NOT EXISTS bactor_journal (
    persistence_id TEXT    NOT NULL,
    sequence_nr    INTEGER NOT NULL,
    manifest       TEXT    NOT NULL,
    payload        TEXT    NOT NULL, -- JSON
    written_at     INTEGER NOT NULL, -- milliseconds since the Unix epoch
    deleted        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (persistence_id, sequence_nr)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS bactor_snapshot (
    persistence_id TEXT    NOT NULL,
    sequence_nr    INTEGER NOT NULL,
    created_at     INTEGER NOT NULL, -- milliseconds since the Unix epoch
    manifest       TEXT    NOT NULL,
    payload        TEXT    NOT NULL, -- JSON
    PRIMARY KEY (persistence_id, sequence_nr)
) WITHOUT ROWID;
