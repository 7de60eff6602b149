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
pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
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
}];

/// The schema version of this build.
pub(crate) fn latest_version() -> u32 {
    MIGRATIONS.len() as u32
}
