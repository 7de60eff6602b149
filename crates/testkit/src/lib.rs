//! Fixtures for tests that need a real chain and a real node.
//!
//! - [`TestNet::start`]: a fresh anvil on a free loopback port with an ephemeral state, the agora
//!   contract suite deployed, and funded dev wallets (10,000 ETH from anvil and
//!   [`WALLET_STABLECOIN`] of the devnet dollar each).
//! - [`TestNode::start`]: an in-process node on port 0 using that chain.
//! - `guard_world::World::start` (feature `guard-world`): the guard's scenario contracts on a
//!   fresh chain, with a user's lists and helpers to build and check requests.
//!
//! Everything is torn down on drop: the node stops serving, anvil is terminated, temporary
//! directories are removed. anvil is taken from `PATH` or from the workspace's `.tools/bin`
//! (where `make setup` installs it).

#[cfg(feature = "guard-world")]
pub mod guard_world;

use agora_chain::{ChainClient, ChainDeployment, Devnet, DevnetConfig};
use agora_contracts::{SuiteContract, bindings::DevStablecoin};
use agora_node::{ChainTarget, Node, NodeConfig};
use alloy::{
    primitives::{Address, U256},
    signers::local::PrivateKeySigner,
};
use std::{net::SocketAddr, path::PathBuf};
use tempfile::TempDir;
use tokio::{sync::oneshot, task::JoinHandle};

/// Stablecoin each funded wallet holds: 10,000 dollars (6 decimals).
pub const WALLET_STABLECOIN: u64 = 10_000_000_000;
/// How many funded wallets a [`TestNet`] has (anvil dev accounts 1..=N; 0 is the deployer).
pub const WALLETS: usize = 5;

/// A fresh local chain with the agora suite deployed.
#[derive(Debug)]
pub struct TestNet {
    devnet: Devnet,
    deployer: ChainClient,
    deployment: ChainDeployment,
    dir: TempDir,
}

/// The default model that `make setup` installs (panics with a hint when it is missing).
pub fn default_model() -> PathBuf {
    let path =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    assert!(path.is_file(), "{} is missing: run `make setup`", path.display());
    path
}

/// The anvil that `make setup` installs, when it is there; otherwise `anvil` from `PATH`.
pub fn anvil_path() -> PathBuf {
    let installed = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.tools/bin/anvil"));
    if installed.is_file() { installed } else { PathBuf::from("anvil") }
}

impl TestNet {
    /// Starts anvil, deploys the suite and funds the wallets. Panics with a clear message when
    /// anvil is missing (run `make setup`).
    pub async fn start() -> Self {
        let config = DevnetConfig { anvil: anvil_path(), port: 0, ..DevnetConfig::default() };
        let devnet = Devnet::start(&config).await.expect("start anvil (run `make setup` if it is missing)");
        let deployer = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0))
            .await
            .expect("connect to the test chain");
        let dir = tempfile::tempdir().expect("temporary directory");
        let deployment =
            agora_chain::ensure_deployed(&deployer, &dir.path().join("deployments.json"), |_, _, _| {})
                .await
                .expect("deploy the agora suite");
        // The official x402 contracts at their canonical addresses (`upto`, `batch-settlement`).
        agora_chain::ensure_x402_contracts(&deployer).await.expect("place the x402 contracts");
        let net = Self { devnet, deployer, deployment, dir };
        let token = net.stablecoin_address();
        for i in 1..=WALLETS {
            let wallet = net.wallet(i).address();
            DevStablecoin::new(token, net.deployer.provider())
                .faucet(wallet, U256::from(WALLET_STABLECOIN))
                .send()
                .await
                .expect("send faucet transaction")
                .get_receipt()
                .await
                .expect("faucet receipt");
        }
        net
    }

    /// HTTP JSON-RPC URL of the chain.
    pub fn rpc_url(&self) -> String {
        self.devnet.rpc_url()
    }

    /// The running devnet.
    pub fn devnet(&self) -> &Devnet {
        &self.devnet
    }

    /// A client signing as the deployer (dev account 0).
    pub fn deployer(&self) -> &ChainClient {
        &self.deployer
    }

    /// The suite's addresses.
    pub fn deployment(&self) -> &ChainDeployment {
        &self.deployment
    }

    /// Path of the deployments file the suite was recorded in.
    pub fn deployments_path(&self) -> PathBuf {
        self.dir.path().join("deployments.json")
    }

    /// Address of the devnet stablecoin.
    pub fn stablecoin_address(&self) -> Address {
        self.deployment.address_of(SuiteContract::DevStablecoin).expect("stablecoin deployed")
    }

    /// Funded wallet `i` (1..=[`WALLETS`]).
    pub fn wallet(&self, i: usize) -> PrivateKeySigner {
        assert!((1..=WALLETS).contains(&i), "wallets are numbered 1..={WALLETS}");
        self.devnet.dev_signer(i).expect("anvil has dev accounts")
    }

    /// Mints `amount` devnet dollars (atomic units) to `to`, sent from the last funded wallet
    /// ([`WALLETS`]): a test that uses this helper must not run a node signing as that wallet.
    pub async fn faucet(&self, to: Address, amount: u64) {
        let minter = self.client_for(WALLETS).await;
        DevStablecoin::new(self.stablecoin_address(), minter.provider())
            .faucet(to, U256::from(amount))
            .send()
            .await
            .expect("send faucet transaction")
            .get_receipt()
            .await
            .expect("faucet receipt");
    }

    /// A client signing as wallet `i`.
    pub async fn client_for(&self, i: usize) -> ChainClient {
        ChainClient::connect(&self.rpc_url(), Some(self.wallet(i))).await.expect("connect as wallet")
    }
}

/// An agora node serving in process on a free port, on a [`TestNet`]'s chain.
#[derive(Debug)]
pub struct TestNode {
    api_addr: SocketAddr,
    paid_addr: Option<SocketAddr>,
    node_address: Address,
    deployment: ChainDeployment,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<agora_node::Result<()>>>,
    config: NodeConfig,
    dir: TempDir,
}

impl TestNode {
    /// Starts a node with a fresh data directory and no model; it reuses the net's deployment.
    pub async fn start(net: &TestNet) -> Self {
        Self::start_with_model(net, None).await
    }

    /// Like [`TestNode::start`], serving `model` (e.g. [`default_model`]) for inference.
    pub async fn start_with_model(net: &TestNet, model: Option<PathBuf>) -> Self {
        Self::start_with(net, model, 0, |_| {}).await
    }

    /// Like [`TestNode::start_with_model`], with the chain signer set to dev account `signer`
    /// and the configuration adjusted by `tweak` before the node starts.
    pub async fn start_with(
        net: &TestNet,
        model: Option<PathBuf>,
        signer: usize,
        tweak: impl FnOnce(&mut NodeConfig),
    ) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::copy(net.deployments_path(), dir.path().join(agora_chain::DEPLOYMENTS_FILE))
            .expect("copy deployments");
        let key = net.devnet.dev_signer(signer).expect("a dev account");
        // A fixed port, so the agent's registration can name the node's own URL.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let config = NodeConfig {
            data_dir: dir.path().to_path_buf(),
            api_listen: SocketAddr::from(([127, 0, 0, 1], port)),
            api: Default::default(),
            chain: ChainTarget::Rpc { url: net.rpc_url() },
            signer: Some(agora_chain::SignerSource::PrivateKey(agora_chain::Secret::new(
                alloy::hex::encode_prefixed(key.to_bytes()),
            ))),
            config_file: None,
            inference: agora_node::InferenceConfig {
                explicit: model.is_some(),
                model,
                threads: 2,
                queue: 4,
                batch: 4,
                models: Vec::new(),
                memory_budget: 4 << 30,
                max_context: None,
                log_prompts: false,
            },
            agent: agora_node::AgentConfig {
                register: true,
                name: "test node".into(),
                description: "an agora node under test".into(),
                public_url: Some(format!("http://127.0.0.1:{port}")),
            },
            payments: agora_node::PaymentsConfig {
                enabled: true,
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                price_per_token: 10,
                max_per_request: 20_000,
                min_withdraw_delay: 900,
                claim_threshold: 1_000_000,
                settle_interval: 1,
                credit_calls: 100,
                credit_unit_tokens: 512,
                credit_stake: 1_000_000,
                credit_exit_delay: 86_400,
            },
            guard: Default::default(),
            jobs: Default::default(),
            markets: Default::default(),
            router: Default::default(),
        };
        let mut config = config;
        tweak(&mut config);
        let node = Node::start(config.clone()).await.expect("start the node");
        let api_addr = node.api_addr();
        let paid_addr = node.paid_addr();
        let node_address = node.node_address();
        let deployment = node.deployment().expect("the node has a chain").clone();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(node.run_until(async move {
            let _ = rx.await;
        }));
        Self {
            api_addr,
            paid_addr,
            node_address,
            deployment,
            shutdown: Some(tx),
            task: Some(task),
            config,
            dir,
        }
    }

    /// Where the public paid listener listens (paid access is on in tests).
    pub fn paid_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.paid_addr.expect("paid access is on"))
    }

    /// The node key's address: the agent's wallet, which is paid.
    pub fn node_address(&self) -> Address {
        self.node_address
    }

    /// Where the node's API listens.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api_addr)
    }

    /// The suite the node uses.
    pub fn deployment(&self) -> &ChainDeployment {
        &self.deployment
    }

    /// The configuration the node runs with (for `agora_node::ops` calls beside it).
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The node's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Stops the node and waits until it has shut down cleanly. Returns the data directory,
    /// which is removed when the returned value is dropped.
    pub async fn stop(mut self) -> agora_node::Result<TempDir> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("node task did not panic")?;
        }
        let placeholder = tempfile::tempdir().expect("temporary directory");
        Ok(std::mem::replace(&mut self.dir, placeholder))
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
