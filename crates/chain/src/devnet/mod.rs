//! A local Ethereum devnet: anvil as a child process bound to loopback.
//!
//! The chain's state is kept in `<state_dir>/state.json`: anvil loads it at start, dumps it
//! every few seconds and on exit, so a restart continues the same chain. Historical state is
//! kept for the last 256 blocks, in memory only. anvil is stopped with
//! SIGTERM (so it dumps its state) when the [`Devnet`] is stopped or dropped, and it receives
//! SIGTERM from the kernel if the process that started it dies, even by SIGKILL.
//!
//! # One genesis for the life of the chain
//!
//! anvil builds a fresh genesis block at every start, stamped with the current time, before it
//! loads the saved state; the saved state then holds one block 0 per start, and which of them
//! answers `eth_getBlockByNumber(0)` after the next load is up to a hash map's order. A chain
//! that is identified by its genesis hash would so become "another chain" after a few restarts.
//! The devnet therefore fixes its genesis: the first start records the genesis timestamp in
//! `<state_dir>/genesis.json` and every start passes it to anvil (`--timestamp`), so the block 0
//! anvil builds is the same block each time. `--timestamp` also winds anvil's clock back to that
//! moment, so once anvil answers the clock is set forward again (`evm_setTime`) to the later of
//! now and the last block, and interval mining (`--block-time`) starts only after that. A state
//! directory written before `genesis.json` existed is repaired once: the genesis is the block 0
//! that block 1 names as its parent, and the other block 0s are dropped from `state.json`.

mod genesis;
mod process;
mod rpc;

use crate::{
    ChainError, Result,
    error::{BoxError, context},
};
use alloy::{primitives::B256, signers::local::PrivateKeySigner};
use genesis::genesis_record;
use process::{die_with_parent, find_anvil, free_port, make_private, tempdir, terminate};
use rpc::{rpc_answers, rpc_call};
use serde::Deserialize;
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};
use tokio::process::{Child, Command};

/// Chain id of the local devnet, the one anvil and hardhat use.
pub const DEVNET_CHAIN_ID: u64 = 31337;
/// Chain id hardhat and older ganache use for their local chains.
pub const HARDHAT_CHAIN_ID: u64 = 1337;

/// Whether `chain_id` is a local development chain (anvil's 31337, hardhat's 1337): one where
/// dev keys may be funded with `anvil_setBalance` and the dev token's faucet exists. Every
/// "is this a devnet?" question in the node asks this.
pub const fn is_dev_chain(chain_id: u64) -> bool {
    matches!(chain_id, DEVNET_CHAIN_ID | HARDHAT_CHAIN_ID)
}

/// Default devnet port, the usual one for a local Ethereum node.
pub const DEVNET_PORT: u16 = 8545;
/// How often anvil writes its state to disk while running.
const STATE_INTERVAL_SECS: u64 = 5;
/// Block states anvil keeps for historical queries (`eth_call` at an old block).
const HISTORY_STATES: u64 = 256;
/// How long anvil may take to answer after it is spawned.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long anvil may take to dump its state and exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The file that fixes the devnet's genesis, beside `state.json`.
const GENESIS_FILE: &str = "genesis.json";
/// anvil's saved state.
const STATE_FILE: &str = "state.json";

/// What devnet to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevnetConfig {
    /// The anvil binary: a path, or a name looked up on `PATH` and in `./.tools/bin`.
    pub anvil: PathBuf,
    /// Address to bind; loopback unless deliberately changed.
    pub host: IpAddr,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Chain id.
    pub chain_id: u64,
    /// Where anvil keeps its state and log. `None` runs an ephemeral chain (tests).
    pub state_dir: Option<PathBuf>,
    /// Seconds between blocks; `None` mines a block per transaction.
    pub block_time: Option<u64>,
}

impl Default for DevnetConfig {
    fn default() -> Self {
        Self {
            anvil: PathBuf::from("anvil"),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEVNET_PORT,
            chain_id: DEVNET_CHAIN_ID,
            state_dir: None,
            block_time: None,
        }
    }
}

/// A running anvil.
#[derive(Debug)]
pub struct Devnet {
    child: Option<Child>,
    addr: SocketAddr,
    chain_id: u64,
    dev_keys: Vec<B256>,
    log_path: PathBuf,
    _scratch: Option<tempdir::ScratchDir>,
}

/// anvil's `--config-out` file: the dev accounts' keys.
#[derive(Deserialize)]
struct AnvilConfigOut {
    private_keys: Vec<B256>,
}

/// Dev account `index`'s key of the devnet whose state lives in `state_dir`, as anvil wrote it
/// when it started there: how a second process beside a running node signs as the node's
/// devnet signer without starting anvil itself.
pub fn recorded_dev_signer(state_dir: &Path, index: usize) -> Option<PrivateKeySigner> {
    let bytes = std::fs::read(state_dir.join("accounts.json")).ok()?;
    let out: AnvilConfigOut = serde_json::from_slice(&bytes).ok()?;
    out.private_keys.get(index).and_then(|key| PrivateKeySigner::from_bytes(key).ok())
}

impl Devnet {
    /// Starts anvil and waits until it answers JSON-RPC.
    pub async fn start(config: &DevnetConfig) -> Result<Self> {
        let anvil = find_anvil(&config.anvil)?;
        let port = if config.port == 0 { free_port(config.host)? } else { config.port };
        let addr = SocketAddr::new(config.host, port);
        // Probe the port first: anvil's own message for this is buried in its log.
        drop(TcpListener::bind(addr).map_err(|_| ChainError::PortInUse { addr: addr.to_string() })?);

        let (dir, scratch) = match &config.state_dir {
            Some(dir) => {
                make_private(dir).map_err(|e| ChainError::DevnetStart {
                    source: context(format!("cannot create {}", dir.display()), e),
                    hint: String::new(),
                })?;
                (dir.clone(), None)
            }
            None => {
                let scratch = tempdir::ScratchDir::new().map_err(|e| ChainError::DevnetStart {
                    source: context("cannot create a scratch directory", e),
                    hint: String::new(),
                })?;
                (scratch.path().to_path_buf(), Some(scratch))
            }
        };
        let genesis = match &config.state_dir {
            Some(dir) => Some(genesis_record(dir)?),
            None => None,
        };
        let log_path = dir.join("anvil.log");
        let accounts_path = dir.join("accounts.json");
        let log = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&log_path)
        }
        .map_err(|e| ChainError::DevnetStart {
            source: context(format!("cannot write {}", log_path.display()), e),
            hint: String::new(),
        })?;
        let log_err =
            log.try_clone().map_err(|e| ChainError::DevnetStart { source: e.into(), hint: String::new() })?;

        let mut cmd = Command::new(&anvil);
        cmd.arg("--host")
            .arg(config.host.to_string())
            .arg("--port")
            .arg(port.to_string())
            .arg("--chain-id")
            .arg(config.chain_id.to_string())
            .arg("--config-out")
            .arg(&accounts_path)
            // Without a bound anvil spills old block states to ~/.foundry/anvil/tmp, which grows
            // without limit on a long-running devnet (tens of GB under load). Keep the last
            // states in memory only; older blocks stay readable, their state does not.
            .arg("--prune-history")
            .arg(HISTORY_STATES.to_string())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        if let Some(genesis) = genesis {
            cmd.arg("--state").arg(dir.join(STATE_FILE));
            cmd.arg("--state-interval").arg(STATE_INTERVAL_SECS.to_string());
            cmd.arg("--timestamp").arg(genesis.timestamp.to_string());
        } else if let Some(secs) = config.block_time {
            cmd.arg("--block-time").arg(secs.to_string());
        }
        die_with_parent(&mut cmd);
        let child = cmd.spawn().map_err(|e| ChainError::DevnetStart {
            source: context(format!("cannot run {}", anvil.display()), e),
            hint: String::new(),
        })?;

        let mut devnet = Self {
            child: Some(child),
            addr,
            chain_id: config.chain_id,
            dev_keys: Vec::new(),
            log_path,
            _scratch: scratch,
        };
        devnet.wait_ready(&accounts_path, config.state_dir.as_deref()).await?;
        if genesis.is_some() {
            // The clock was wound back to the genesis by `--timestamp`: set it to now (or to the
            // last block, if the system clock is behind it), then start interval mining.
            devnet.resume_clock(config.block_time).await?;
        }
        tracing::debug!(target: "agora::devnet", %addr, pid = devnet.pid(), "anvil is up");
        Ok(devnet)
    }

    async fn wait_ready(&mut self, accounts_path: &Path, state_dir: Option<&Path>) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                let hint = match state_dir {
                    Some(dir) => format!(
                        "; if {} is damaged, move it aside (the chain then starts empty)",
                        dir.join("state.json").display()
                    ),
                    None => String::new(),
                };
                return Err(ChainError::DevnetStart {
                    source: format!("anvil exited with {status}: {}", self.log_tail()).into(),
                    hint,
                });
            }
            if rpc_answers(self.addr).await
                && let Ok(bytes) = std::fs::read(accounts_path)
                && let Ok(out) = serde_json::from_slice::<AnvilConfigOut>(&bytes)
            {
                self.dev_keys = out.private_keys;
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop_blocking();
                return Err(ChainError::DevnetStart {
                    source: format!(
                        "no answer on {} within {}s: {}",
                        self.addr,
                        START_TIMEOUT.as_secs(),
                        self.log_tail()
                    )
                    .into(),
                    hint: String::new(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn resume_clock(&mut self, block_time: Option<u64>) -> Result<()> {
        let fail = |call: &'static str, source: BoxError| ChainError::DevnetStart {
            source: context(format!("{call} failed after start"), source),
            hint: String::new(),
        };
        let latest = rpc_call(self.addr, "eth_getBlockByNumber", serde_json::json!(["latest", false]))
            .await
            .map_err(|e| fail("eth_getBlockByNumber", e))?;
        let last = latest
            .get("timestamp")
            .and_then(serde_json::Value::as_str)
            .and_then(|t| u64::from_str_radix(t.trim_start_matches("0x"), 16).ok())
            .ok_or_else(|| fail("eth_getBlockByNumber", format!("no timestamp in {latest}").into()))?;
        let now = (agora_store::now_ms() / 1000) as u64;
        rpc_call(self.addr, "evm_setTime", serde_json::json!([now.max(last)]))
            .await
            .map_err(|e| fail("evm_setTime", e))?;
        if let Some(secs) = block_time {
            rpc_call(self.addr, "evm_setIntervalMining", serde_json::json!([secs]))
                .await
                .map_err(|e| fail("evm_setIntervalMining", e))?;
        }
        Ok(())
    }

    /// HTTP JSON-RPC URL.
    pub fn rpc_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// WebSocket JSON-RPC URL.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The address anvil listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// anvil's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// anvil's prefunded dev accounts (10,000 ETH each); index 0 deploys the suite.
    pub fn dev_signer(&self, index: usize) -> Option<PrivateKeySigner> {
        self.dev_keys.get(index).and_then(|key| PrivateKeySigner::from_bytes(key).ok())
    }

    /// How many dev accounts there are.
    pub fn dev_account_count(&self) -> usize {
        self.dev_keys.len()
    }

    /// Stops anvil with SIGTERM, so it dumps its state, and waits for it to exit.
    pub async fn stop(mut self) {
        let Some(mut child) = self.child.take() else { return };
        terminate(&child);
        match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
            Ok(_) => tracing::debug!(target: "agora::devnet", "anvil stopped"),
            Err(_) => {
                tracing::warn!(target: "agora::devnet", "anvil did not stop in time; killing it");
                let _ = child.kill().await;
            }
        }
    }

    fn stop_blocking(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        terminate(&child);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.start_kill();
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
        if tail.is_empty() { format!("see {}", self.log_path.display()) } else { tail }
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        self.stop_blocking();
    }
}
