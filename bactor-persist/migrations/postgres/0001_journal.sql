-- bactor event journal and snapshot store (Postgres).
CREATE TABLE IF NOT EXISTS bactor_journal (
    persistence_id TEXT    NOT NULL,
    sequence_nr    BIGINT  NOT NULL,
    manifest       TEXT    NOT NULL,
    payload        JSONB   NOT NULL,
    written_at     BIGINT  NOT NULL, -- milliseconds since the Unix epoch
    deleted        BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (persistence_id, sequence_nr)
);

CREATE TABLE IF NOT EXISTS bactor_snapshot (
    persistence_id TEXT   NOT NULL,
    sequence_nr    BIGINT NOT NULL,
    created_at     BIGINT NOT NULL, -- milliseconds since the Unix epoch
    manifest       TEXT   NOT NULL,
    payload        JSONB  NOT NULL,
    PRIMARY KEY (persistence_id, sequence_nr)
);
