//! `ZkCredits.sol` on chain: pools, their trees rebuilt from deposit events, deposits, slashes
//! and exits.

use agora_chain::ChainClient;
use agora_contracts::SendCall;
use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};

use crate::{Credit, Error, ExitProof, Fr, PoolKey, PoolTree, from_u256, to_u256};

alloy::sol! {
    #[sol(rpc)]
    #[allow(missing_docs, clippy::too_many_arguments)]
    interface IZkCredits {
        event PoolCreated(uint256 indexed poolId, uint256 indexed agentId, address payee, address token, uint256 unitPrice, uint32 calls, uint256 stake, uint64 exitDelay);
        event Deposited(uint256 indexed poolId, uint256 index, uint256 leaf, uint256 root, uint256 exitLeaf, uint256 exitRoot);
        function createPool(uint256 agentId, address token, uint256 unitPrice, uint32 calls, uint256 stake, uint64 exitDelay) external returns (uint256 poolId);
        function deposit(uint256 poolId, uint256 idCommitment) external returns (uint256 index);
        function withdrawEarnings(uint256 poolId, address to) external;
        function recentRoots(uint256 poolId) external view returns (uint256[] memory);
        function recentExitRoots(uint256 poolId) external view returns (uint256[] memory);
        function commitSlash(bytes32 commitment) external;
        function slash(uint256 poolId, uint256 secret, address receiver) external;
        function requestExit(uint256 poolId, uint256 root, uint256 nullifier, uint256 y, address receiver, uint256[8] calldata proof) external;
        function completeExit(uint256 poolId, uint256 nullifier) external;
        function exits(uint256 poolId, uint256 nullifier) external view returns (address receiver, uint64 releaseAt, uint8 state);
    }
}

alloy::sol! {
    #[sol(rpc)]
    #[allow(missing_docs)]
    interface IErc20Approve {
        function approve(address spender, uint256 amount) external returns (bool);
    }
}

/// A pool's terms, as its creation event states them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pool {
    /// Chain, contract and pool number.
    pub key: PoolKey,
    /// The ERC-8004 agent selling the calls.
    pub agent_id: U256,
    /// Who is paid.
    pub payee: Address,
    /// The token deposits are paid in.
    pub token: Address,
    /// The price of one unit (one call of the smallest class).
    pub unit_price: U256,
    /// Units one deposit buys.
    pub calls: u32,
    /// The stake each deposit locks beside the price (slashed on a double-spend).
    pub stake: U256,
    /// Seconds between an exit's request and its payment (a window to slash a cheater).
    pub exit_delay: u64,
}

impl Pool {
    /// What one deposit pays: the calls' price and the stake.
    pub fn deposit_amount(&self) -> U256 {
        self.unit_price * U256::from(self.calls) + self.stake
    }
}

fn chain_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Chain(format!("{what}: {e}"))
}

fn revert_error(what: &str, e: &alloy::contract::Error) -> Error {
    Error::Chain(format!("{what}: {}", agora_contracts::explain_call_error(e)))
}

/// Every pool of `contract` (optionally of one agent), oldest first.
pub async fn pools(
    chain: &ChainClient,
    contract: Address,
    agent_id: Option<U256>,
) -> Result<Vec<Pool>, Error> {
    let mut filter = Filter::new()
        .address(contract)
        .event_signature(IZkCredits::PoolCreated::SIGNATURE_HASH)
        .from_block(0);
    if let Some(agent) = agent_id {
        filter = filter.topic2(B256::from(agent));
    }
    let logs =
        chain.provider().get_logs(&filter).await.map_err(|e| chain_error("reading the credit pools", e))?;
    let mut out = Vec::new();
    for log in logs {
        let Ok(event) = IZkCredits::PoolCreated::decode_log(&log.inner) else { continue };
        out.push(Pool {
            key: PoolKey { chain_id: chain.chain_id(), contract, pool_id: event.poolId },
            agent_id: event.agentId,
            payee: event.payee,
            token: event.token,
            unit_price: event.unitPrice,
            calls: event.calls,
            stake: event.stake,
            exit_delay: event.exitDelay,
        });
    }
    Ok(out)
}

/// One pool by number.
pub async fn pool(chain: &ChainClient, key: PoolKey) -> Result<Pool, Error> {
    pools(chain, key.contract, None)
        .await?
        .into_iter()
        .find(|p| p.key.pool_id == key.pool_id)
        .ok_or_else(|| Error::Chain(format!("pool {} does not exist in {}", key.pool_id, key.contract)))
}

/// Creates a pool for `agent_id` (the chain client's key must own the agent).
#[allow(clippy::too_many_arguments)] // the contract's own parameters, in its order
pub async fn create_pool(
    chain: &ChainClient,
    contract: Address,
    agent_id: U256,
    token: Address,
    unit_price: U256,
    calls: u32,
    stake: U256,
    exit_delay: u64,
) -> Result<Pool, Error> {
    let c = IZkCredits::new(contract, chain.provider());
    let receipt = c
        .createPool(agent_id, token, unit_price, calls, stake, exit_delay)
        .sent("creating the credit pool")
        .await
        .map_err(Error::Chain)?;
    let event = receipt
        .logs()
        .iter()
        .find_map(|l| IZkCredits::PoolCreated::decode_log(&l.inner).ok())
        .ok_or_else(|| Error::Chain("the pool creation emitted no PoolCreated".into()))?;
    pool(chain, PoolKey { chain_id: chain.chain_id(), contract, pool_id: event.poolId }).await
}

/// The pool's two trees, rebuilt from its deposit events and checked against the contract's
/// roots: the calls tree (leaves `Poseidon(idCommitment, N)`, what call proofs are made against)
/// and the exit tree (leaves `Poseidon(idCommitment, 1)`, what exit proofs are made against).
pub async fn trees(chain: &ChainClient, key: PoolKey) -> Result<(PoolTree, PoolTree), Error> {
    let filter = Filter::new()
        .address(key.contract)
        .event_signature(IZkCredits::Deposited::SIGNATURE_HASH)
        .topic1(B256::from(key.pool_id))
        .from_block(0);
    let logs = chain
        .provider()
        .get_logs(&filter)
        .await
        .map_err(|e| chain_error("reading the pool's deposits", e))?;
    let (mut calls, mut exits) = (PoolTree::new(), PoolTree::new());
    let mut last_roots = None;
    for log in logs {
        let Ok(event) = IZkCredits::Deposited::decode_log(&log.inner) else { continue };
        if event.index != U256::from(calls.len()) {
            return Err(Error::Tree(format!(
                "deposit {} arrived out of order (expected {})",
                event.index,
                calls.len()
            )));
        }
        let field = |v: U256| from_u256(v).ok_or_else(|| Error::Tree("a leaf outside the field".into()));
        calls.push(field(event.leaf)?)?;
        exits.push(field(event.exitLeaf)?)?;
        last_roots = Some((event.root, event.exitRoot));
    }
    if let Some((root, exit_root)) = last_roots
        && (to_u256(&calls.root()) != root || to_u256(&exits.root()) != exit_root)
    {
        return Err(Error::Tree("a rebuilt tree's root differs from the contract's".into()));
    }
    Ok((calls, exits))
}

/// The pool's calls tree (see [`trees`]).
pub async fn tree(chain: &ChainClient, key: PoolKey) -> Result<PoolTree, Error> {
    Ok(trees(chain, key).await?.0)
}

/// The pool's exit tree (see [`trees`]).
pub async fn exit_tree(chain: &ChainClient, key: PoolKey) -> Result<PoolTree, Error> {
    Ok(trees(chain, key).await?.1)
}

/// The pool's recent roots (newest first): the proofs a provider accepts.
pub async fn recent_roots(chain: &ChainClient, key: PoolKey) -> Result<Vec<Fr>, Error> {
    let roots = IZkCredits::new(key.contract, chain.provider())
        .recentRoots(key.pool_id)
        .call()
        .await
        .map_err(|e| revert_error("reading the pool's roots", &e))?;
    Ok(roots.into_iter().filter_map(from_u256).collect())
}

/// Deposits `credit` (approving the token first): returns the leaf's index.
pub async fn deposit(chain: &ChainClient, pool: &Pool, credit: &Credit) -> Result<usize, Error> {
    let amount = pool.deposit_amount();
    IErc20Approve::new(pool.token, chain.provider())
        .approve(pool.key.contract, amount)
        .sent("approving the deposit")
        .await
        .map_err(Error::Chain)?;
    let receipt = IZkCredits::new(pool.key.contract, chain.provider())
        .deposit(pool.key.pool_id, to_u256(&credit.id_commitment()))
        .sent("depositing")
        .await
        .map_err(Error::Chain)?;
    let event = receipt
        .logs()
        .iter()
        .find_map(|l| IZkCredits::Deposited::decode_log(&l.inner).ok())
        .ok_or_else(|| Error::Chain("the deposit emitted no Deposited".into()))?;
    usize::try_from(event.index).map_err(|_| Error::Chain("leaf index out of range".into()))
}

/// Slashes the member whose secret is `secret` (recovered from a double-spend), paying the
/// stake to `receiver`: a commitment first, the secret in a later block, so nobody who sees the
/// secret in the mempool can take the reward.
pub async fn slash(chain: &ChainClient, key: PoolKey, secret: Fr, receiver: Address) -> Result<B256, Error> {
    let sender = chain.signer_address().ok_or_else(|| Error::Chain("slashing needs a signing key".into()))?;
    let c = IZkCredits::new(key.contract, chain.provider());
    let commitment = alloy::primitives::keccak256(crate::field::encode_words(&[
        key.pool_id,
        to_u256(&secret),
        crate::field::address_word(receiver),
        crate::field::address_word(sender),
    ]));
    c.commitSlash(commitment).sent("committing the slash").await.map_err(Error::Chain)?;
    let receipt =
        c.slash(key.pool_id, to_u256(&secret), receiver).sent("slashing").await.map_err(Error::Chain)?;
    Ok(receipt.transaction_hash)
}

/// Requests the exit of a member with `proof` (anyone may send it: the stake goes to the
/// receiver the proof names).
pub async fn request_exit(
    chain: &ChainClient,
    key: PoolKey,
    exit: &ExitProof,
    receiver: Address,
) -> Result<B256, Error> {
    let receipt = IZkCredits::new(key.contract, chain.provider())
        .requestExit(key.pool_id, exit.root, exit.nullifier, exit.y, receiver, exit.proof)
        .sent("requesting the exit")
        .await
        .map_err(Error::Chain)?;
    Ok(receipt.transaction_hash)
}

/// An exit as the contract holds it: the receiver, when it may be paid, and its state
/// (0 none, 1 pending, 2 paid, 3 cancelled).
pub async fn exit_state(
    chain: &ChainClient,
    key: PoolKey,
    nullifier: U256,
) -> Result<(Address, u64, u8), Error> {
    let r = IZkCredits::new(key.contract, chain.provider())
        .exits(key.pool_id, nullifier)
        .call()
        .await
        .map_err(|e| revert_error("reading the exit", &e))?;
    Ok((r.receiver, r.releaseAt, r.state))
}

/// Pays a pending exit whose delay has passed.
pub async fn complete_exit(chain: &ChainClient, key: PoolKey, nullifier: U256) -> Result<B256, Error> {
    let receipt = IZkCredits::new(key.contract, chain.provider())
        .completeExit(key.pool_id, nullifier)
        .sent("completing the exit")
        .await
        .map_err(Error::Chain)?;
    Ok(receipt.transaction_hash)
}
