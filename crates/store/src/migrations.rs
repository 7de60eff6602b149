//! Versioned schema migrations, applied in order inside one transaction each.
//!
//! `PRAGMA user_version` holds the number of migrations applied. Migrations are append-only:
//! never edit one that has shipped, add the next instead.

/// One schema step.
pub(crate) struct Migration {
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// Every migration, oldest first; the schema version is the number applied.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "journal and settings",
        sql: "
        CREATE TABLE journal (
            id      INTEGER PRIMARY KEY AUTOINCREMENT,
            at_ms   INTEGER NOT NULL,
            kind    TEXT    NOT NULL,
            detail  TEXT    NOT NULL
        );
        CREATE INDEX journal_kind ON journal (kind, id);
        CREATE TABLE settings (
            key     TEXT PRIMARY KEY,
            value   TEXT NOT NULL
        ) WITHOUT ROWID;
    ",
    },
    Migration {
        name: "ERC-8004 discovery index",
        sql: "
        -- Raw registry logs, re-read over a window on every pass so a reorg replaces them.
        CREATE TABLE registry_events (
            chain_id     INTEGER NOT NULL,
            block_number INTEGER NOT NULL,
            log_index    INTEGER NOT NULL,
            block_hash   TEXT    NOT NULL,
            address      TEXT    NOT NULL,
            kind         TEXT    NOT NULL,
            agent_id     TEXT    NOT NULL,
            data         TEXT    NOT NULL,
            PRIMARY KEY (chain_id, block_number, log_index)
        ) WITHOUT ROWID;
        CREATE INDEX registry_events_agent ON registry_events (chain_id, agent_id, block_number, log_index);
        -- Agents as the events describe them, plus what their registration file says.
        CREATE TABLE agents (
            chain_id     INTEGER NOT NULL,
            agent_id     TEXT    NOT NULL,
            owner        TEXT    NOT NULL,
            wallet       TEXT    NOT NULL,
            uri          TEXT    NOT NULL,
            name         TEXT,
            description  TEXT,
            active       INTEGER,
            skills       TEXT    NOT NULL DEFAULT '',
            registration TEXT,
            fetch_error  TEXT,
            PRIMARY KEY (chain_id, agent_id)
        ) WITHOUT ROWID;
        CREATE TABLE feedback (
            chain_id  INTEGER NOT NULL,
            agent_id  TEXT    NOT NULL,
            client    TEXT    NOT NULL,
            idx       INTEGER NOT NULL,
            value     TEXT    NOT NULL,
            decimals  INTEGER NOT NULL,
            tag1      TEXT    NOT NULL,
            tag2      TEXT    NOT NULL,
            endpoint  TEXT    NOT NULL,
            uri       TEXT    NOT NULL,
            revoked   INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (chain_id, agent_id, client, idx)
        ) WITHOUT ROWID;
        CREATE TABLE index_cursor (
            chain_id   INTEGER PRIMARY KEY,
            next_block INTEGER NOT NULL
        );
    ",
    },
];

/// The schema version of this build.
pub(crate) fn latest_version() -> u32 {
    MIGRATIONS.len() as u32
}
