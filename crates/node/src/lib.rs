//! The agora node: it resolves the [configuration](config), takes its data directory, opens the
//! [store](agora_store), starts or connects to the chain, makes sure the contract suite is
//! deployed, and serves the owner's [HTTP API](api) until it is told to stop.
//!
//! ```text
//! agora up ─▶ NodeConfig::load ─▶ Node::start ─┬─ DataDirLock (one node per data dir)
//!                                               ├─ Store (SQLite, WAL)
//!                                               ├─ bind 127.0.0.1:8402
//!                                               ├─ Devnet (anvil) or ChainClient (RPC URL)
//!                                               └─ ensure_deployed (deployments.json)
//!            Node::run_until(shutdown) ─▶ axum serves api::app until Ctrl-C / SIGTERM,
//!                                          then stops anvil (which saves its state)
//! ```

pub mod api;
pub mod config;
mod error;
mod lock;

pub use config::{ChainTarget, ConfigError, ConfigLayer, NodeConfig};
pub use error::{NodeError, Result};
pub use lock::DataDirLock;

use agora_chain::{ChainClient, ChainDeployment, DeployAction, Devnet, ensure_deployed};
use agora_store::Store;
use std::{future::Future, net::SocketAddr, sync::Arc, time::Instant};
use tokio::net::TcpListener;

/// A started node, ready to serve.
#[derive(Debug)]
pub struct Node {
    config: NodeConfig,
    store: Arc<Store>,
    devnet: Option<Devnet>,
    chain: ChainClient,
    deployment: ChainDeployment,
    listener: TcpListener,
    api_addr: SocketAddr,
    _lock: DataDirLock,
}

/// Starts the chain the configuration names: the local devnet (returned, so the caller keeps it
/// running) or a connection to the RPC endpoint. The client signs with the configured signer,
/// or on the devnet with anvil's first dev account.
pub async fn open_chain(config: &NodeConfig) -> Result<(Option<Devnet>, ChainClient)> {
    let configured = config.signer.as_ref().map(|s| s.load()).transpose()?;
    match &config.chain {
        ChainTarget::Devnet(devnet_config) => {
            let started = Instant::now();
            tracing::info!(target: "agora::up", port = devnet_config.port, "starting the local devnet (anvil)");
            let devnet = Devnet::start(devnet_config).await?;
            let signer = configured.or_else(|| devnet.dev_signer(0));
            let client = ChainClient::connect(&devnet.rpc_url(), signer).await?;
            let block = client.block_number().await?;
            tracing::info!(
                target: "agora::up",
                rpc = %devnet.rpc_url(),
                chain_id = client.chain_id(),
                block,
                took_ms = started.elapsed().as_millis() as u64,
                "devnet ready"
            );
            Ok((Some(devnet), client))
        }
        ChainTarget::Rpc { url } => {
            let client = ChainClient::connect(url, configured).await?;
            tracing::info!(target: "agora::up", rpc = %client.url(), chain_id = client.chain_id(), "connected to chain");
            Ok((None, client))
        }
    }
}

/// Deploys what is missing of the suite on `client`'s chain, logging each contract.
pub async fn deploy_suite(config: &NodeConfig, client: &ChainClient) -> Result<ChainDeployment> {
    let path = config.deployments_path();
    let deployment = ensure_deployed(client, &path, |contract, action, address| {
        let action = match action {
            DeployAction::Reused => "reused",
            DeployAction::Deployed => "deployed",
        };
        tracing::info!(target: "agora::up", contract = contract.name(), %address, "{action}");
    })
    .await?;
    Ok(deployment)
}

impl Node {
    /// Takes the data directory, opens the store, binds the API, starts or connects to the chain
    /// and deploys the suite. Fails without side effects beyond what it created itself.
    pub async fn start(config: NodeConfig) -> Result<Self> {
        let lock = DataDirLock::acquire(&config.data_dir)?;
        let store = Arc::new(Store::open_in(&config.data_dir)?);
        tracing::info!(target: "agora::up", data_dir = %config.data_dir.display(), "store open");
        let listener = TcpListener::bind(config.api_listen)
            .await
            .map_err(|e| NodeError::Listen { addr: config.api_listen, reason: e.to_string() })?;
        let api_addr = listener.local_addr().map_err(NodeError::Serve)?;

        let (devnet, chain) = open_chain(&config).await?;
        let deployment = deploy_suite(&config, &chain).await?;
        store.journal_append(
            "node.started",
            &serde_json::json!({
                "version": env!("CARGO_PKG_VERSION"),
                "chainId": chain.chain_id(),
                "api": api_addr.to_string(),
            })
            .to_string(),
        )?;
        Ok(Self { config, store, devnet, chain, deployment, listener, api_addr, _lock: lock })
    }

    /// Where the owner's API listens.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The chain connection.
    pub fn chain(&self) -> &ChainClient {
        &self.chain
    }

    /// The suite on this chain.
    pub fn deployment(&self) -> &ChainDeployment {
        &self.deployment
    }

    /// The local devnet, when the node runs one.
    pub fn devnet(&self) -> Option<&Devnet> {
        self.devnet.as_ref()
    }

    /// The node's store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The configuration the node runs with.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Serves the API until `shutdown` completes, then stops cleanly: in-flight requests finish,
    /// the journal records the stop, and the devnet saves its state.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let Self { store, devnet, chain, deployment, listener, api_addr, _lock, .. } = self;
        tracing::info!(target: "agora::up", "node ready on http://{api_addr}; Ctrl-C to stop");
        let app = api::app(api::AppState::new(chain, deployment, Arc::clone(&store)));
        let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
        tracing::info!(target: "agora::up", "shutting down");
        if let Some(devnet) = devnet {
            devnet.stop().await;
        }
        store.journal_append("node.stopped", "{}")?;
        served.map_err(NodeError::Serve)
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
