//! Anonymous credits as operations: the pool this node sells (ensured at start-up), and the
//! buyer's side: buying a deposit from a provider, its status, paying calls, and the exit that
//! takes the stake back to a fresh address.

use crate::{NodeConfig, NodeError, Result};
use agora_chain::{ChainClient, ChainDeployment};
use agora_contracts::SuiteContract;
use agora_credits::{Held, Pool};
use agora_pay::{CreditPayer, CreditsConfig};
use agora_store::Store;
use alloy::{
    primitives::{Address, U256},
    signers::local::PrivateKeySigner,
};
use std::sync::Arc;

fn fail<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    step: &'static str,
) -> impl FnOnce(E) -> NodeError {
    move |e| NodeError::payments(step)(e.into())
}

/// The pool this node sells calls from, created on first start by `owner`, the chain client
/// whose key owns the node's agent (the pool's payee: the calls' price is credited to it).
/// `None` when the suite has no credits contract, the agent is not registered, or credits are
/// off (`payments.credit_calls = 0`).
pub async fn selling(
    config: &NodeConfig,
    owner: &ChainClient,
    deployment: &ChainDeployment,
    agent_id: Option<U256>,
    token: Address,
) -> Result<Option<CreditsConfig>> {
    let p = &config.payments;
    let (Some(contract), Some(agent_id)) = (deployment.address_of(SuiteContract::ZkCredits), agent_id) else {
        return Ok(None);
    };
    if p.credit_calls == 0 {
        return Ok(None);
    }
    let Some(payee) = owner.signer_address() else {
        tracing::warn!(target: "agora::credits", "no chain signer owns the agent: no credits are sold");
        return Ok(None);
    };
    let unit_price = U256::from(p.price_per_token) * U256::from(p.credit_unit_tokens);
    let wanted = |pool: &Pool| {
        pool.payee == payee
            && pool.token == token
            && pool.unit_price == unit_price
            && pool.calls == p.credit_calls
            && pool.stake == U256::from(p.credit_stake)
            && pool.exit_delay == p.credit_exit_delay
    };
    let existing = agora_credits::pools(owner, contract, Some(agent_id))
        .await
        .map_err(fail("reading the credit pools"))?;
    let pool = match existing.into_iter().find(wanted) {
        Some(pool) => pool,
        None => {
            let pool = agora_credits::create_pool(
                owner,
                contract,
                agent_id,
                token,
                unit_price,
                p.credit_calls,
                U256::from(p.credit_stake),
                p.credit_exit_delay,
            )
            .await
            .map_err(fail("creating the credit pool"))?;
            tracing::info!(target: "agora::credits", pool = %pool.key.pool_id, calls = pool.calls, "credit pool created");
            pool
        }
    };
    Ok(Some(CreditsConfig { pools: vec![pool], unit_tokens: p.credit_unit_tokens }))
}

/// The buyer's credit payer: the data directory's store and a chain client with the node key
/// (deposits are sent from it; calls send nothing on chain).
pub async fn payer(config: &NodeConfig) -> Result<CreditPayer> {
    let store = Arc::new(Store::open_in(&config.data_dir)?);
    let chain = super::payments::wallet_client(config).await?;
    Ok(CreditPayer::new(store, chain))
}

/// What a purchase did.
#[derive(Debug, Clone)]
pub struct Bought {
    /// The credit.
    pub held: Held,
    /// What the deposit paid (price and stake, atomic units).
    pub paid: U256,
}

/// Buys one deposit of `calls` calls (any size when `None`) from the provider at `url` (its
/// base URL; the pools are read from its chat route's 402).
pub async fn buy(config: &NodeConfig, url: &str, calls: Option<u32>) -> Result<Bought> {
    let payer = payer(config).await?;
    let route = chat_route(url);
    let probe = serde_json::json!({ "model": "default", "messages": [{ "role": "user", "content": "?" }], "max_tokens": 1 });
    let offers = payer
        .offers(&route, probe.to_string().as_bytes())
        .await
        .map_err(fail("asking the provider for its pools"))?;
    let offer = offers.iter().find(|o| calls.is_none_or(|n| o.calls == n)).ok_or_else(|| {
        let sizes: Vec<String> = offers.iter().map(|o| o.calls.to_string()).collect();
        NodeError::Missing(if sizes.is_empty() {
            format!("{url} sells no anonymous credits")
        } else {
            format!(
                "{url} sells credits in deposits of {} calls, not {}",
                sizes.join(", "),
                calls.unwrap_or(0)
            )
        })
    })?;
    if offer.key.chain_id != payer.chain().chain_id() {
        return Err(NodeError::Missing(format!(
            "{url} sells credits on chain {}, but this node is on chain {}",
            offer.key.chain_id,
            payer.chain().chain_id()
        )));
    }
    let pool = agora_credits::pool(payer.chain(), offer.key).await.map_err(fail("reading the pool"))?;
    let address = payer.chain().signer_address().unwrap_or_default();
    super::dev::fund_for_gas(payer.chain(), address).await?;
    let held = payer.buy(url, &pool).await.map_err(fail("buying credits"))?;
    payer.prepare(&held).await.map_err(fail("readying the credit's prover"))?;
    Ok(Bought { paid: pool.deposit_amount(), held })
}

/// The buyer's credits, newest first.
pub fn status(config: &NodeConfig) -> Result<Vec<Held>> {
    let store = Arc::new(Store::open_in(&config.data_dir)?);
    Ok(agora_credits::Wallet::new(store).list()?)
}

/// The chat route of a provider base URL.
pub fn chat_route(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1/chat/completions") {
        base.to_owned()
    } else {
        format!("{base}/v1/chat/completions")
    }
}

/// What an exit step did for one credit.
#[derive(Debug, Clone)]
pub struct ExitStep {
    /// The credit.
    pub held: Held,
    /// `requested` (payable at `at`), `paid`, `waiting` (not due yet) or `slashed`.
    pub step: &'static str,
    /// Where the stake goes.
    pub to: Address,
    /// When the exit may be paid (unix seconds).
    pub at: u64,
}

/// Exits every active credit (or the one with `id`): proves membership without naming the
/// leaf, to `to` or a fresh address whose key is written to the data directory; completes
/// exits whose delay has passed. On a development chain the fresh address is given gas and
/// sends the transactions itself, so the node key never touches the exit.
pub async fn exit(config: &NodeConfig, id: Option<i64>, to: Option<Address>) -> Result<Vec<ExitStep>> {
    let payer = payer(config).await?;
    let mut steps = Vec::new();
    for held in payer.wallet().list()? {
        if id.is_some_and(|i| i != held.id) || !matches!(held.status.as_str(), "active" | "exiting") {
            continue;
        }
        let key = held.credit.key;
        let nullifier = agora_credits::to_u256(&held.credit.exit_nullifier());
        if held.status == "exiting" {
            let (receiver, at, state) = agora_credits::exit_state(payer.chain(), key, nullifier)
                .await
                .map_err(fail("reading the exit"))?;
            let now = payer.chain().latest_block_timestamp().await?;
            let step = match state {
                2 => "paid",
                3 => "slashed",
                1 if now >= at => {
                    agora_credits::complete_exit(payer.chain(), key, nullifier)
                        .await
                        .map_err(fail("completing the exit"))?;
                    "paid"
                }
                _ => "waiting",
            };
            if step != "waiting" {
                payer.wallet().set_status(held.id, if step == "paid" { "exited" } else { "slashed" })?;
            }
            steps.push(ExitStep { held, step, to: receiver, at });
            continue;
        }
        let (receiver, sender) = match to {
            Some(to) => (to, payer.chain().clone()),
            None => {
                let fresh = PrivateKeySigner::random();
                save_exit_key(config, held.id, &fresh)?;
                let address = fresh.address();
                let sender = if agora_chain::is_dev_chain(payer.chain().chain_id()) {
                    let client = ChainClient::connect(payer.chain().url(), Some(fresh)).await?;
                    super::dev::fund_for_gas(&client, address).await?;
                    client
                } else {
                    payer.chain().clone()
                };
                (address, sender)
            }
        };
        let tree = agora_credits::exit_tree(payer.chain(), key).await.map_err(fail("reading the pool"))?;
        let credit = held.credit.clone();
        let proof = tokio::task::spawn_blocking(move || agora_credits::prove_exit(&credit, &tree, receiver))
            .await
            .map_err(fail("proving the exit"))?
            .map_err(fail("proving the exit"))?;
        agora_credits::request_exit(&sender, key, &proof, receiver)
            .await
            .map_err(fail("requesting the exit"))?;
        let (_, at, _) = agora_credits::exit_state(payer.chain(), key, nullifier)
            .await
            .map_err(fail("reading the exit"))?;
        payer.wallet().exiting(held.id, receiver, at)?;
        steps.push(ExitStep { held, step: "requested", to: receiver, at });
    }
    Ok(steps)
}

/// Keeps a fresh exit key in `credits/exit-<id>.key` (0600, in a 0700 directory).
fn save_exit_key(config: &NodeConfig, id: i64, key: &PrivateKeySigner) -> Result<()> {
    let dir = config.data_dir.join("credits");
    std::fs::create_dir_all(&dir).map_err(fail("creating the credits directory"))?;
    agora_store::private_dir(&dir).map_err(fail("narrowing the credits directory"))?;
    let path = dir.join(format!("exit-{id}.key"));
    agora_store::write_atomically(&path, alloy::hex::encode_prefixed(key.to_bytes()).as_bytes())
        .map_err(fail("saving the exit key"))?;
    agora_store::private_file(&path).map_err(fail("narrowing the exit key file"))?;
    Ok(())
}
