//! A connection to an Ethereum JSON-RPC endpoint (HTTP or WebSocket), optionally with a signer.

use crate::{ChainError, Result};
use alloy::{
    eips::BlockNumberOrTag,
    network::EthereumWallet,
    primitives::{Address, B256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use std::time::Duration;

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
        let unreachable = |reason: String| ChainError::Unreachable { url: shown.clone(), reason };

        let connect = async {
            let provider = match signer {
                Some(signer) => ProviderBuilder::new()
                    .wallet(EthereumWallet::from(signer))
                    .connect(url)
                    .await
                    .map_err(|e| unreachable(e.to_string()))?
                    .erased(),
                None => ProviderBuilder::new()
                    .connect(url)
                    .await
                    .map_err(|e| unreachable(e.to_string()))?
                    .erased(),
            };
            let chain_id = provider.get_chain_id().await.map_err(|e| unreachable(e.to_string()))?;
            let genesis = provider
                .get_block_by_number(BlockNumberOrTag::Number(0))
                .await
                .map_err(|e| unreachable(e.to_string()))?
                .ok_or_else(|| ChainError::Rpc {
                    call: "eth_getBlockByNumber(0)",
                    url: shown.clone(),
                    reason: "the node has no genesis block".to_owned(),
                })?;
            Ok::<_, ChainError>((provider, chain_id, genesis.header.hash))
        };
        let (provider, chain_id, genesis_hash) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| unreachable(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs())))??;
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
                reason: e.to_string(),
            })?
            .ok_or_else(|| ChainError::Rpc {
                call: "eth_getBlockByNumber",
                url: self.url.clone(),
                reason: "no latest block".into(),
            })?;
        Ok(block.header.timestamp)
    }

    /// The latest block number.
    pub async fn block_number(&self) -> Result<u64> {
        self.provider.get_block_number().await.map_err(|e| ChainError::Rpc {
            call: "eth_blockNumber",
            url: self.url.clone(),
            reason: e.to_string(),
        })
    }
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
