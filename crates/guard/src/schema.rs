//! The guard's tables: the user's address book, allow- and block-lists, send history and
//! contract ages.
//!
//! Registered with the store, which applies the steps a database lacks when it opens. Steps are
//! append-only: never edit one that has shipped, add the next instead.

use agora_store::Schema;

/// This crate's tables, oldest step first.
pub(crate) const SCHEMA: Schema = Schema {
    component: "guard",
    steps: &[
        // 1: guard: the user's address book, allow- and block-lists, and send history.
        "
        -- One row per (address or domain, list): contact, allow or block.
        CREATE TABLE guard_entries (
            entry       TEXT    NOT NULL,
            list        TEXT    NOT NULL CHECK (list IN ('contact', 'allow', 'block')),
            label       TEXT    NOT NULL DEFAULT '',
            added_ms    INTEGER NOT NULL,
            PRIMARY KEY (entry, list)
        ) WITHOUT ROWID;
        -- Counterparties the user sent to through the guard.
        CREATE TABLE guard_history (
            address     TEXT    PRIMARY KEY,
            first_ms    INTEGER NOT NULL,
            last_ms     INTEGER NOT NULL,
            count       INTEGER NOT NULL
        ) WITHOUT ROWID;
        -- When a contract was first seen with code (found by searching the chain's history).
        CREATE TABLE guard_code_age (
            chain_id    INTEGER NOT NULL,
            address     TEXT    NOT NULL,
            first_block INTEGER NOT NULL,
            first_time  INTEGER NOT NULL,
            PRIMARY KEY (chain_id, address)
        ) WITHOUT ROWID;
    ",
    ],
};

agora_store::register_schema!(SCHEMA);
