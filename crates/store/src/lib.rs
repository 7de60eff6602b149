//! The node's durable state.
//!
//! One SQLite database (`agora.db` in the node's data directory) in WAL mode with
//! `synchronous = FULL`: a write is on disk when the call that made it returns, so an
//! acknowledged write survives a crash of the process or of the machine. Opening the store
//! checks the file (`PRAGMA quick_check`), then applies any pending [migrations](migrations).
//!
//! What lives here: the node's journal (what it did: start-ups, deployments, shutdowns) and
//! settings. Each capability declares its own tables in a [`Schema`] and registers it with
//! [`register_schema!`]; opening a store applies every registered schema.

mod error;
pub mod fs;
pub mod migrations;

pub use error::{Result, StoreError};
pub use migrations::Schema;

pub use fs::{private_dir, private_file, write_atomically};
#[doc(hidden)]
pub use inventory as __inventory;
pub use rusqlite;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::{
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// File name of the database inside a data directory.
pub const STORE_FILE: &str = "agora.db";

/// How long a write waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One entry of the node's journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Sequence number, strictly increasing.
    pub id: u64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// What happened, e.g. `node.started`.
    pub kind: String,
    /// Details, usually JSON.
    pub detail: String,
}

/// The node's SQLite store. Cheap to share behind an `Arc`; calls are serialised.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (or creates) the store in `data_dir`, checks it and migrates it.
    pub fn open_in(data_dir: &Path) -> Result<Self> {
        private_dir(data_dir)
            .map_err(|source| StoreError::Directory { path: data_dir.to_path_buf(), source })?;
        Self::open(&data_dir.join(STORE_FILE))
    }

    /// Opens (or creates) the database file at `path`, checks it and migrates it.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with_timeout(path, BUSY_TIMEOUT)
    }

    fn open_with_timeout(path: &Path, busy_timeout: Duration) -> Result<Self> {
        let err = |e| StoreError::from_sqlite(path, e);
        // Payment records are nobody else's business: the file is the owner's only, and
        // SQLite gives its -wal and -shm files the database file's permissions.
        private_file(path).map_err(|source| StoreError::Directory { path: path.to_path_buf(), source })?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(busy_timeout).map_err(err)?;
        // The first statement that reads the file tells a non-database apart.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Locked { path: path.to_path_buf() });
        }
        // A 64 MiB page cache keeps the indexes of a large discovery index in memory.
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536;",
        )
        .map_err(err)?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(err)?;
        if check != "ok" {
            return Err(StoreError::Corrupt { path: path.to_path_buf(), detail: check, source: None });
        }
        let store = Self { path: path.to_path_buf(), conn: Mutex::new(conn) };
        migrations::prepare_layout(&mut store.conn(), &store.path)?;
        for schema in migrations::registered() {
            store.migrate(schema)?;
        }
        Ok(store)
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32> {
        self.conn().query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    /// Applies the steps of `schema` this database lacks (registered schemas are applied on
    /// open; this is for a schema a program applies itself). Refuses a component whose version
    /// in the file is newer than `schema` knows.
    pub fn migrate(&self, schema: &Schema) -> Result<()> {
        migrations::apply(&mut self.conn(), &self.path, schema)
    }

    /// How many steps of `component`'s schema the database has applied (0 if none).
    pub fn component_version(&self, component: &str) -> Result<u32> {
        migrations::component_version(&self.conn(), component).map_err(|e| self.err(e))
    }

    /// Appends an entry to the journal; it is durable when this returns. Returns its id.
    pub fn journal_append(&self, kind: &str, detail: &str) -> Result<u64> {
        let conn = self.conn();
        conn.prepare_cached("INSERT INTO journal (at_ms, kind, detail) VALUES (?1, ?2, ?3)")
            .and_then(|mut stmt| stmt.execute(params![now_ms(), kind, detail]))
            .map_err(|e| self.err(e))?;
        Ok(conn.last_insert_rowid() as u64)
    }

    /// The journal entries with `id > after`, oldest first, at most `limit`.
    pub fn journal_after(&self, after: u64, limit: usize) -> Result<Vec<JournalEntry>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT id, at_ms, kind, detail FROM journal WHERE id > ?1 ORDER BY id LIMIT ?2")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![after as i64, limit as i64], |r| {
                Ok(JournalEntry {
                    id: r.get::<_, i64>(0)? as u64,
                    at_ms: r.get::<_, i64>(1)? as u64,
                    kind: r.get(2)?,
                    detail: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The newest journal entry of `kind`, if any.
    pub fn journal_last(&self, kind: &str) -> Result<Option<JournalEntry>> {
        self.conn()
            .query_row(
                "SELECT id, at_ms, kind, detail FROM journal WHERE kind = ?1 ORDER BY id DESC LIMIT 1",
                params![kind],
                |r| {
                    Ok(JournalEntry {
                        id: r.get::<_, i64>(0)? as u64,
                        at_ms: r.get::<_, i64>(1)? as u64,
                        kind: r.get(2)?,
                        detail: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Reads a setting.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", params![key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Writes a setting; durable when this returns.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Runs `f` in one transaction, committed when it returns `Ok` (durable on return) and rolled
    /// back otherwise. For capability crates that keep their own tables here.
    pub fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let value = f(&tx).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(value)
    }

    /// Runs a read-only query.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.conn();
        f(&conn).map_err(|e| self.err(e))
    }

    /// Runs SQLite's full `integrity_check`; `Ok(())` when the file is sound.
    pub fn integrity_check(&self) -> Result<()> {
        let report: String =
            self.conn().query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(|e| self.err(e))?;
        if report == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt { path: self.path.clone(), detail: report, source: None })
        }
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolls back any
        // open transaction, so recover the guard instead of propagating the poison.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::from_sqlite(&self.path, source)
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it): the one clock reading every
/// stored timestamp uses.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_and_settings_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), migrations::latest_version());
        let a = store.journal_append("node.started", "{}").unwrap();
        let b = store.journal_append("node.stopped", "{\"clean\":true}").unwrap();
        assert!(b > a);
        let all = store.journal_after(0, 10).unwrap();
        assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), vec![a, b]);
        assert_eq!(store.journal_last("node.started").unwrap().unwrap().id, a);
        assert_eq!(store.journal_last("nothing").unwrap(), None);

        assert_eq!(store.setting("k").unwrap(), None);
        store.set_setting("k", "1").unwrap();
        store.set_setting("k", "2").unwrap();
        assert_eq!(store.setting("k").unwrap().as_deref(), Some("2"));
    }

    #[test]
    fn reopening_keeps_data_and_does_not_migrate_twice() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open_in(dir.path()).unwrap();
            store.journal_append("x", "1").unwrap();
        }
        let store = Store::open_in(dir.path()).unwrap();
        assert_eq!(store.journal_after(0, 10).unwrap().len(), 1);
        assert_eq!(store.schema_version().unwrap(), migrations::latest_version());
        store.integrity_check().unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_database_is_reported_corrupt_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        let garbage = b"this is not an SQLite file, it is a note someone left here".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(err.is_corrupt(), "{err:?}");
        assert!(err.to_string().contains("is corrupt"), "{err}");
        assert!(std::error::Error::source(&err).is_some(), "the SQLite error is kept: {err:?}");
        assert_eq!(std::fs::read(&path).unwrap(), garbage, "nothing overwritten");
    }

    #[test]
    fn a_store_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err:?}");
    }

    #[test]
    fn a_database_of_the_global_layout_opens_without_running_anything_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        {
            // What a build that counted one list of migrations in user_version left behind.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(migrations::SCHEMA.steps[0]).unwrap();
            conn.execute_batch("CREATE TABLE pay_channels (channel_id TEXT PRIMARY KEY);").unwrap();
            conn.execute("INSERT INTO journal (at_ms, kind, detail) VALUES (1, 'node.started', '{}')", [])
                .unwrap();
            conn.execute("INSERT INTO pay_channels (channel_id) VALUES ('0xc')", []).unwrap();
            conn.pragma_update(None, "user_version", 3).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), migrations::LAYOUT_VERSION);
        for (component, version) in [("store", 1), ("agents", 1), ("pay", 1), ("guard", 0)] {
            assert_eq!(store.component_version(component).unwrap(), version, "{component}");
        }
        assert_eq!(store.journal_after(0, 10).unwrap().len(), 1, "the journal kept");
        let channels: i64 =
            store.read(|c| c.query_row("SELECT count(*) FROM pay_channels", [], |r| r.get(0))).unwrap();
        assert_eq!(channels, 1, "a capability's rows kept");
        drop(store);
        // Mapped once: reopening changes nothing.
        let store = Store::open(&path).unwrap();
        assert_eq!(store.component_version("pay").unwrap(), 1);
        assert_eq!(store.journal_after(0, 10).unwrap().len(), 1);
    }

    #[test]
    fn a_components_second_step_runs_once_and_an_older_schema_is_refused() {
        const STEPS: &[&str] = &[
            "CREATE TABLE widgets (id INTEGER PRIMARY KEY);",
            "ALTER TABLE widgets ADD COLUMN colour TEXT NOT NULL DEFAULT 'blue';",
        ];
        let first = Schema { component: "widgets", steps: &STEPS[..1] };
        let second = Schema { component: "widgets", steps: STEPS };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        {
            let store = Store::open(&path).unwrap();
            store.migrate(&first).unwrap();
            store.write(|tx| tx.execute("INSERT INTO widgets (id) VALUES (7)", [])).unwrap();
            assert_eq!(store.component_version("widgets").unwrap(), 1);
        }
        let store = Store::open(&path).unwrap();
        store.migrate(&second).unwrap();
        store.migrate(&second).unwrap();
        assert_eq!(store.component_version("widgets").unwrap(), 2);
        let colour: String =
            store.read(|c| c.query_row("SELECT colour FROM widgets WHERE id = 7", [], |r| r.get(0))).unwrap();
        assert_eq!(colour, "blue");
        let err = store.migrate(&first).unwrap_err();
        assert!(
            matches!(err, StoreError::ComponentTooNew { component: "widgets", found: 2, supported: 1, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("widgets schema version 2"), "{err}");
    }

    #[test]
    fn a_failing_step_leaves_the_component_at_its_version() {
        let broken = Schema { component: "broken", steps: &["CREATE TABLE ok (id INTEGER);", "NOT SQL"] };
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        assert!(store.migrate(&broken).is_err());
        assert_eq!(store.component_version("broken").unwrap(), 1);
    }

    #[test]
    fn a_locked_store_is_reported_as_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        drop(Store::open(&path).unwrap());
        // Another process holds the database in exclusive mode.
        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;").unwrap();
        let err = Store::open_with_timeout(&path, Duration::from_millis(50)).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        assert!(err.to_string().contains("locked by another process"), "{err}");
        drop(holder);
        Store::open(&path).unwrap();
    }

    #[test]
    fn the_data_directory_and_the_database_are_the_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let store = Store::open_in(&data).unwrap();
        store.set_setting("k", "v").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        for name in [STORE_FILE.to_owned(), format!("{STORE_FILE}-wal"), format!("{STORE_FILE}-shm")] {
            let path = data.join(&name);
            if path.exists() {
                assert_eq!(mode(&path), 0o600, "{name}");
            }
        }
        assert_eq!(mode(&data.join(STORE_FILE)), 0o600);
    }
}
