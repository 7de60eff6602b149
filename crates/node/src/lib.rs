//! The agora node: it resolves the [configuration](config), takes its data directory, opens the
//! [store](agora_store), starts or connects to the chain, makes sure the contract suite is
//! deployed, and serves the owner's [HTTP API](api) until it is told to stop.
//!
//! ```text
//! agora up ─▶ NodeConfig::load ─▶ Node::start ─┬─ DataDirLock (one node per data dir)
//!                                               ├─ Store (SQLite, WAL)
//!                                               ├─ bind 127.0.0.1:8402
//!                                               ├─ Engine (GGUF model) + InferenceService
//!                                               ├─ Devnet (anvil) or ChainClient (RPC URL)
//!                                               ├─ ensure_deployed (deployments.json)
//!                                               └─ Paywall + bind 127.0.0.1:8412 (paid listener)
//!            Node::run_until(shutdown) ─▶ axum serves api::app (owner) and api::paid_app (public)
//!                                          with the settler claiming in the background, until
//!                                          Ctrl-C / SIGTERM, then stops anvil (which saves its state)
//! ```

mod a2a;
pub mod api;
pub mod config;
mod error;
pub mod inference;
pub mod keywatch;
pub mod listener;
mod lock;
pub mod models;
pub mod node_key;
mod ollama;
mod openai;
pub mod ops;
pub mod pull;
mod routing;
pub mod setup;
pub mod ui;

pub use config::{
    AgentConfig, ApiAccess, ApiToken, ChainTarget, ConfigError, ConfigLayer, InferenceConfig, NodeConfig,
    PaymentsConfig,
};
pub use error::{NodeError, Result};

// The capability crates, for the node's callers: the binary renders their types and passes
// their settings, and reaches all of them through the node.
pub use agora_agents as agents;
pub use agora_chain as chain;
pub use agora_contracts as contracts;
pub use agora_funding as funding;
pub use agora_guard as guard;
pub use agora_infer as infer;
pub use agora_jobs as jobs;
pub use agora_markets as markets;
pub use agora_pay as pay;
pub use agora_receipts as receipts;
pub use agora_store as store;
pub use lock::{DataDirLock, RunningNode, running_node, shutdown_signal};

use agora_chain::{
    ChainClient, ChainDeployment, DeployAction, Devnet, ensure_deployed, ensure_x402_contracts,
};
use agora_infer::{Engine, EngineOptions};
use agora_store::Store;
use inference::InferenceService;
use std::{future::Future, net::SocketAddr, sync::Arc, time::Instant};
use tokio::net::TcpListener;

/// A started node, ready to serve.
#[derive(Debug)]
pub struct Node {
    config: NodeConfig,
    store: Arc<Store>,
    devnet: Option<Devnet>,
    chain: Option<(ChainClient, ChainDeployment)>,
    inference: Option<InferenceService>,
    agent: api::AgentState,
    indexer: Option<agora_agents::Indexer>,
    node_key: alloy::signers::local::PrivateKeySigner,
    listener: TcpListener,
    api_addr: SocketAddr,
    paid: Option<PaidAccess>,
    jobs: Option<agora_jobs::Worker>,
    keeper: Option<DecisionKeeper>,
    _lock: DataDirLock,
}

/// The public paid listener and what it charges with.
#[derive(Debug)]
struct PaidAccess {
    paywall: agora_pay::Paywall,
    facilitator: agora_pay::facilitator::Facilitator,
    listener: TcpListener,
    addr: SocketAddr,
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

/// Deploys what is missing of the suite on `client`'s chain, then makes sure the x402 contracts
/// are at their canonical addresses (placed there on a dev chain, required elsewhere), logging
/// each contract.
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
    for placement in ensure_x402_contracts(client).await? {
        let (contract, address) = (placement.contract.name(), placement.address);
        tracing::info!(target: "agora::up", contract, %address, "{}", placement.action.as_str());
    }
    Ok(deployment)
}

/// Loads the configured model. `Ok(None)` when no model is configured and the default one is
/// not installed: the node then runs without inference.
pub async fn load_engine(config: &InferenceConfig) -> Result<Option<Engine>> {
    let Some(path) = config.model.clone() else {
        tracing::warn!(
            target: "agora::up",
            "no model found: inference is off (run `agora setup`, or set [inference] model / --model)"
        );
        return Ok(None);
    };
    if !path.is_file() {
        return Err(NodeError::ModelMissing { path });
    }
    let options = EngineOptions { threads: config.threads, max_context: config.max_context, isa: None };
    let started = Instant::now();
    tracing::info!(target: "agora::up", model = %path.display(), "loading the model");
    let engine = tokio::task::spawn_blocking(move || Engine::load(&path, &options)).await??;
    let info = engine.info();
    tracing::info!(
        target: "agora::up",
        model = %info.id,
        quantization = %info.quantization,
        threads = engine.threads(),
        kernels = engine.isa().name(),
        took_ms = started.elapsed().as_millis() as u64,
        "model ready"
    );
    Ok(Some(engine))
}

impl Node {
    /// Takes the data directory, opens the store, binds the API, loads the model, starts or
    /// connects to the chain and deploys the suite.
    pub async fn start(config: NodeConfig) -> Result<Self> {
        Self::start_with(config, true).await
    }

    /// Like [`Node::start`] but without any chain: only the store and the inference API
    /// (`agora serve`).
    pub async fn start_without_chain(config: NodeConfig) -> Result<Self> {
        Self::start_with(config, false).await
    }

    async fn start_with(config: NodeConfig, with_chain: bool) -> Result<Self> {
        // Before anything else: an unauthenticated API must not listen beyond loopback.
        config.api.check_listen(config.api_listen)?;
        let mut lock = DataDirLock::acquire(&config.data_dir)?;
        let store = Arc::new(Store::open_in(&config.data_dir)?);
        tracing::info!(target: "agora::up", data_dir = %config.data_dir.display(), "store open");
        let listener = TcpListener::bind(config.api_listen).await.map_err(|e| NodeError::Listen {
            addr: config.api_listen,
            flag: "--listen",
            reason: e.to_string(),
        })?;
        let api_addr = listener.local_addr().map_err(NodeError::Serve)?;
        lock.record_api(api_addr);
        // The paid listener too is bound before the chain is touched: a taken port is found
        // before anything is deployed.
        let paid_listener = if with_chain && config.payments.enabled {
            let listen = config.payments.listen;
            Some(TcpListener::bind(listen).await.map_err(|e| NodeError::Listen {
                addr: listen,
                flag: "--paid-listen",
                reason: e.to_string(),
            })?)
        } else {
            None
        };
        let node_key = node_key::load_or_create(&config.data_dir)?;

        let engine = load_engine(&config.inference).await?;
        if !with_chain && engine.is_none() {
            return Err(NodeError::NoModel);
        }
        let inference = engine.map(|engine| {
            InferenceService::start(
                engine,
                Some(node_key.clone()),
                config.inference.queue,
                config.inference.batch,
                config.inference.log_prompts,
            )
        });

        let (devnet, chain) = if with_chain {
            let (devnet, client) = open_chain(&config).await?;
            lock.record_rpc(client.url());
            let deployment = deploy_suite(&config, &client).await?;
            (devnet, Some((client, deployment)))
        } else {
            (None, None)
        };
        // The paid listener's address goes into the agent's registration; the paywall itself
        // is built once the agent is registered (the credit pool it sells is the agent's).
        let paid_addr = match (&chain, &paid_listener) {
            (Some(_), Some(listener)) => Some(listener.local_addr().map_err(NodeError::Serve)?),
            _ => None,
        };
        let model = inference.as_ref().map(|i| i.engine().info().id.clone());
        let agent =
            agent_profile_with(&config, model.as_deref(), devnet.is_some().then_some(api_addr), paid_addr);
        let agent = match &chain {
            Some((client, deployment)) if config.agent.register => {
                register_agent(&store, client, deployment, agent, &node_key).await?
            }
            _ => agent,
        };
        let paid = match (&chain, paid_listener) {
            (Some((client, deployment)), Some(listener)) => {
                let url = match (&devnet, &config.chain) {
                    (Some(devnet), _) => devnet.rpc_url(),
                    (None, ChainTarget::Rpc { url }) => url.clone(),
                    (None, ChainTarget::Devnet(_)) => client.url().to_owned(),
                };
                let agent_id = agent.registration.as_ref().map(|(id, _)| *id);
                open_paid_access(&config, listener, &url, (client, deployment), &store, &node_key, agent_id)
                    .await?
            }
            _ => None,
        };
        // The card and the registration file name the paid listener only when it is served.
        let mut agent = agent;
        if paid.is_none() {
            agent.profile.paid_url = None;
        }
        let jobs = match (&chain, &inference) {
            (Some((client, deployment)), Some(inference)) => {
                let agent_id = agent.registration.as_ref().map(|(id, _)| *id);
                jobs_worker(&config, client, deployment, inference, &node_key, agent_id).await?
            }
            _ => None,
        };
        let keeper = match &chain {
            Some((client, deployment)) if config.markets.keeper => {
                decision_keeper(client, deployment, &node_key, config.markets.keeper_secs).await?
            }
            _ => None,
        };
        let indexer = chain.as_ref().and_then(|(client, deployment)| {
            discovery_indexer(client, deployment, Arc::clone(&store), devnet.is_some())
        });
        store.journal_append(
            "node.started",
            &serde_json::json!({
                "version": env!("CARGO_PKG_VERSION"),
                "chainId": chain.as_ref().map(|(c, _)| c.chain_id()),
                "api": api_addr.to_string(),
                "model": inference.as_ref().map(|i| i.engine().info().id.clone()),
            })
            .to_string(),
        )?;
        Ok(Self {
            config,
            store,
            devnet,
            chain,
            inference,
            agent,
            indexer,
            node_key,
            listener,
            api_addr,
            paid,
            jobs,
            keeper,
            _lock: lock,
        })
    }

    /// Where the public paid listener listens, when paid access is on.
    pub fn paid_addr(&self) -> Option<SocketAddr> {
        self.paid.as_ref().map(|p| p.addr)
    }

    /// The paywall, when paid access is on.
    pub fn paywall(&self) -> Option<&agora_pay::Paywall> {
        self.paid.as_ref().map(|p| &p.paywall)
    }

    /// Where the owner's API listens.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The chain connection, unless started without one.
    pub fn chain(&self) -> Option<&ChainClient> {
        self.chain.as_ref().map(|(c, _)| c)
    }

    /// The suite on this chain, unless started without one.
    pub fn deployment(&self) -> Option<&ChainDeployment> {
        self.chain.as_ref().map(|(_, d)| d)
    }

    /// The local devnet, when the node runs one.
    pub fn devnet(&self) -> Option<&Devnet> {
        self.devnet.as_ref()
    }

    /// The inference service, when a model is loaded.
    pub fn inference(&self) -> Option<&InferenceService> {
        self.inference.as_ref()
    }

    /// The node's agent: its profile and, once registered, its id.
    pub fn agent(&self) -> &api::AgentState {
        &self.agent
    }

    /// The address that signs this node's receipts.
    pub fn node_address(&self) -> alloy::primitives::Address {
        self.node_key.address()
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
        let Self {
            config,
            store,
            devnet,
            chain,
            inference,
            agent,
            indexer,
            node_key,
            listener,
            api_addr,
            paid,
            jobs,
            keeper,
            _lock,
        } = self;
        // Follow the registries in the background while serving.
        let index_task = indexer.map(|indexer| {
            tokio::spawn(async move {
                loop {
                    match indexer.sync().await {
                        Ok(report) if report.events > 0 || report.skipped > 0 => {
                            tracing::debug!(target: "agora::index", ?report, "indexed");
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(target: "agora::index", "index pass failed (will retry): {e}")
                        }
                    }
                    tokio::time::sleep(INDEX_INTERVAL).await;
                }
            })
        });
        let mut state = api::AppState::new(Arc::clone(&store))
            .with_config(config.clone())
            .with_agent(agent)
            .with_access(config.api.clone())
            .with_node_key(node_key.clone());
        if let Some((client, deployment)) = chain {
            let own_agent = state.agent_id();
            state = state.with_router(routing::build(&config, &store, &client, own_agent, &node_key));
            state = state.with_chain(client, deployment);
        }
        if let Some(inference) = inference {
            let models = models::ModelSet::new(
                inference,
                &config.inference,
                Some(node_key.clone()),
                Some(config.data_dir.clone()),
            )?;
            let infos = models.infos().await;
            if infos.len() > 1 {
                let ids: Vec<&str> = infos[1..].iter().map(|i| i.id.as_str()).collect();
                tracing::info!(target: "agora::up", "also serving, loaded on first use: {}", ids.join(", "));
            }
            state = state.with_models(Arc::new(models), node_key.address());
        }
        // One stop signal for both listeners, so their grace periods run side by side.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let wait_stop = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        let limits = listener::HttpLimits::default();
        let mut paid_tasks = Vec::new();
        let mut background = Vec::new();
        if let Some(paid) = paid {
            let pricing = api::Pricing {
                price_per_token: u128::from(config.payments.price_per_token),
                max_per_request: u128::from(config.payments.max_per_request),
            };
            let watch = keywatch::KeyWatch::new(node_key.address());
            background.push(tokio::spawn(watch.clone().run(paid.paywall.chain().clone())));
            state = state
                .with_paywall(paid.paywall.clone(), pricing)
                .with_facilitator(paid.facilitator)
                .with_key_watch(watch);
            let server = listener::HttpServer::new(paid.listener, api::paid_app(state.clone()), limits);
            let addr = paid.addr;
            paid_tasks.push(tokio::spawn(server.serve(wait_stop(stopped.clone()))));
            let paywall = paid.paywall;
            let interval = std::time::Duration::from_secs(config.payments.settle_interval);
            paid_tasks.push(tokio::spawn(async move {
                loop {
                    paywall.settle_pass().await;
                    tokio::time::sleep(interval).await;
                }
            }));
            tracing::info!(target: "agora::up", "paid access (x402) on http://{addr}/v1/chat/completions");
            if state.inference().is_some() {
                tracing::info!(target: "agora::up", "A2A 1.0 (HTTP+JSON, paid alike) on http://{addr}/v1");
            }
        }
        if let Some(worker) = jobs {
            background.push(tokio::spawn(run_jobs(worker)));
        }
        if let Some(keeper) = keeper {
            background.push(tokio::spawn(keeper.run()));
        }
        tracing::info!(
            target: "agora::up",
            "transaction guard: POST http://{api_addr}/guard/check, or `agora guard` as a wallet's JSON-RPC endpoint"
        );
        tracing::info!(target: "agora::up", "node ready on http://{api_addr}: open it in a browser for the page; Ctrl-C to stop");
        let trigger = tokio::spawn(async move {
            shutdown.await;
            tracing::info!(target: "agora::up", "shutting down");
            let _ = stop.send(true);
        });
        listener::HttpServer::new(listener, api::app(state), limits).serve(wait_stop(stopped)).await;
        trigger.abort();
        if let Some(settler) = paid_tasks.pop() {
            settler.abort();
        }
        for task in paid_tasks {
            let _ = task.await;
        }
        if let Some(task) = index_task {
            task.abort();
        }
        for task in background {
            task.abort();
        }
        if let Some(devnet) = devnet {
            devnet.stop().await;
        }
        store.journal_append("node.stopped", "{}")?;
        Ok(())
    }
}

/// The worker that acts in jobs for this node, when its policy provides or validates: it sends
/// with the node key (the agent's wallet, which signs the deliveries and votes), given gas on
/// a development chain.
async fn jobs_worker(
    config: &NodeConfig,
    client: &ChainClient,
    deployment: &ChainDeployment,
    inference: &InferenceService,
    node_key: &alloy::signers::local::PrivateKeySigner,
    agent_id: Option<alloy::primitives::U256>,
) -> Result<Option<agora_jobs::Worker>> {
    let policy = config.jobs.clone();
    let Some(contracts) = agora_jobs::chain::JobContracts::of(deployment) else {
        return Ok(None);
    };
    if !policy.provide && !policy.validate {
        return Ok(None);
    }
    let wallet = ChainClient::connect(client.url(), Some(node_key.clone())).await?;
    ops::dev::fund_for_gas(&wallet, node_key.address()).await?;
    let first_block = deployment
        .contracts
        .get(agora_contracts::SuiteContract::AgenticCommerce.name())
        .map_or(0, |c| c.block_number);
    let (provide, validate) = (policy.provide, policy.validate);
    if provide {
        tracing::info!(
            target: "agora::jobs",
            min_price_per_token = policy.min_price_per_token,
            max_bond = %agora_jobs::worker::dollars(alloy::primitives::U256::from(policy.max_bond)),
            "taking jobs addressed to this node's agent"
        );
    }
    if validate {
        tracing::info!(target: "agora::jobs", audit_percent = policy.audit_percent, "auditing deliveries and sitting on the validator council");
    }
    Ok(Some(
        agora_jobs::Worker::new(
            wallet,
            contracts,
            inference.shared_engine(),
            node_key.clone(),
            agent_id,
            policy,
            first_block,
        )
        .with_funding(agora_funding::chain::FundingContracts::of(deployment)),
    ))
}

/// The decision markets' keeper: observes proposals' books during their TWAP windows and
/// finalizes them when trading ends, with the keeper key ([`node_key::keeper_key`]; given gas
/// on a development chain).
#[derive(Debug)]
struct DecisionKeeper {
    wallet: ChainClient,
    decision: alloy::primitives::Address,
    every: std::time::Duration,
}

impl DecisionKeeper {
    async fn run(self) {
        loop {
            match agora_markets::chain::keep(&self.wallet, self.decision).await {
                Ok(pass) => {
                    if !pass.observed.is_empty() {
                        tracing::debug!(target: "agora::markets", observed = ?pass.observed, "decision books observed");
                    }
                    for (id, passed) in pass.finalized {
                        let verdict = if passed { "passed: its action ran" } else { "failed" };
                        tracing::info!(target: "agora::markets", "decision {id} finalized: {verdict}");
                    }
                }
                Err(e) => tracing::warn!(target: "agora::markets", "keeper pass failed (will retry): {e}"),
            }
            tokio::time::sleep(self.every).await;
        }
    }
}

async fn decision_keeper(
    client: &ChainClient,
    deployment: &ChainDeployment,
    node_key: &alloy::signers::local::PrivateKeySigner,
    every: u64,
) -> Result<Option<DecisionKeeper>> {
    let Some(decision) = agora_markets::chain::decision_market(deployment) else {
        return Ok(None);
    };
    let key = node_key::keeper_key(node_key);
    let wallet = ChainClient::connect(client.url(), Some(key.clone())).await?;
    ops::dev::fund_for_gas(&wallet, key.address()).await?;
    tracing::info!(
        target: "agora::markets",
        every_secs = every,
        keeper = %key.address(),
        "keeping decision markets (observing TWAPs, finalizing) with the keeper key"
    );
    Ok(Some(DecisionKeeper { wallet, decision, every: std::time::Duration::from_secs(every) }))
}

/// Runs the jobs worker's passes until the node stops, logging what each did.
async fn run_jobs(worker: agora_jobs::Worker) {
    let log = |activity: &agora_jobs::Activity| {
        if matches!(activity, agora_jobs::Activity::Failed { .. }) {
            tracing::warn!(target: "agora::jobs", "{activity}");
        } else {
            tracing::info!(target: "agora::jobs", "{activity}");
        }
    };
    let _ = ops::jobs::run_worker(worker, std::future::pending(), log).await;
}

/// Sets up paid access on the bound public listener: builds the paywall, which settles with
/// the node key (the agent's wallet, which is paid). On a development chain the node key is
/// given gas when it has none ([`ops::dev::fund_for_gas`]).
async fn open_paid_access(
    config: &NodeConfig,
    listener: TcpListener,
    rpc_url: &str,
    (client, deployment): (&ChainClient, &ChainDeployment),
    store: &Arc<Store>,
    node_key: &alloy::signers::local::PrivateKeySigner,
    agent_id: Option<alloy::primitives::U256>,
) -> Result<Option<PaidAccess>> {
    let Some(mut paywall_config) =
        ops::payments::paywall_config(config, client, deployment, node_key.address()).await?
    else {
        tracing::warn!(target: "agora::up", "the suite lacks the stablecoin or channels: paid access is off");
        return Ok(None);
    };
    let addr = listener.local_addr().map_err(NodeError::Serve)?;
    let wallet = ChainClient::connect(rpc_url, Some(node_key.clone())).await?;
    // Settlement transactions are sent with the node key: on a devnet it gets gas.
    ops::dev::fund_for_gas(&wallet, node_key.address()).await?;
    paywall_config.credits =
        ops::credits::selling(config, client, deployment, agent_id, paywall_config.asset).await?;
    if let Some(credits) = &paywall_config.credits {
        for pool in &credits.pools {
            tracing::info!(
                target: "agora::up",
                pool = %pool.key.pool_id,
                calls = pool.calls,
                "selling anonymous credits (zk-credits)"
            );
        }
    }
    let paywall = agora_pay::Paywall::new(paywall_config, wallet.clone(), Arc::clone(store));
    let facilitator = agora_pay::facilitator::Facilitator::new(wallet);
    Ok(Some(PaidAccess { paywall, facilitator, listener, addr }))
}

/// How often the background indexer looks for new blocks.
const INDEX_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// The discovery indexer for the suite's registries, starting at the identity registry's
/// deployment block. On development chains registration files may be fetched from loopback.
pub fn discovery_indexer(
    client: &ChainClient,
    deployment: &ChainDeployment,
    store: Arc<Store>,
    local_devnet: bool,
) -> Option<agora_agents::Indexer> {
    use agora_contracts::SuiteContract;
    let identity = deployment.contracts.get(SuiteContract::IdentityRegistry.name())?;
    let reputation = deployment.address_of(SuiteContract::ReputationRegistry)?;
    // Registration files on loopback or private addresses are only fetched on development
    // chains: the local devnet, or a chain with a development chain id.
    let dev_chain = local_devnet || agora_chain::is_dev_chain(client.chain_id());
    let config = agora_agents::IndexerConfig { allow_private_fetch: dev_chain, ..Default::default() };
    Some(agora_agents::Indexer::new(
        client.clone(),
        store,
        identity.address,
        reputation,
        identity.block_number,
        config,
    ))
}

/// The node's agent profile from its configuration; `model` is the served model, if any. On a
/// local devnet (`local_addr` set) the node's own address stands in for a public URL, so other
/// local nodes can reach it. The paid listener, when payments are on, is where the profile says
/// its skills are sold.
pub fn agent_profile(
    config: &NodeConfig,
    model: Option<&str>,
    local_addr: Option<SocketAddr>,
) -> api::AgentState {
    let paid = config.payments.enabled.then_some(config.payments.listen);
    agent_profile_with(config, model, local_addr, paid)
}

/// [`agent_profile`] with the paid listener's bound address (`None` when paid access is off).
fn agent_profile_with(
    config: &NodeConfig,
    model: Option<&str>,
    local_addr: Option<SocketAddr>,
    paid_addr: Option<SocketAddr>,
) -> api::AgentState {
    let public_url = config
        .agent
        .public_url
        .clone()
        .or_else(|| local_addr.map(|addr| format!("http://{}", reachable(addr))));
    let paid_url = paid_addr.map(|addr| paid_base_url(addr, public_url.as_deref()));
    let profile = agora_agents::AgentProfile {
        name: config.agent.name.clone(),
        description: config.agent.description.clone(),
        public_url,
        skills: model
            .map(|m| {
                let mut skills = agora_agents::AgentProfile::inference_skills(m);
                if config.jobs.provide {
                    skills.push(agora_agents::AgentProfile::job_skill(m));
                }
                skills
            })
            .unwrap_or_default(),
        paid_url,
    };
    api::AgentState { profile, registration: None }
}

/// An address others can connect to: a wildcard listen address (`0.0.0.0`, `::`) is reached
/// on loopback from this machine.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, addr.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
}

/// The paid listener's absolute base URL. Bound to a wildcard address, it is reached under the
/// public URL's host (when there is one) on its own port.
fn paid_base_url(addr: SocketAddr, public_url: Option<&str>) -> String {
    let host = public_url
        .filter(|_| addr.ip().is_unspecified())
        .and_then(|url| url.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .map(|authority| match authority.rsplit_once(':') {
            // Drop the public URL's own port, unless the colon is inside an IPv6 literal.
            Some((host, port)) if !port.contains(']') => host.to_owned(),
            _ => authority.to_owned(),
        })
        .filter(|host| !host.is_empty());
    match host {
        Some(host) => format!("http://{host}:{}", addr.port()),
        None => format!("http://{}", reachable(addr)),
    }
}

/// Registers the node's agent, or brings its on-chain record up to date; remembers its id in
/// the store. The agent's wallet is the node key, so receipts are signed by the agent's wallet.
async fn register_agent(
    store: &Store,
    client: &ChainClient,
    deployment: &ChainDeployment,
    mut agent: api::AgentState,
    node_key: &alloy::signers::local::PrivateKeySigner,
) -> Result<api::AgentState> {
    if client.signer_address().is_none() {
        tracing::warn!(target: "agora::up", "no chain signer: the node's agent is not registered");
        return Ok(agent);
    }
    let Some(registry) = deployment.address_of(agora_contracts::SuiteContract::IdentityRegistry) else {
        return Ok(agent);
    };
    let result = agora_agents::register_remembered(client, store, registry, &agent.profile, node_key).await?;
    let action = result.action();
    tracing::info!(target: "agora::up", agent_id = %result.agent_id, wallet = %node_key.address(), "agent {action}");
    agent.registration =
        Some((result.agent_id, agora_agents::agent_registry_id(client.chain_id(), registry)));
    Ok(agent)
}
