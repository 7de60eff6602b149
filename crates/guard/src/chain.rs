//! Reads from the user's node: code, token metadata, contract age, the head block.

use crate::{GuardError, sim::SimEnv};
use agora_store::Store;
use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    sol,
    sol_types::SolCall,
};
use std::{collections::HashMap, sync::Mutex, time::Duration};

sol! {
    /// What the guard reads from tokens and calls in follow-ups.
    interface IToken {
        function balanceOf(address owner) external view returns (uint256);
        function allowance(address owner, address spender) external view returns (uint256);
        function symbol() external view returns (string);
        function name() external view returns (string);
        function decimals() external view returns (uint8);
        function transferFrom(address from, address to, uint256 amount) external returns (bool);
        function approve(address spender, uint256 amount) external returns (bool);
        function safeTransferFrom(address from, address to, uint256 tokenId) external;
        function nonces(address owner) external view returns (uint256);
    }

    /// Permit2's allowance transfer entry points.
    interface IPermit2 {
        function approve(address token, address spender, uint160 amount, uint48 expiration) external;
        function transferFrom(address from, address to, uint160 amount, address token) external;
    }

    /// The batch entry point of most EIP-7702 delegates.
    interface IBatch {
        struct Call { address target; uint256 value; bytes data; }
        function execute(Call[] calls) external payable;
    }
}

/// The head block, as the guard sees it.
#[derive(Debug, Clone, Copy)]
pub struct Head {
    /// Chain id.
    pub chain_id: u64,
    /// Block number.
    pub number: u64,
    /// Timestamp.
    pub timestamp: u64,
    /// Base fee.
    pub basefee: u64,
    /// Beneficiary.
    pub coinbase: Address,
}

/// A stand-in beneficiary for chains whose blocks name none (a zero coinbase is a tell-tale sign
/// of a simulation that contracts can test for).
const STAND_IN_COINBASE: Address = alloy::primitives::address!("0x95222290DD7278Aa3Ddd389Cc1E1d165CC4BAfe5");

impl Head {
    /// The next block as a real one would look: non-zero base fee, gas price and coinbase, 12 s on.
    pub fn realistic(&self) -> SimEnv {
        let basefee = self.basefee.max(1_000_000_000);
        SimEnv {
            chain_id: self.chain_id,
            state_block: self.number,
            number: self.number + 1,
            timestamp: self.timestamp + 12,
            basefee,
            gas_price: u128::from(basefee) + 1_000_000_000,
            coinbase: if self.coinbase.is_zero() { STAND_IN_COINBASE } else { self.coinbase },
        }
    }

    /// The environment of a naive simulation: zero fees and coinbase, the head's own block.
    pub fn naive(&self) -> SimEnv {
        SimEnv {
            chain_id: self.chain_id,
            state_block: self.number,
            number: self.number,
            timestamp: self.timestamp,
            basefee: 0,
            gas_price: 0,
            coinbase: Address::ZERO,
        }
    }
}

/// Token metadata (read from the token; the strings are untrusted).
#[derive(Debug, Clone, Default)]
pub struct TokenMeta {
    /// Symbol, as the contract claims it.
    pub symbol: String,
    /// Name, as the contract claims it.
    pub name: String,
    /// Decimals (`None` for NFTs and contracts without the function).
    pub decimals: Option<u8>,
}

/// Cached reads from the user's node.
#[derive(Debug)]
pub struct ChainView {
    provider: DynProvider,
    code: Mutex<HashMap<Address, Bytes>>,
    meta: Mutex<HashMap<Address, TokenMeta>>,
}

async fn timed<T>(
    what: &str,
    fut: impl std::future::IntoFuture<Output = Result<T, alloy::transports::TransportError>>,
) -> Result<T, GuardError> {
    match tokio::time::timeout(Duration::from_secs(10), fut.into_future()).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(GuardError::upstream(what, source)),
        Err(_) => Err(GuardError::Timeout {
            what: format!("the node's answer to {what}"),
            after: Duration::from_secs(10),
        }),
    }
}

impl ChainView {
    /// Reads through `provider`.
    pub fn new(provider: DynProvider) -> Self {
        Self { provider, code: Mutex::default(), meta: Mutex::default() }
    }

    /// The provider.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The chain id and the head block.
    pub async fn head(&self) -> Result<Head, GuardError> {
        let chain_id = timed("eth_chainId", self.provider.get_chain_id()).await?;
        let block =
            timed("eth_getBlockByNumber", self.provider.get_block_by_number(BlockNumberOrTag::Latest))
                .await?
                .ok_or_else(|| GuardError::UpstreamAnswer {
                    what: "the node has no latest block".into(),
                    source: None,
                })?;
        Ok(Head {
            chain_id,
            number: block.header.number,
            timestamp: block.header.timestamp,
            basefee: block.header.base_fee_per_gas.unwrap_or(0),
            coinbase: block.header.beneficiary,
        })
    }

    /// The code at `address` now.
    pub async fn code(&self, address: Address) -> Result<Bytes, GuardError> {
        if let Some(code) = self.code.lock().map_err(|_| GuardError::Poisoned)?.get(&address) {
            return Ok(code.clone());
        }
        let code = timed("eth_getCode", self.provider.get_code_at(address)).await?;
        self.code.lock().map_err(|_| GuardError::Poisoned)?.insert(address, code.clone());
        Ok(code)
    }

    /// What kind of account `address` is.
    pub async fn account(&self, address: Address) -> Result<AccountKind, GuardError> {
        let code = self.code(address).await?;
        Ok(if code.is_empty() {
            AccountKind::Eoa
        } else if code.len() == 23 && code.starts_with(&[0xef, 0x01, 0x00]) {
            AccountKind::Delegated(Address::from_slice(&code[3..]))
        } else {
            AccountKind::Contract
        })
    }

    /// `eth_call` returning raw bytes (`None` when it reverts).
    pub async fn call(&self, to: Address, data: Vec<u8>) -> Option<Bytes> {
        let tx = TransactionRequest::default().to(to).input(data.into());
        tokio::time::timeout(Duration::from_secs(10), self.provider.call(tx)).await.ok()?.ok()
    }

    /// Symbol, name and decimals of a token (cached).
    pub async fn token(&self, token: Address) -> TokenMeta {
        if let Some(meta) = self.meta.lock().ok().and_then(|m| m.get(&token).cloned()) {
            return meta;
        }
        let symbol = self
            .call(token, IToken::symbolCall {}.abi_encode())
            .await
            .and_then(|b| IToken::symbolCall::abi_decode_returns(&b).ok());
        let name = self
            .call(token, IToken::nameCall {}.abi_encode())
            .await
            .and_then(|b| IToken::nameCall::abi_decode_returns(&b).ok());
        let decimals = self
            .call(token, IToken::decimalsCall {}.abi_encode())
            .await
            .and_then(|b| IToken::decimalsCall::abi_decode_returns(&b).ok());
        let clean = |s: Option<String>| {
            s.unwrap_or_default().chars().filter(|c| !c.is_control()).take(32).collect::<String>()
        };
        let meta = TokenMeta { symbol: clean(symbol), name: clean(name), decimals };
        if let Ok(mut cache) = self.meta.lock() {
            cache.insert(token, meta.clone());
        }
        meta
    }

    /// An ERC-20 balance now.
    pub async fn balance_of(&self, token: Address, owner: Address) -> U256 {
        self.call(token, IToken::balanceOfCall { owner }.abi_encode())
            .await
            .and_then(|b| IToken::balanceOfCall::abi_decode_returns(&b).ok())
            .unwrap_or_default()
    }

    /// How many seconds ago `address` first had code, found by a binary search over the chain's
    /// history (cached in the store). `None` when the node keeps no history for it.
    pub async fn contract_age(
        &self,
        store: Option<&Store>,
        head: &Head,
        address: Address,
    ) -> Result<Option<u64>, GuardError> {
        let key = address.to_checksum(None);
        if let Some(store) = store {
            let cached = store.read(|c| {
                c.query_row(
                    "SELECT first_time FROM guard_code_age WHERE chain_id = ?1 AND address = ?2",
                    agora_store::rusqlite::params![head.chain_id as i64, key],
                    |r| r.get::<_, i64>(0),
                )
                .map(Some)
                .or_else(|e| {
                    if e == agora_store::rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) }
                })
            })?;
            if let Some(first) = cached {
                return Ok(Some(head.timestamp.saturating_sub(first as u64)));
            }
        }
        let has_code = |n: u64| {
            let p = self.provider.clone();
            async move { p.get_code_at(address).number(n).await.map(|c| !c.is_empty()) }
        };
        let (mut lo, mut hi) = (0u64, head.number);
        match timed("eth_getCode", has_code(0)).await {
            Ok(true) => lo = 0,
            Ok(false) => {
                // Invariant: no code at lo, code at hi.
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    match timed("eth_getCode", has_code(mid)).await {
                        Ok(true) => hi = mid,
                        Ok(false) => lo = mid,
                        // The node keeps no state that old (pruned history): age unknown.
                        Err(_) => return Ok(None),
                    }
                }
                lo = hi;
            }
            Err(_) => return Ok(None),
        }
        let Ok(Some(block)) =
            timed("eth_getBlockByNumber", self.provider.get_block_by_number(BlockNumberOrTag::Number(lo)))
                .await
        else {
            return Ok(None);
        };
        let first = block.header.timestamp;
        if let Some(store) = store {
            store
                .write(|tx| {
                    tx.execute(
                        "INSERT OR REPLACE INTO guard_code_age (chain_id, address, first_block, first_time) VALUES (?1, ?2, ?3, ?4)",
                        agora_store::rusqlite::params![head.chain_id as i64, key, lo as i64, first as i64],
                    )
                })
                ?;
        }
        Ok(Some(head.timestamp.saturating_sub(first)))
    }
}

/// What kind of account an address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    /// No code: a key holder.
    Eoa,
    /// An EOA whose code points at a delegate (EIP-7702).
    Delegated(Address),
    /// A contract.
    Contract,
}

impl AccountKind {
    /// Whether a private key controls it.
    pub fn is_eoa(self) -> bool {
        !matches!(self, Self::Contract)
    }
}

/// `amount` of a token with `decimals`, in decimal notation with the symbol.
pub fn fmt_amount(amount: U256, decimals: Option<u8>, symbol: &str) -> String {
    let symbol = if symbol.is_empty() { "tokens" } else { symbol };
    if amount >= U256::from(1u8) << 255 {
        return format!("an unlimited amount of {symbol}");
    }
    let Some(d) = decimals else { return format!("{amount} {symbol}") };
    let scale = U256::from(10u8).pow(U256::from(d));
    let whole = amount / scale;
    let frac = amount % scale;
    if frac.is_zero() {
        format!("{whole} {symbol}")
    } else {
        let frac = format!("{:0>width$}", frac.to_string(), width = d as usize);
        format!("{whole}.{} {symbol}", frac.trim_end_matches('0'))
    }
}

/// Wei in ETH.
pub fn fmt_eth(wei: U256) -> String {
    fmt_amount(wei, Some(18), "ETH")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_shown_in_units() {
        assert_eq!(fmt_amount(U256::from(1_500_000u64), Some(6), "USDC"), "1.5 USDC");
        assert_eq!(
            fmt_amount(U256::from(1000u64) * U256::from(10u64).pow(U256::from(18)), Some(18), "MOCK"),
            "1000 MOCK"
        );
        assert_eq!(fmt_amount(U256::MAX, Some(18), "MOCK"), "an unlimited amount of MOCK");
        assert_eq!(fmt_amount(U256::from(3u8), None, ""), "3 tokens");
        assert_eq!(fmt_eth(U256::from(10u64).pow(U256::from(17))), "0.1 ETH");
    }
}
