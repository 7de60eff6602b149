//! A connection to an Ethereum JSON-RPC endpoint (HTTP or WebSocket), optionally with a signer.

use crate::{BoxError, ChainError, Result};
use alloy::{
    eips::BlockNumberOrTag,
    network::{Ethereum, EthereumWallet},
    primitives::{Address, B256},
    providers::{
        DynProvider, PendingTransactionBuilder, Provider, ProviderBuilder, RootProvider, SendableTx,
    },
    signers::local::PrivateKeySigner,
    transports::TransportResult,
};
use std::{
    collections::HashMap,
    sync::{Arc, LazyLock},
    time::Duration,
};

/// How long connecting and the first calls may take before the endpoint counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected chain: the provider, and what identifies the chain.
#[derive(Debug, Clone)]
pub struct ChainClient {
    provider: DynProvider,
    url: String,
    chain_id: u64,
    genesis_hash: B256,
    signer: Option<Address>,
}

impl ChainClient {
    /// Connects to `url` (http, https, ws or wss) and reads the chain id and genesis hash.
    /// With a signer, transactions sent through [`Self::provider`] are signed by it.
    pub async fn connect(url: &str, signer: Option<PrivateKeySigner>) -> Result<Self> {
        let shown = redact_url(url);
        let scheme_ok = ["http://", "https://", "ws://", "wss://"].iter().any(|s| url.starts_with(s));
        if !scheme_ok {
            return Err(ChainError::InvalidUrl { url: shown });
        }
        let signer_address = signer.as_ref().map(|s| s.address());
        let unreachable = |source: BoxError| ChainError::Unreachable { url: shown.clone(), source };

        let connect = async {
            let provider = match signer {
                // Nonces come from the node's pending count at each send, and the sends of one
                // key in this process are serialised (see `SerialSends`): a transaction that
                // reverts at gas estimation, or fails to send, leaves no gap behind it.
                Some(signer) => SerialSends::new(
                    signer.address(),
                    ProviderBuilder::new()
                        .disable_recommended_fillers()
                        .with_gas_estimation()
                        .with_simple_nonce_management()
                        .fetch_chain_id()
                        .wallet(EthereumWallet::from(signer))
                        .connect(url)
                        .await
                        .map_err(|e| unreachable(e.into()))?,
                )
                .erased(),
                None => {
                    ProviderBuilder::new().connect(url).await.map_err(|e| unreachable(e.into()))?.erased()
                }
            };
            let chain_id = provider.get_chain_id().await.map_err(|e| unreachable(e.into()))?;
            let genesis = provider
                .get_block_by_number(BlockNumberOrTag::Number(0))
                .await
                .map_err(|e| unreachable(e.into()))?
                .ok_or_else(|| ChainError::Rpc {
                    call: "eth_getBlockByNumber(0)",
                    url: shown.clone(),
                    source: "the node has no genesis block".into(),
                })?;
            Ok::<_, ChainError>((provider, chain_id, genesis.header.hash))
        };
        let (provider, chain_id, genesis_hash) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| unreachable(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()).into()))??;
        tracing::debug!(target: "agora::chain", url = %shown, chain_id, %genesis_hash, "connected");
        Ok(Self { provider, url: shown, chain_id, genesis_hash, signer: signer_address })
    }

    /// The provider; it signs with the configured signer, if any.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The endpoint, with any credentials removed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The chain id the endpoint reported.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Hash of block 0: tells chains with the same id apart.
    pub fn genesis_hash(&self) -> B256 {
        self.genesis_hash
    }

    /// Address of the signer, if one is configured.
    pub fn signer_address(&self) -> Option<Address> {
        self.signer
    }

    /// Timestamp of the latest block (deadlines are checked against block time, not ours).
    pub async fn latest_block_timestamp(&self) -> Result<u64> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|e| ChainError::Rpc {
                call: "eth_getBlockByNumber",
                url: self.url.clone(),
                source: e.into(),
            })?
            .ok_or_else(|| ChainError::Rpc {
                call: "eth_getBlockByNumber",
                url: self.url.clone(),
                source: "no latest block".into(),
            })?;
        Ok(block.header.timestamp)
    }

    /// How many transactions of `address` are mined, and how many the node holds besides
    /// (waiting in its pool). A queue that stays non-empty while the mined count does not move
    /// is stuck (a gap in the nonces, or a fee too low).
    pub async fn transaction_queue(&self, address: Address) -> Result<TransactionQueue> {
        let rpc = |e: alloy::transports::TransportError| ChainError::Rpc {
            call: "eth_getTransactionCount",
            url: self.url.clone(),
            source: e.into(),
        };
        let mined = self.provider.get_transaction_count(address).latest().await.map_err(rpc)?;
        let pending = self.provider.get_transaction_count(address).pending().await.map_err(rpc)?;
        Ok(TransactionQueue { mined, waiting: pending.saturating_sub(mined) })
    }

    /// The latest block number.
    pub async fn block_number(&self) -> Result<u64> {
        self.provider.get_block_number().await.map_err(|e| ChainError::Rpc {
            call: "eth_blockNumber",
            url: self.url.clone(),
            source: e.into(),
        })
    }
}

/// An account's transactions as the node sees them: see [`ChainClient::transaction_queue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionQueue {
    /// Transactions mined (the next nonce the chain expects).
    pub mined: u64,
    /// Transactions the node holds that are not mined yet.
    pub waiting: u64,
}

/// A provider whose transaction sends, for one signing key, happen one at a time in this
/// process: filling (gas estimate, nonce from the node's pending count, signature) and handing
/// the transaction to the node are one step under a per-key lock. Two senders (the settler,
/// the paywall, a command) therefore never pick the same nonce, and a send that fails before
/// the node accepts it takes no nonce with it, so later transactions never queue behind a gap.
#[derive(Debug, Clone)]
struct SerialSends<P> {
    inner: P,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl<P> SerialSends<P> {
    fn new(key: Address, inner: P) -> Self {
        static LOCKS: LazyLock<std::sync::Mutex<HashMap<Address, Arc<tokio::sync::Mutex<()>>>>> =
            LazyLock::new(Default::default);
        let lock =
            LOCKS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(key).or_default().clone();
        Self { inner, lock }
    }
}

#[async_trait::async_trait]
impl<P: Provider> Provider for SerialSends<P> {
    fn root(&self) -> &RootProvider {
        self.inner.root()
    }

    async fn send_transaction_internal(
        &self,
        tx: SendableTx<Ethereum>,
    ) -> TransportResult<PendingTransactionBuilder<Ethereum>> {
        let _turn = self.lock.lock().await;
        // Another process with the same key (a command beside the node) may take the nonce
        // between our read and our send: the node then refuses ours, and a fresh fill fixes it.
        let refillable = tx.as_builder().is_some_and(|b| b.nonce.is_none());
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.inner.send_transaction_internal(tx.clone()).await {
                Err(e) if refillable && attempt < NONCE_RETRIES && is_nonce_conflict(&e) => {
                    tracing::debug!(target: "agora::chain", "nonce taken meanwhile, sending again: {e}");
                }
                result => return result,
            }
        }
    }

    async fn send_transaction_sync_internal(
        &self,
        tx: SendableTx<Ethereum>,
    ) -> TransportResult<alloy::rpc::types::TransactionReceipt> {
        let _turn = self.lock.lock().await;
        self.inner.send_transaction_sync_internal(tx).await
    }
}

/// How often a send is filled again after its nonce was taken by another sender.
const NONCE_RETRIES: u32 = 4;

/// Whether the node refused a transaction because its nonce was used meanwhile.
fn is_nonce_conflict(e: &alloy::transports::TransportError) -> bool {
    e.as_error_resp().is_some_and(|resp| {
        let message = resp.message.to_lowercase();
        [
            "nonce too low",
            "already known",
            "replacement transaction underpriced",
            "nonce has already been used",
        ]
        .iter()
        .any(|m| message.contains(m))
    })
}

/// Removes user info, query strings and key-like path segments (API keys often live there)
/// from a URL, for display.
///
/// ```
/// use agora_chain::redact_url;
/// assert_eq!(redact_url("https://user:pass@rpc.example/v1?apikey=s3cr3t"), "https://rpc.example/v1");
/// assert_eq!(redact_url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
/// ```
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    // Path segments that look like API keys (long and alphanumeric) are hidden too.
    let path: Vec<&str> = path
        .split('/')
        .map(|seg| if seg.len() >= 20 && seg.chars().all(char::is_alphanumeric) { "***" } else { seg })
        .collect();
    let path = path.join("/");
    if scheme.is_empty() {
        host.to_owned()
    } else if path.is_empty() {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted_for_display() {
        assert_eq!(redact_url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        assert_eq!(redact_url("https://user:pw@rpc.example/v1?key=abc"), "https://rpc.example/v1");
        assert_eq!(
            redact_url("wss://eth.example/v2/abcdefghijklmnopqrstuvwxyz123456"),
            "wss://eth.example/v2/***"
        );
    }

    #[tokio::test]
    async fn unreachable_endpoint_is_a_clear_error() {
        // Bind then drop a listener: nothing listens on that port any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = ChainClient::connect(&format!("http://127.0.0.1:{port}"), None).await.unwrap_err();
        assert!(err.is_unreachable(), "{err:?}");
        assert!(err.to_string().contains("cannot reach the Ethereum RPC"), "{err}");
        let err = ChainClient::connect("ftp://example", None).await.unwrap_err();
        assert!(matches!(err, ChainError::InvalidUrl { .. }), "{err:?}");
    }
}
