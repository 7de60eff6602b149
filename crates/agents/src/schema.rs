//! The discovery index's tables: ERC-8004 registry events, the agents and feedback they
//! describe, and how far each chain has been read.
//!
//! Registered with the store, which applies the steps a database lacks when it opens. Steps are
//! append-only: never edit one that has shipped, add the next instead.

use agora_store::Schema;

/// This crate's tables, oldest step first.
pub(crate) const SCHEMA: Schema = Schema {
    component: "agents",
    steps: &[
        // 1: ERC-8004 discovery index.
        "
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
    ],
};

agora_store::register_schema!(SCHEMA);

#[cfg(test)]
mod tests {
    use agora_store::{STORE_FILE, Store, rusqlite::Connection};

    /// An empty directory of its own, removed when dropped.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!("agora-agents-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }

        fn path(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn count(store: &Store, table: &str) -> i64 {
        store.read(|c| c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))).unwrap()
    }

    #[test]
    fn a_store_opened_directly_has_the_index_tables() {
        let dir = TempDir::new("fresh");
        let store = Store::open_in(dir.path()).unwrap();
        assert_eq!(store.component_version("agents").unwrap(), super::SCHEMA.latest_version());
        for table in ["registry_events", "agents", "feedback", "index_cursor"] {
            assert_eq!(count(&store, table), 0, "{table}");
        }
    }

    #[test]
    fn an_index_of_the_global_layout_is_kept() {
        let dir = TempDir::new("legacy");
        let path = dir.path().join(STORE_FILE);
        {
            // A database at the second global migration: the store's tables, then these.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(agora_store::migrations::SCHEMA.steps[0]).unwrap();
            conn.execute_batch(super::SCHEMA.steps[0]).unwrap();
            conn.execute("INSERT INTO index_cursor (chain_id, next_block) VALUES (31337, 42)", []).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.component_version("agents").unwrap(), 1);
        let next: i64 = store
            .read(|c| {
                c.query_row("SELECT next_block FROM index_cursor WHERE chain_id = 31337", [], |r| r.get(0))
            })
            .unwrap();
        assert_eq!(next, 42);
    }
}
