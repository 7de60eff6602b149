//! Simulation: run a list of calls on top of the node's current state and report what each did.
//!
//! Two simulators answer the same [`SimRequest`]:
//! - [`Simulator::Revm`] runs the EVM in process over state read lazily from the node
//!   (`eth_getBalance`, `eth_getCode`, `eth_getStorageAt`): the node learns which accounts and
//!   slots were touched, never the calldata or the signature.
//! - [`Simulator::Node`] asks the node itself (`eth_simulateV1` with `traceTransfers`, plus
//!   `debug_traceCall` with the call tracer for delegatecall and selfdestruct frames).
//!
//! A test runs both on the same scenarios and requires the same facts.

use crate::GuardError;
use alloy::{
    eips::BlockId,
    network::Ethereum,
    primitives::{Address, B256, Bytes, Log as AlloyLog, LogData, U256, address},
    providers::{DynProvider, Provider},
};
use revm::{
    Context, ExecuteCommitEvm, InspectEvm, Inspector, MainBuilder, MainContext,
    context::{BlockEnv, ContextTr, TxEnv},
    database::{AlloyDB, CacheDB},
    database_interface::{DatabaseRef, async_db::DatabaseAsyncRef},
    interpreter::{CallInputs, CallOutcome, CallScheme, CallValue, CreateInputs, CreateOutcome},
    primitives::{TxKind, hardfork::SpecId},
    state::{AccountInfo, Bytecode},
};
use serde_json::{Value, json};
use std::time::Duration;

/// Where `traceTransfers` reports native transfers from, as ERC-20-style logs.
pub const NATIVE_TRANSFER_LOGGER: Address = address!("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE");
/// The gas each simulated call may use (below the EIP-7825 per-transaction cap).
pub const CALL_GAS: u64 = 16_000_000;

/// The block a simulation runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimEnv {
    /// Chain id.
    pub chain_id: u64,
    /// The block whose state the simulation starts from.
    pub state_block: u64,
    /// Block number seen by the calls.
    pub number: u64,
    /// Timestamp seen by the calls.
    pub timestamp: u64,
    /// Base fee.
    pub basefee: u64,
    /// Gas price of each call.
    pub gas_price: u128,
    /// Block beneficiary.
    pub coinbase: Address,
}

/// One call to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCall {
    /// The sender (never needs a signature in a simulation).
    pub from: Address,
    /// The callee; `None` creates a contract.
    pub to: Option<Address>,
    /// Wei sent.
    pub value: U256,
    /// Calldata.
    pub data: Bytes,
    /// Whether to record its call frames (the user's own calls).
    pub trace: bool,
}

impl SimCall {
    /// A call that is not traced (reads and follow-ups).
    pub fn new(from: Address, to: Address, data: Bytes) -> Self {
        Self { from, to: Some(to), value: U256::ZERO, data, trace: false }
    }
}

/// What to simulate.
#[derive(Debug, Clone, Default)]
pub struct SimRequest {
    /// The calls, in order; each sees the state the previous ones left.
    pub calls: Vec<SimCall>,
    /// Code to put at an address before the first call (EIP-7702 designators).
    pub code: Vec<(Address, Bytes)>,
    /// Balances to set before the first call (for strangers paying in follow-ups).
    pub balances: Vec<(Address, U256)>,
}

/// The kind of a call frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameKind {
    /// CALL (or a top-level call).
    Call,
    /// DELEGATECALL or CALLCODE.
    DelegateCall,
    /// CREATE or CREATE2.
    Create,
    /// SELFDESTRUCT moving the balance to a beneficiary.
    SelfDestruct,
}

/// A frame that moved value or ran foreign code in the caller's context.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    /// What kind of frame.
    pub kind: FrameKind,
    /// The account whose context made the call.
    pub from: Address,
    /// The callee (the code address for a delegatecall, the beneficiary for a selfdestruct).
    pub to: Address,
    /// Wei moved (zero for a delegatecall).
    pub value: U256,
}

/// What one call did.
#[derive(Debug, Clone, Default)]
pub struct CallResult {
    /// Whether it succeeded.
    pub success: bool,
    /// Return data (or revert data).
    pub output: Bytes,
    /// Gas used.
    pub gas_used: u64,
    /// Logs emitted (empty when it failed).
    pub logs: Vec<AlloyLog>,
    /// Value-moving, delegatecall and selfdestruct frames that took effect (traced calls only,
    /// but every native transfer is reported).
    pub frames: Vec<Frame>,
    /// Writes to the watched storage slots ([`WATCHED_SLOTS`]) that changed their value (traced
    /// calls only): contract, slot, new value.
    pub slots: Vec<(Address, B256, B256)>,
}

/// Storage slots whose changes are facts of their own: the EIP-1967 implementation, admin and
/// beacon slots.
pub const WATCHED_SLOTS: [B256; 3] = [
    alloy::primitives::b256!("0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc"),
    alloy::primitives::b256!("0xb53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103"),
    alloy::primitives::b256!("0xa3f0ad74e5423aebfd80d3ef4346578335a9a72aeaee59ff6cb3582b35133d50"),
];

/// Which simulator to use.
#[derive(Debug, Clone)]
pub enum Simulator {
    /// The EVM in process over the node's state.
    Revm(DynProvider),
    /// The node's own `eth_simulateV1` and `debug_traceCall`.
    Node(DynProvider),
}

impl Simulator {
    /// `revm` or `node`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Revm(_) => "revm",
            Self::Node(_) => "node",
        }
    }

    /// Runs the calls in `env` and reports each.
    pub async fn simulate(&self, env: SimEnv, req: &SimRequest) -> Result<Vec<CallResult>, GuardError> {
        match self {
            Self::Revm(provider) => {
                let provider = provider.clone();
                let req = req.clone();
                let handle = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || revm_simulate(provider, handle, env, &req))
                    .await
                    .map_err(|e| GuardError::simulation("the simulator task", e))?
            }
            Self::Node(provider) => node_simulate(provider, env, req).await,
        }
    }
}

// --- in process -----------------------------------------------------------------------------

/// State read from the node over JSON-RPC, one account or slot at a time.
struct RpcState {
    db: AlloyDB<Ethereum, DynProvider>,
    handle: tokio::runtime::Handle,
}

impl RpcState {
    fn wait<T, E: std::error::Error + Send + Sync + 'static>(
        &self,
        fut: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, RpcStateError> {
        let timed = tokio::time::timeout(Duration::from_secs(10), fut);
        match self.handle.block_on(timed) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(RpcStateError::Transport(Box::new(e))),
            Err(_) => Err(RpcStateError::Timeout),
        }
    }
}

/// Reading state from the node failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcStateError {
    /// The node answered with an error.
    #[error("reading state from the node")]
    Transport(#[source] crate::BoxError),
    /// The node did not answer within 10 s.
    #[error("reading state from the node: no answer within 10 s")]
    Timeout,
}

impl revm::database_interface::DBErrorMarker for RpcStateError {}

impl DatabaseRef for RpcState {
    type Error = RpcStateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        self.wait(self.db.basic_async_ref(address))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.wait(self.db.code_by_hash_async_ref(code_hash))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        self.wait(self.db.storage_async_ref(address, index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.wait(self.db.block_hash_async_ref(number))
    }
}

/// Records value transfers, delegatecalls and selfdestructs, dropping those a revert undid.
#[derive(Debug, Default)]
struct Recorder {
    frames: Vec<(Frame, bool)>,
    /// Index into `frames` where each open call's own frames start.
    open: Vec<usize>,
}

impl Recorder {
    fn close(&mut self, ok: bool) {
        if let Some(start) = self.open.pop()
            && !ok
        {
            for (_, live) in &mut self.frames[start..] {
                *live = false;
            }
        }
    }

    fn into_frames(self) -> Vec<Frame> {
        self.frames.into_iter().filter(|(_, live)| *live).map(|(f, _)| f).collect()
    }
}

impl<CTX: ContextTr> Inspector<CTX> for Recorder {
    fn call(&mut self, _context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        self.open.push(self.frames.len());
        match (inputs.scheme, inputs.value.clone()) {
            (CallScheme::DelegateCall | CallScheme::CallCode, _) => self.frames.push((
                Frame {
                    kind: FrameKind::DelegateCall,
                    from: inputs.target_address,
                    to: inputs.bytecode_address,
                    value: U256::ZERO,
                },
                true,
            )),
            (CallScheme::Call, CallValue::Transfer(value)) if !value.is_zero() => self.frames.push((
                Frame { kind: FrameKind::Call, from: inputs.caller, to: inputs.target_address, value },
                true,
            )),
            _ => {}
        }
        None
    }

    fn call_end(&mut self, _context: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        self.close(outcome.result.result.is_ok());
    }

    fn create(&mut self, _context: &mut CTX, _inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        self.open.push(self.frames.len());
        None
    }

    fn create_end(&mut self, _context: &mut CTX, inputs: &CreateInputs, outcome: &mut CreateOutcome) {
        let ok = outcome.result.result.is_ok();
        if ok && let Some(created) = outcome.address {
            let start = self.open.last().copied().unwrap_or(0);
            self.frames.insert(
                start,
                (
                    Frame {
                        kind: FrameKind::Create,
                        from: inputs.caller(),
                        to: created,
                        value: inputs.value(),
                    },
                    true,
                ),
            );
        }
        self.close(ok);
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, value: U256) {
        self.frames.push((Frame { kind: FrameKind::SelfDestruct, from: contract, to: target, value }, true));
    }
}

fn revm_simulate(
    provider: DynProvider,
    handle: tokio::runtime::Handle,
    env: SimEnv,
    req: &SimRequest,
) -> Result<Vec<CallResult>, GuardError> {
    let state = RpcState { db: AlloyDB::new(provider, BlockId::number(env.state_block)), handle };
    let mut db = CacheDB::new(state);
    for (who, code) in &req.code {
        let mut info = revm::database_interface::Database::basic(&mut db, *who)?.unwrap_or_default();
        let bytecode = Bytecode::new_raw_checked(code.clone())
            .map_err(|e| GuardError::simulation("a code override", e))?;
        info.code_hash = bytecode.hash_slow();
        info.code = Some(bytecode);
        db.insert_account_info(*who, info);
    }
    for (who, balance) in &req.balances {
        let mut info = revm::database_interface::Database::basic(&mut db, *who)?.unwrap_or_default();
        info.balance = *balance;
        db.insert_account_info(*who, info);
    }
    let mut evm = Context::mainnet()
        .with_db(db)
        .modify_cfg_chained(|cfg| {
            cfg.spec = SpecId::PRAGUE;
            cfg.chain_id = env.chain_id;
            cfg.disable_nonce_check = true;
            cfg.disable_balance_check = true;
            cfg.disable_fee_charge = true;
            cfg.disable_block_gas_limit = true;
            cfg.disable_eip3607 = true;
        })
        .modify_block_chained(|block: &mut BlockEnv| {
            block.number = U256::from(env.number);
            block.timestamp = U256::from(env.timestamp);
            block.basefee = env.basefee;
            block.beneficiary = env.coinbase;
            block.gas_limit = 60_000_000;
            block.prevrandao = Some(B256::ZERO);
        })
        .build_mainnet_with_inspector(Recorder::default());
    let mut out = Vec::with_capacity(req.calls.len());
    for call in &req.calls {
        let tx = TxEnv::builder()
            .caller(call.from)
            .kind(call.to.map_or(TxKind::Create, TxKind::Call))
            .value(call.value)
            .data(call.data.clone())
            .gas_limit(CALL_GAS)
            .gas_price(env.gas_price)
            .chain_id(Some(env.chain_id))
            .build()
            .map_err(|e| GuardError::simulation("building the call", format!("{e:?}")))?;
        evm.inspector = Recorder::default();
        let done = evm.inspect_tx(tx).map_err(|e| GuardError::simulation("running the call", e))?;
        let (result, state) = (done.result, done.state);
        let mut slots = Vec::new();
        if call.trace {
            for (address, account) in &state {
                for (key, slot) in &account.storage {
                    let key = B256::from(*key);
                    if WATCHED_SLOTS.contains(&key) && slot.original_value != slot.present_value {
                        slots.push((*address, key, B256::from(slot.present_value)));
                    }
                }
            }
            slots.sort();
        }
        evm.commit(state);
        let recorder = std::mem::take(&mut evm.inspector);
        let success = result.is_success();
        let gas_used = result.tx_gas_used();
        let (logs, output) = match result {
            revm::context::result::ExecutionResult::Success { logs, output, .. } => {
                (logs, output.into_data())
            }
            revm::context::result::ExecutionResult::Revert { output, .. } => (vec![], output),
            revm::context::result::ExecutionResult::Halt { .. } => (vec![], Bytes::new()),
        };
        let frames = recorder.into_frames();
        let frames = if call.trace {
            frames
        } else {
            frames
                .into_iter()
                .filter(|f| f.kind != FrameKind::DelegateCall)
                .map(|f| Frame { kind: FrameKind::Call, ..f })
                .collect()
        };
        out.push(CallResult {
            success,
            output,
            gas_used,
            logs: logs.into_iter().map(|l| AlloyLog { address: l.address, data: l.data }).collect(),
            frames,
            slots: if success { slots } else { vec![] },
        });
    }
    Ok(out)
}

mod node;
use node::node_simulate;
