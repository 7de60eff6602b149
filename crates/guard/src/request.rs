//! Wallet requests (JSON-RPC method + params) parsed into what the guard analyses.

use crate::{GuardError, error::RequestError};
use alloy::{
    consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable},
    dyn_abi::TypedData,
    eips::{Decodable2718, eip7702::SignedAuthorization},
    primitives::{Address, B256, Bytes, U256, hex},
};
use serde::Deserialize;
use serde_json::Value;

/// The methods that sign or send, which the guard analyses before anything is forwarded. Every
/// variant is judged like its plain counterpart: the `Sync` sends (EIP-7966) like the async
/// ones, `eth_signTransaction` and the node-side sends (`eth_sendUnsignedTransaction`,
/// `personal_sendTransaction`, `personal_signTransaction`) like `eth_sendTransaction`, and
/// `eth_signTypedData` / `_v3` like `_v4`.
pub const GUARDED_METHODS: &[&str] = &[
    "eth_sendTransaction",
    "eth_sendTransactionSync",
    "eth_signTransaction",
    "eth_sendUnsignedTransaction",
    "personal_sendTransaction",
    "personal_signTransaction",
    "eth_sendRawTransaction",
    "eth_sendRawTransactionSync",
    "wallet_sendCalls",
    "eth_signTypedData_v4",
    "eth_signTypedData_v3",
    "eth_signTypedData",
    "personal_sign",
    "eth_sign",
];

/// The methods that only read, which the proxy forwards unchanged: the read side of the Ethereum
/// JSON-RPC specification (ethereum/execution-apis), the legacy read-only `eth_`, `net_` and
/// `web3_` methods, subscriptions, the tracing reads of the `debug_` namespace, the read-only
/// `txpool_` methods, and the wallet methods that only ask (EIP-1102 accounts, EIP-5792
/// capabilities and call status). Everything that is neither here nor in [`GUARDED_METHODS`] is
/// refused: deny by default.
pub const READ_ONLY_METHODS: &[&str] = &[
    // State and execution without a signature.
    "eth_accounts",
    "eth_requestAccounts",
    "eth_blockNumber",
    "eth_call",
    "eth_chainId",
    "eth_coinbase",
    "eth_config",
    "eth_capabilities",
    "eth_createAccessList",
    "eth_estimateGas",
    "eth_fillTransaction",
    "eth_simulateV1",
    "eth_getBalance",
    "eth_getCode",
    "eth_getProof",
    "eth_getStorageAt",
    "eth_getStorageValues",
    "eth_getTransactionCount",
    // Fees.
    "eth_baseFee",
    "eth_blobBaseFee",
    "eth_feeHistory",
    "eth_gasPrice",
    "eth_maxPriorityFeePerGas",
    // Blocks, transactions, receipts.
    "eth_getBlockAccessList",
    "eth_getBlockByHash",
    "eth_getBlockByNumber",
    "eth_getBlockReceipts",
    "eth_getBlockTransactionCountByHash",
    "eth_getBlockTransactionCountByNumber",
    "eth_getTransactionByBlockHashAndIndex",
    "eth_getTransactionByBlockNumberAndIndex",
    "eth_getTransactionByHash",
    "eth_getTransactionReceipt",
    "eth_getUncleByBlockHashAndIndex",
    "eth_getUncleByBlockNumberAndIndex",
    "eth_getUncleCountByBlockHash",
    "eth_getUncleCountByBlockNumber",
    // Logs, filters, subscriptions.
    "eth_getLogs",
    "eth_newFilter",
    "eth_newBlockFilter",
    "eth_newPendingTransactionFilter",
    "eth_getFilterChanges",
    "eth_getFilterLogs",
    "eth_uninstallFilter",
    "eth_subscribe",
    "eth_unsubscribe",
    // The node itself.
    "eth_syncing",
    "eth_protocolVersion",
    "eth_mining",
    "eth_hashrate",
    "net_version",
    "net_listening",
    "net_peerCount",
    "web3_clientVersion",
    "web3_sha3",
    // Tracing and raw reads (execution-apis `debug_`), the pending pool.
    "debug_traceCall",
    "debug_traceTransaction",
    "debug_traceBlockByHash",
    "debug_traceBlockByNumber",
    "debug_getBadBlocks",
    "debug_getRawBlock",
    "debug_getRawBlockAccessList",
    "debug_getRawHeader",
    "debug_getRawReceipts",
    "debug_getRawTransaction",
    "txpool_content",
    "txpool_contentFrom",
    "txpool_inspect",
    "txpool_status",
    // Wallet methods that only ask (EIP-5792).
    "wallet_getCapabilities",
    "wallet_getCallsStatus",
];

/// How the proxy treats a JSON-RPC method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodPolicy {
    /// It only reads: forwarded unchanged.
    ReadOnly,
    /// It signs or sends: analysed first, refused when the verdict reaches the blocking level.
    Checked,
    /// Anything else: refused, never forwarded.
    Refused,
}

/// The proxy's policy for `method` (deny by default).
pub fn policy(method: &str) -> MethodPolicy {
    if GUARDED_METHODS.contains(&method) {
        MethodPolicy::Checked
    } else if READ_ONLY_METHODS.contains(&method) {
        MethodPolicy::ReadOnly
    } else {
        MethodPolicy::Refused
    }
}

/// Why the proxy refuses `method`, in words.
pub fn refusal_reason(method: &str) -> String {
    let namespace = method.split('_').next().unwrap_or_default();
    let why = match namespace {
        "anvil" | "hardhat" | "evm" | "ganache" | "tenderly" | "debug" | "admin" | "miner" | "engine"
        | "testing" => "it can change the node's state, configuration or chain",
        "personal" | "eth" if method.contains("ecrypt") || method.contains("EncryptionPublicKey") => {
            "it reveals or uses the account's keys"
        }
        "personal" | "clique" => "it manages the node's keys or consensus",
        "wallet" => "it is a wallet method the guard cannot check",
        _ if method.starts_with("eth_send") || method.contains("Bundle") => {
            "it sends something the guard cannot check"
        }
        _ => "the guard does not know what it does",
    };
    format!(
        "{method} is not on the guard's allow list of read-only methods and is not a signing method it checks: {why}"
    )
}

/// Whether the guard checks `method`.
pub fn is_guarded(method: &str) -> bool {
    policy(method) == MethodPolicy::Checked
}

/// Whether a checked `method` puts a transaction on chain (and so enters the user's history).
pub fn sends(method: &str) -> bool {
    matches!(
        method,
        "eth_sendTransaction"
            | "eth_sendTransactionSync"
            | "eth_sendUnsignedTransaction"
            | "personal_sendTransaction"
            | "eth_sendRawTransaction"
            | "eth_sendRawTransactionSync"
            | "wallet_sendCalls"
    )
}

/// The largest calldata the guard analyses (larger requests are refused, not forwarded).
pub const MAX_CALLDATA: usize = 128 * 1024;
/// The most calls a batch may hold.
pub const MAX_CALLS: usize = 64;

/// One call of a transaction or a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The callee; `None` deploys a contract.
    pub to: Option<Address>,
    /// Wei sent along.
    pub value: U256,
    /// Calldata.
    pub data: Bytes,
}

/// An EIP-7702 authorization found in a request, with the account that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// The account whose code would point at `delegate`.
    pub authority: Option<Address>,
    /// The contract the account would run.
    pub delegate: Address,
    /// The chain id the authorization is valid on (0 = every chain).
    pub chain_id: U256,
    /// The account nonce it is bound to.
    pub nonce: u64,
}

/// The price per gas a transaction offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    /// The most it pays per gas (`maxFeePerGas`, or a legacy `gasPrice`).
    pub max_fee_per_gas: u128,
    /// The most of that which goes to the block builder (`maxPriorityFeePerGas`); `None` for a
    /// legacy price, which pays the builder everything above the base fee.
    pub max_priority_fee_per_gas: Option<u128>,
}

impl Fees {
    /// Per gas, what the transaction pays in a block with `base_fee`: the base fee (burnt) plus
    /// the builder's tip, never more than the cap.
    pub fn price(&self, base_fee: u128) -> u128 {
        match self.max_priority_fee_per_gas {
            Some(tip) => self.max_fee_per_gas.min(base_fee.saturating_add(tip)),
            None => self.max_fee_per_gas,
        }
    }

    /// Per gas, what goes to the block builder in a block with `base_fee`.
    pub fn tip(&self, base_fee: u128) -> u128 {
        self.price(base_fee).saturating_sub(base_fee)
    }
}

/// What a request asks the user to do.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send one transaction or a batch of calls from `from`.
    Transactions {
        /// The sender.
        from: Address,
        /// The calls, in order.
        calls: Vec<Call>,
        /// The chain id the request names, if any.
        chain_id: Option<u64>,
        /// A signed legacy transaction without a chain id (replayable on every chain).
        unprotected: bool,
        /// EIP-7702 authorizations carried by a type-4 transaction.
        delegations: Vec<Delegation>,
        /// The gas limit the request sets.
        gas_limit: Option<u64>,
        /// The fee the request offers, when it names one (otherwise the node picks it).
        fees: Option<Fees>,
    },
    /// Sign EIP-712 typed data.
    TypedData {
        /// The signing account.
        signer: Address,
        /// The typed data.
        data: Box<TypedData>,
    },
    /// Sign a message with the EIP-191 prefix.
    PersonalSign {
        /// The signing account.
        signer: Address,
        /// The raw message bytes.
        message: Bytes,
    },
    /// Sign a raw 32-byte hash (no prefix).
    EthSign {
        /// The signing account.
        signer: Address,
        /// The hash.
        hash: B256,
    },
}

/// A request as a wallet sends it, plus where it came from.
#[derive(Debug, Clone, Deserialize)]
pub struct GuardRequest {
    /// The JSON-RPC method.
    pub method: String,
    /// Its params.
    #[serde(default)]
    pub params: Value,
    /// The origin (domain) of the page that asked, when known.
    #[serde(default)]
    pub origin: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TxJson {
    from: Option<Address>,
    to: Option<Address>,
    #[serde(default)]
    value: Option<U256>,
    #[serde(default, alias = "input")]
    data: Option<Bytes>,
    #[serde(default)]
    gas: Option<alloy::primitives::U64>,
    #[serde(default)]
    chain_id: Option<alloy::primitives::U64>,
    #[serde(default)]
    authorization_list: Vec<SignedAuthorization>,
    #[serde(default)]
    gas_price: Option<U256>,
    #[serde(default)]
    max_fee_per_gas: Option<U256>,
    #[serde(default)]
    max_priority_fee_per_gas: Option<U256>,
}

impl TxJson {
    fn fees(&self) -> Option<Fees> {
        let wei = |v: U256| u128::try_from(v).unwrap_or(u128::MAX);
        match (self.max_fee_per_gas, self.max_priority_fee_per_gas, self.gas_price) {
            (Some(max), tip, _) => {
                Some(Fees { max_fee_per_gas: wei(max), max_priority_fee_per_gas: Some(tip.map_or(0, wei)) })
            }
            // A tip without a cap: the node fills the cap in, at least the tip plus the base fee.
            (None, Some(tip), _) => {
                Some(Fees { max_fee_per_gas: u128::MAX, max_priority_fee_per_gas: Some(wei(tip)) })
            }
            (None, None, Some(price)) => {
                Some(Fees { max_fee_per_gas: wei(price), max_priority_fee_per_gas: None })
            }
            (None, None, None) => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendCalls {
    from: Option<Address>,
    #[serde(default)]
    chain_id: Option<alloy::primitives::U64>,
    calls: Vec<CallJson>,
}

#[derive(Deserialize)]
struct CallJson {
    to: Option<Address>,
    #[serde(default)]
    value: Option<U256>,
    #[serde(default)]
    data: Option<Bytes>,
}

fn bad(method: &str, why: impl std::fmt::Display) -> GuardError {
    GuardError::BadRequest(RequestError::new(format!("{method}: {why}")))
}

fn param<'a>(method: &str, params: &'a Value, index: usize) -> Result<&'a Value, GuardError> {
    params
        .as_array()
        .and_then(|p| p.get(index))
        .ok_or_else(|| bad(method, format!("params[{index}] is missing")))
}

fn address_param(method: &str, v: &Value) -> Result<Address, GuardError> {
    v.as_str()
        .ok_or_else(|| bad(method, "expected an address string"))?
        .parse()
        .map_err(|e| bad(method, format!("bad address: {e}")))
}

fn check_calls(method: &str, calls: &[Call]) -> Result<(), GuardError> {
    if calls.is_empty() {
        return Err(bad(method, "no calls"));
    }
    if calls.len() > MAX_CALLS {
        return Err(bad(method, format!("{} calls; at most {MAX_CALLS} are checked", calls.len())));
    }
    if let Some(big) = calls.iter().find(|c| c.data.len() > MAX_CALLDATA) {
        return Err(bad(
            method,
            format!("{} bytes of calldata; at most {MAX_CALLDATA} are checked", big.data.len()),
        ));
    }
    Ok(())
}

fn delegation(auth: &SignedAuthorization) -> Delegation {
    Delegation {
        authority: auth.recover_authority().ok(),
        delegate: auth.address,
        chain_id: auth.chain_id,
        nonce: auth.nonce,
    }
}

impl GuardRequest {
    /// A request for `method` with `params`.
    pub fn new(method: &str, params: Value) -> Self {
        Self { method: method.to_owned(), params, origin: None }
    }

    /// Parses the params. `default_from` names the account when a transaction leaves `from` out.
    pub fn action(&self, default_from: Option<Address>) -> Result<Action, GuardError> {
        let (m, p) = (self.method.as_str(), &self.params);
        match m {
            "eth_sendTransaction"
            | "eth_sendTransactionSync"
            | "eth_signTransaction"
            | "eth_sendUnsignedTransaction"
            | "personal_sendTransaction"
            | "personal_signTransaction" => transaction(m, p, default_from),
            "eth_sendRawTransaction" | "eth_sendRawTransactionSync" => raw_transaction(m, p),
            "wallet_sendCalls" => send_calls(m, p, default_from),
            "eth_signTypedData_v4" | "eth_signTypedData_v3" | "eth_signTypedData" => typed_data(m, p),
            "personal_sign" => personal_sign(m, p),
            "eth_sign" => eth_sign(m, p),
            other => Err(GuardError::BadRequest(RequestError::new(format!(
                "{other} is not a method the guard checks"
            )))),
        }
    }
}

/// A transaction object to send or sign.
fn transaction(m: &str, p: &Value, default_from: Option<Address>) -> Result<Action, GuardError> {
    let tx: TxJson = serde_json::from_value(param(m, p, 0)?.clone()).map_err(|e| bad(m, e))?;
    let fees = tx.fees();
    let from = tx.from.or(default_from).ok_or_else(|| bad(m, "the transaction has no `from`"))?;
    let calls =
        vec![Call { to: tx.to, value: tx.value.unwrap_or_default(), data: tx.data.unwrap_or_default() }];
    check_calls(m, &calls)?;
    Ok(Action::Transactions {
        from,
        calls,
        chain_id: tx.chain_id.map(|c| c.to()),
        unprotected: false,
        delegations: tx.authorization_list.iter().map(delegation).collect(),
        gas_limit: tx.gas.map(|g| g.to()),
        fees,
    })
}

/// A signed transaction: its signer and EIP-7702 authorities recovered.
fn raw_transaction(m: &str, p: &Value) -> Result<Action, GuardError> {
    let raw = param(m, p, 0)?.as_str().ok_or_else(|| bad(m, "expected hex bytes"))?;
    let bytes = hex::decode(raw).map_err(|e| bad(m, format!("not hex: {e}")))?;
    if bytes.len() > MAX_CALLDATA + 1024 {
        return Err(bad(
            m,
            format!("{} bytes; at most {MAX_CALLDATA} bytes of calldata are checked", bytes.len()),
        ));
    }
    let tx = TxEnvelope::decode_2718(&mut bytes.as_slice())
        .map_err(|e| bad(m, format!("not a transaction: {e}")))?;
    let from = tx.recover_signer().map_err(|e| bad(m, format!("bad signature: {e}")))?;
    let delegations = tx.authorization_list().map(|l| l.iter().map(delegation).collect()).unwrap_or_default();
    let calls = vec![Call { to: tx.to(), value: tx.value(), data: tx.input().clone() }];
    check_calls(m, &calls)?;
    Ok(Action::Transactions {
        from,
        calls,
        chain_id: tx.chain_id(),
        unprotected: tx.chain_id().is_none(),
        delegations,
        gas_limit: Some(tx.gas_limit()),
        fees: Some(Fees {
            max_fee_per_gas: tx.max_fee_per_gas(),
            max_priority_fee_per_gas: tx.max_priority_fee_per_gas(),
        }),
    })
}

/// An EIP-5792 batch.
fn send_calls(m: &str, p: &Value, default_from: Option<Address>) -> Result<Action, GuardError> {
    let req: SendCalls = serde_json::from_value(param(m, p, 0)?.clone()).map_err(|e| bad(m, e))?;
    let from = req.from.or(default_from).ok_or_else(|| bad(m, "the batch has no `from`"))?;
    let calls: Vec<Call> = req
        .calls
        .into_iter()
        .map(|c| Call { to: c.to, value: c.value.unwrap_or_default(), data: c.data.unwrap_or_default() })
        .collect();
    check_calls(m, &calls)?;
    Ok(Action::Transactions {
        from,
        calls,
        chain_id: req.chain_id.map(|c| c.to()),
        unprotected: false,
        delegations: vec![],
        gas_limit: None,
        fees: None,
    })
}

/// EIP-712 typed data (v3/v4; v1 is refused).
fn typed_data(m: &str, p: &Value) -> Result<Action, GuardError> {
    if param(m, p, 0)?.is_array() || param(m, p, 1)?.is_array() {
        return Err(bad(
            m,
            "legacy (v1) typed data is a list of values the guard cannot check; use eth_signTypedData_v4",
        ));
    }
    let signer = address_param(m, param(m, p, 0)?)?;
    let raw = param(m, p, 1)?;
    let data: TypedData = match raw {
        Value::String(s) => {
            if s.len() > MAX_CALLDATA {
                return Err(bad(m, "typed data too large"));
            }
            serde_json::from_str(s)
        }
        other => serde_json::from_value(other.clone()),
    }
    .map_err(|e| bad(m, format!("malformed typed data: {e}")))?;
    // Typed data that cannot be hashed cannot be signed: refuse it here.
    data.eip712_signing_hash().map_err(|e| bad(m, format!("typed data does not encode: {e}")))?;
    Ok(Action::TypedData { signer, data: Box::new(data) })
}

/// A `personal_sign` message, in either parameter order.
fn personal_sign(m: &str, p: &Value) -> Result<Action, GuardError> {
    // MetaMask order is [message, address]; some clients send [address, message].
    let a = param(m, p, 0)?;
    let b = param(m, p, 1)?;
    let (message, signer) = match (address_param(m, b), address_param(m, a)) {
        (Ok(signer), _) => (a, signer),
        (Err(_), Ok(signer)) => (b, signer),
        (Err(e), Err(_)) => return Err(e),
    };
    let text = message.as_str().ok_or_else(|| bad(m, "the message must be a string"))?;
    let message = if text.starts_with("0x") {
        Bytes::from(hex::decode(text).map_err(|e| bad(m, format!("bad hex message: {e}")))?)
    } else {
        Bytes::copy_from_slice(text.as_bytes())
    };
    if message.len() > MAX_CALLDATA {
        return Err(bad(m, "message too large"));
    }
    Ok(Action::PersonalSign { signer, message })
}

/// `eth_sign`: a 32-byte hash (or data, hashed).
fn eth_sign(m: &str, p: &Value) -> Result<Action, GuardError> {
    let signer = address_param(m, param(m, p, 0)?)?;
    let raw = param(m, p, 1)?.as_str().ok_or_else(|| bad(m, "expected hex data"))?;
    let bytes = hex::decode(raw).map_err(|e| bad(m, format!("not hex: {e}")))?;
    let hash =
        if bytes.len() == 32 { B256::from_slice(&bytes) } else { alloy::primitives::keccak256(&bytes) };
    Ok(Action::EthSign { signer, hash })
}

#[cfg(test)]
mod tests;
