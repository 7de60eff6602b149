//! The tables of x402 payments: channels and exact authorizations on the provider side;
//! channels, mandates and spend on the payer side.
//!
//! Registered with the store, which applies the steps a database lacks when it opens. Steps are
//! append-only: never edit one that has shipped, add the next instead.

use agora_store::Schema;

/// This crate's tables, oldest step first.
pub(crate) const SCHEMA: Schema = Schema {
    component: "pay",
    steps: &[
        // 1: x402 payments: channels, exact authorizations, payer mandates and spend.
        "
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
        // 2: x402 batch-settlement channels name the receiver, its authorizer and the salt (a
        // claim carries the whole channel config). Rows of the earlier channel contract keep
        // the defaults and are never read for the new one.
        "
        ALTER TABLE pay_channels ADD COLUMN receiver TEXT NOT NULL DEFAULT '0x0000000000000000000000000000000000000000';
        ALTER TABLE pay_channels ADD COLUMN receiver_authorizer TEXT NOT NULL DEFAULT '0x0000000000000000000000000000000000000000';
        ALTER TABLE pay_channels ADD COLUMN salt TEXT NOT NULL DEFAULT '0x0000000000000000000000000000000000000000000000000000000000000000';
    ",
        // 3: what channels earned per UTC day (charged and calls added as each call is booked),
        // for the owner's page; earlier earnings stay in the channel totals only.
        "
        CREATE TABLE pay_earned_days (
            day       TEXT    NOT NULL,
            chain_id  INTEGER NOT NULL,
            amount    TEXT    NOT NULL,
            calls     INTEGER NOT NULL,
            PRIMARY KEY (day, chain_id)
        ) WITHOUT ROWID;
    ",
    ],
};

agora_store::register_schema!(SCHEMA);
