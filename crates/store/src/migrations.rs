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
    Migration {
        name: "x402 payments: channels, exact authorizations, payer mandates and spend",
        sql: "
        -- Provider side: each channel paying this node, with the highest voucher received and
        -- what was charged against it. Amounts are decimal strings (uint128 does not fit SQLite).
        CREATE TABLE pay_channels (
            channel_id     TEXT    PRIMARY KEY,
            chain_id       INTEGER NOT NULL,
            contract       TEXT    NOT NULL,
            payer          TEXT    NOT NULL,
            authorizer     TEXT    NOT NULL,
            token          TEXT    NOT NULL,
            withdraw_delay INTEGER NOT NULL,
            deposited      TEXT    NOT NULL,
            voucher_max    TEXT    NOT NULL DEFAULT '0',
            voucher_sig    TEXT    NOT NULL DEFAULT '',
            charged        TEXT    NOT NULL DEFAULT '0',
            claimed        TEXT    NOT NULL DEFAULT '0',
            calls          INTEGER NOT NULL DEFAULT 0,
            closing_at     INTEGER NOT NULL DEFAULT 0,
            updated_ms     INTEGER NOT NULL
        ) WITHOUT ROWID;
        -- Provider side: exact-scheme authorizations, from verification to settlement.
        CREATE TABLE pay_exact (
            payer        TEXT    NOT NULL,
            nonce        TEXT    NOT NULL,
            chain_id     INTEGER NOT NULL,
            asset        TEXT    NOT NULL,
            pay_to       TEXT    NOT NULL,
            amount       TEXT    NOT NULL,
            valid_before INTEGER NOT NULL,
            payload      TEXT    NOT NULL,
            status       TEXT    NOT NULL,
            tx           TEXT,
            error        TEXT,
            created_ms   INTEGER NOT NULL,
            PRIMARY KEY (payer, nonce)
        ) WITHOUT ROWID;
        CREATE INDEX pay_exact_status ON pay_exact (status);
        -- Payer side: channels this node pays through.
        CREATE TABLE payer_channels (
            channel_id  TEXT    PRIMARY KEY,
            chain_id    INTEGER NOT NULL,
            contract    TEXT    NOT NULL,
            payee       TEXT    NOT NULL,
            token       TEXT    NOT NULL,
            config      TEXT    NOT NULL,
            deposited   TEXT    NOT NULL,
            signed_max  TEXT    NOT NULL DEFAULT '0',
            acked_max   TEXT    NOT NULL DEFAULT '0',
            charged     TEXT    NOT NULL DEFAULT '0',
            updated_ms  INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX payer_channels_payee ON payer_channels (chain_id, contract, payee, token);
        -- Payer side: spending mandates and every payment made under them.
        CREATE TABLE payer_mandates (
            name        TEXT    PRIMARY KEY,
            budget      TEXT    NOT NULL,
            per_call    TEXT    NOT NULL,
            payees      TEXT    NOT NULL,
            expires_at  INTEGER NOT NULL,
            created_ms  INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE payer_spend (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            at_ms       INTEGER NOT NULL,
            mandate     TEXT    NOT NULL,
            payee       TEXT    NOT NULL,
            resource    TEXT    NOT NULL,
            scheme      TEXT    NOT NULL,
            reserved    TEXT    NOT NULL,
            amount      TEXT,
            status      TEXT    NOT NULL,
            reference   TEXT    NOT NULL DEFAULT ''
        );
        CREATE INDEX payer_spend_mandate ON payer_spend (mandate, status);
    ",
    },
    Migration {
        name: "guard: the user's address book, allow- and block-lists, and send history",
        sql: "
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
    },
];

/// The schema version of this build.
pub(crate) fn latest_version() -> u32 {
    MIGRATIONS.len() as u32
}
