//! Schema migrations, owned by the capability whose tables they create.
//!
//! Each capability crate declares its tables in a [`Schema`]: a component name and its steps,
//! oldest first. `schema_versions` records how many steps of each component a database has
//! applied; each step runs in its own transaction together with the update of that record.
//! Steps are append-only: never edit one that has shipped, add the next instead.
//!
//! A crate registers its schema once with [`register_schema!`](crate::register_schema), and
//! every [`Store`](crate::Store) opened in a program that links the crate applies it, so a test
//! that opens a store directly gets the same tables as the node.
//!
//! `PRAGMA user_version` now names the layout: [`LAYOUT_VERSION`] for per-component versions.
//! Older builds counted one global list of migrations in it (see [`LEGACY_STEPS`]); such a
//! database is mapped onto per-component versions once, without running anything again.

use crate::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// The tables of one capability: its name and its migration steps, oldest first.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// Component name, unique in the database (e.g. `pay`).
    pub component: &'static str,
    /// SQL batches, oldest first; the component's version is the number applied.
    pub steps: &'static [&'static str],
}

impl Schema {
    /// The version this build knows: the number of steps.
    pub fn latest_version(&self) -> u32 {
        self.steps.len() as u32
    }
}

inventory::collect!(Schema);

/// Registers a capability's [`Schema`] so every store opened in the program applies it.
///
/// ```ignore
/// agora_store::register_schema!(SCHEMA);
/// ```
#[macro_export]
macro_rules! register_schema {
    ($schema:expr) => {
        $crate::__inventory::submit! { $schema }
    };
}

/// The store's own tables: the node's journal and settings.
pub const SCHEMA: Schema = Schema {
    component: "store",
    steps: &["
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
    "],
};

/// `user_version` of a database whose versions live in `schema_versions`.
pub const LAYOUT_VERSION: u32 = 5;

/// The global migrations of the layout before [`LAYOUT_VERSION`], in their order: the
/// `user_version` of such a database counts how many of them it applied, and each was the
/// first step of the named component.
pub const LEGACY_STEPS: &[&str] = &["store", "agents", "pay", "guard"];

/// The layout version of this build (what `Store::schema_version` reads when it is current).
#[cfg(test)]
pub(crate) fn latest_version() -> u32 {
    LAYOUT_VERSION
}

/// Every registered schema, the store's own first, then by component name.
pub fn registered() -> Vec<&'static Schema> {
    let mut schemas: Vec<&'static Schema> = inventory::iter::<Schema>.into_iter().collect();
    schemas.sort_by_key(|s| s.component);
    schemas.dedup_by_key(|s| s.component);
    schemas.retain(|s| s.component != SCHEMA.component);
    schemas.insert(0, &SCHEMA);
    schemas
}

/// Brings the layout of an open database to [`LAYOUT_VERSION`]: creates `schema_versions`
/// and maps a legacy `user_version` onto per-component versions, in one transaction.
pub(crate) fn prepare_layout(conn: &mut Connection, path: &Path) -> Result<()> {
    let err = |e| StoreError::from_sqlite(path, e);
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err)?;
    if found > LAYOUT_VERSION {
        return Err(StoreError::TooNew { path: path.to_path_buf(), found, supported: LAYOUT_VERSION });
    }
    if found == LAYOUT_VERSION {
        return Ok(());
    }
    let legacy = LEGACY_STEPS.get(..found as usize).unwrap_or(LEGACY_STEPS);
    let tx = conn.transaction().map_err(err)?;
    tx.execute_batch(
        "CREATE TABLE schema_versions (
            component TEXT    PRIMARY KEY,
            version   INTEGER NOT NULL
        ) WITHOUT ROWID;",
    )
    .map_err(err)?;
    for component in legacy {
        tx.execute("INSERT INTO schema_versions (component, version) VALUES (?1, 1)", params![component])
            .map_err(err)?;
    }
    tx.pragma_update(None, "user_version", LAYOUT_VERSION).map_err(err)?;
    tx.commit().map_err(err)?;
    tracing::debug!(target: "agora::store", from = found, to = LAYOUT_VERSION, "schema layout upgraded");
    Ok(())
}

/// The version of `component` in the database (0 when it has none).
pub(crate) fn component_version(conn: &Connection, component: &str) -> rusqlite::Result<u32> {
    conn.query_row("SELECT version FROM schema_versions WHERE component = ?1", params![component], |r| {
        r.get(0)
    })
    .optional()
    .map(Option::unwrap_or_default)
}

/// Applies the steps of `schema` the database lacks, each in its own transaction; refuses a
/// component written by a newer build.
pub(crate) fn apply(conn: &mut Connection, path: &Path, schema: &Schema) -> Result<()> {
    let err = |e| StoreError::from_sqlite(path, e);
    let found = component_version(conn, schema.component).map_err(err)?;
    let supported = schema.latest_version();
    if found > supported {
        return Err(StoreError::ComponentTooNew {
            path: path.to_path_buf(),
            component: schema.component,
            found,
            supported,
        });
    }
    for (index, sql) in schema.steps.iter().enumerate().skip(found as usize) {
        let version = index as u32 + 1;
        let tx = conn.transaction().map_err(err)?;
        tx.execute_batch(sql).map_err(err)?;
        tx.execute(
            "INSERT INTO schema_versions (component, version) VALUES (?1, ?2)
             ON CONFLICT (component) DO UPDATE SET version = excluded.version",
            params![schema.component, version],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        tracing::debug!(target: "agora::store", component = schema.component, version, "migrated");
    }
    Ok(())
}
