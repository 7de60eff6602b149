//! The pre-sign guard as operations on a data directory: the proxy, a one-shot check, the
//! user's lists, the installed phishing and token lists. Settings come from [`GuardConfig`]
//! (the node's `[guard]` table, with `agora guard`'s flags laid over it).

use crate::{NodeConfig, NodeError, Result};
use agora_guard::{
    Guard, GuardConfig, GuardData, GuardRequest, InstallReport, ListFile, ListKind, Verdict, lists,
};
use agora_store::Store;
use alloy::providers::{Provider, ProviderBuilder};
use serde::Serialize;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

/// Where the guard keeps installed lists, inside the data directory.
pub fn guard_dir(config: &NodeConfig) -> PathBuf {
    config.data_dir.join("guard")
}

/// The node the guard reads state from and forwards to: the settings' upstream, else the
/// node's configured chain.
pub fn upstream(config: &NodeConfig, settings: &GuardConfig) -> String {
    settings.upstream.clone().unwrap_or_else(|| super::chain_url(config))
}

/// The guard over `upstream`, with the installed data and the user's lists.
pub async fn open(config: &NodeConfig, settings: &GuardConfig) -> Result<(Guard, String)> {
    let url = upstream(config, settings);
    let parsed = url.parse().map_err(|e| NodeError::Missing(format!("bad upstream URL {url}: {e}")))?;
    let provider = ProviderBuilder::new().connect_http(parsed).erased();
    provider.get_chain_id().await.map_err(|e| {
        NodeError::Missing(format!("no node at {url}: start it (agora up) or pass --upstream URL ({e})"))
    })?;
    let data = GuardData::load(&guard_dir(config))?;
    let store = Arc::new(Store::open_in(&config.data_dir)?);
    Ok((Guard::new(provider, data, Some(store), settings.options()), url))
}

/// The proxy, bound and ready to serve.
#[derive(Debug)]
pub struct GuardProxy {
    /// Where it listens.
    pub listen: SocketAddr,
    /// Where it forwards.
    pub upstream: String,
    listener: tokio::net::TcpListener,
    router: axum::Router,
}

impl GuardProxy {
    /// Serves until Ctrl-C.
    pub async fn run(self) -> Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(NodeError::Serve)
    }
}

/// Binds the JSON-RPC proxy at the settings' address in front of the upstream; `explain_api`
/// is the node API whose model writes summaries, when they are asked for.
pub async fn bind_proxy(
    config: &NodeConfig,
    settings: &GuardConfig,
    explain_api: Option<String>,
) -> Result<GuardProxy> {
    let (guard, upstream) = open(config, settings).await?;
    let listener = tokio::net::TcpListener::bind(settings.listen).await.map_err(|e| NodeError::Listen {
        addr: settings.listen,
        flag: "--listen",
        reason: format!("{e} (another guard running?)"),
    })?;
    let router = agora_guard::proxy::router_with_asker(
        guard,
        settings.proxy(upstream.clone(), explain_api),
        page_then_terminal(config.clone()),
    );
    Ok(GuardProxy { listen: settings.listen, upstream, listener, router })
}

/// With `--confirm`: the question goes to the node's page when one is open (the node running on
/// this data directory answers `409` when none is), else to the terminal.
fn page_then_terminal(config: NodeConfig) -> agora_guard::proxy::Asker {
    Arc::new(move |verdict: Verdict| {
        let node = super::NodeApi::beside(&config).ok().flatten();
        let answer = node.and_then(|node| {
            let body = serde_json::json!({ "verdict": verdict });
            tokio::runtime::Handle::current().block_on(node.ask_page(&body))
        });
        match answer {
            Some(approved) => {
                let said = if approved { "approved" } else { "rejected" };
                tracing::info!(target: "agora::guard", "the owner {said} it on the node's page");
                approved
            }
            None => agora_guard::proxy::ask_terminal(verdict),
        }
    })
}

/// Checks one request; with `explain_api`, asks that node's model for a summary. A summary that
/// cannot be had is left out, never a failure: the second value says why.
pub async fn check(
    config: &NodeConfig,
    settings: &GuardConfig,
    request: &GuardRequest,
    explain_api: Option<&str>,
) -> Result<(Verdict, Option<agora_guard::GuardError>)> {
    let (guard, _) = open(config, settings).await?;
    let mut verdict = guard.check(request).await?;
    let mut summary_error = None;
    if let Some(api) = explain_api {
        let client = reqwest::Client::new();
        match agora_guard::explain::summarize(
            &client,
            api,
            &verdict,
            agora_guard::explain::SUMMARY_MAX_TOKENS,
        )
        .await
        {
            Ok(summary) => verdict.summary = Some(summary),
            Err(e) => summary_error = Some(e),
        }
    }
    Ok((verdict, summary_error))
}

/// Adds `entry` (an address, or a domain for allow/block) to one of the user's lists.
pub fn add_entry(config: &NodeConfig, list: ListKind, entry: &str, label: &str) -> Result<()> {
    Ok(lists::add_entry(&Store::open_in(&config.data_dir)?, list, entry, label)?)
}

/// Removes `entry` from a list; `false` when it was not there.
pub fn remove_entry(config: &NodeConfig, list: ListKind, entry: &str) -> Result<bool> {
    Ok(lists::remove_entry(&Store::open_in(&config.data_dir)?, list, entry)?)
}

/// Every entry of the user's lists.
pub fn entries(config: &NodeConfig) -> Result<Vec<lists::ListEntry>> {
    Ok(lists::entries(&Store::open_in(&config.data_dir)?)?)
}

/// Installs a phishing list and/or a token list from files, each validated and replaced
/// atomically.
pub fn install_data(
    config: &NodeConfig,
    phishing: Option<&Path>,
    tokens: Option<&Path>,
) -> Result<Vec<InstallReport>> {
    let dir = guard_dir(config);
    let mut reports = Vec::new();
    if let Some(path) = phishing {
        reports.push(agora_guard::install_list(&dir, ListFile::Phishing, path)?);
    }
    if let Some(path) = tokens {
        reports.push(agora_guard::install_list(&dir, ListFile::Tokens, path)?);
    }
    Ok(reports)
}

/// The phishing and token lists the guard uses.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataStatus {
    /// Whether the phishing list was installed (else the shipped one).
    pub phishing_installed: bool,
    /// Its version.
    pub phishing_version: u32,
    /// Blocked domains.
    pub blocked_domains: usize,
    /// Whether the token list was installed (else the shipped one).
    pub tokens_installed: bool,
    /// Tokens listed.
    pub tokens: usize,
}

/// What the guard's lists are.
pub fn data_status(config: &NodeConfig) -> Result<DataStatus> {
    let dir = guard_dir(config);
    let data = GuardData::load(&dir)?;
    Ok(DataStatus {
        phishing_installed: dir.join(lists::PHISHING_FILE).exists(),
        phishing_version: data.phishing.version,
        blocked_domains: data.phishing.blacklist.len(),
        tokens_installed: dir.join(lists::TOKENS_FILE).exists(),
        tokens: data.tokens.tokens.len(),
    })
}
