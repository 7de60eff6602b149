//! Paying with anonymous credits (`zk-credits`): buy a deposit in a provider's pool, then pay
//! each call with a proof that names no one.
//!
//! The slow half of a proof depends only on the credit and the pool's root, so it is made once
//! per credit and root ([`CreditPayer::prepare`], run in the background after a purchase or at
//! start) and each call only finishes it over its own request.

use std::{collections::HashMap, sync::Arc};

use agora_chain::ChainClient;
use agora_credits::{CallProver, Credit, Held, Pool, PoolKey, Wallet};
use agora_store::Store;
use alloy::primitives::{Address, U256};
use serde_json::Value;

use super::{PaidResponse, parse_required};
use crate::{
    PayError,
    wire::{self, PaymentPayload, PaymentRequired, PaymentRequirements},
};

/// A client paying with credits from its wallet.
#[derive(Debug, Clone)]
pub struct CreditPayer {
    wallet: Wallet,
    chain: ChainClient,
    http: reqwest::Client,
    /// Readied provers by credit id; replaced when the pool's root moves out of the window.
    provers: Arc<std::sync::Mutex<HashMap<i64, Arc<CallProver>>>>,
}

/// A pool offered by a 402, read from its `zk-credits` requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedPool {
    /// The pool.
    pub key: PoolKey,
    /// Calls one deposit buys.
    pub calls: u32,
    /// Units this request costs.
    pub units: u32,
    /// The requirement itself.
    pub requirement: PaymentRequirements,
}

/// The `zk-credits` requirements of a 402.
pub fn offered_pools(required: &PaymentRequired) -> Vec<OfferedPool> {
    required
        .accepts
        .iter()
        .filter(|r| r.scheme == wire::SCHEME_CREDITS)
        .filter_map(|r| {
            let chain_id = r.network.strip_prefix("eip155:")?.parse().ok()?;
            let contract: Address = r.extra.get("contract")?.as_str()?.parse().ok()?;
            let pool_id: U256 = r.extra.get("poolId")?.as_str()?.parse().ok()?;
            Some(OfferedPool {
                key: PoolKey { chain_id, contract, pool_id },
                calls: u32::try_from(r.extra.get("calls")?.as_u64()?).ok()?,
                units: u32::try_from(r.extra.get("units")?.as_u64()?).ok()?,
                requirement: r.clone(),
            })
        })
        .collect()
}

fn url_path(url: &str) -> String {
    reqwest::Url::parse(url).map(|u| u.path().to_owned()).unwrap_or_else(|_| "/".into())
}

impl CreditPayer {
    /// A payer keeping its credits in `store`, reading pools from (and, for purchases and
    /// exits, sending with) `chain`.
    pub fn new(store: Arc<Store>, chain: ChainClient) -> Self {
        let http = super::http_client();
        Self { wallet: Wallet::new(store), chain, http, provers: Default::default() }
    }

    /// The wallet.
    pub fn wallet(&self) -> &Wallet {
        &self.wallet
    }

    /// The chain.
    pub fn chain(&self) -> &ChainClient {
        &self.chain
    }

    /// Asks `url` for its 402 and the credit pools it sells.
    pub async fn offers(&self, url: &str, body: &[u8]) -> Result<Vec<OfferedPool>, PayError> {
        let response = self.post(url, body, None).await?;
        if response.status != 402 {
            return Err(PayError::Unpayable(format!(
                "{url} answered {} without asking for payment",
                response.status
            )));
        }
        Ok(offered_pools(&parse_required(&response)?))
    }

    /// Buys one deposit in `pool` from `provider` (a URL, kept for `credits status`): the
    /// secret is saved before the deposit is sent. Then readies the credit's prover.
    pub async fn buy(&self, provider: &str, pool: &Pool) -> Result<Held, PayError> {
        let credit = Credit::generate(pool.key, pool.calls);
        let id = self.wallet.save_pending(pool, &credit, provider)?;
        match agora_credits::deposit(&self.chain, pool, &credit).await {
            Ok(index) => self.wallet.settle_deposit(id, Some(index))?,
            Err(e) => {
                self.wallet.settle_deposit(id, None)?;
                return Err(e.into());
            }
        }
        let held = self
            .wallet
            .list()?
            .into_iter()
            .find(|h| h.id == id)
            .ok_or_else(|| PayError::Unpayable("the bought credit is missing from the wallet".into()))?;
        Ok(held)
    }

    /// Readies the prover of `held` against the pool's current root (the slow, request-free
    /// half of a proof), unless one is ready.
    pub async fn prepare(&self, held: &Held) -> Result<Arc<CallProver>, PayError> {
        if let Some(p) = self.provers.lock().unwrap_or_else(|p| p.into_inner()).get(&held.id) {
            return Ok(Arc::clone(p));
        }
        let tree = agora_credits::tree(&self.chain, held.credit.key).await?;
        let credit = held.credit.clone();
        let prover = tokio::task::spawn_blocking(move || CallProver::prepare(&credit, &tree))
            .await
            .map_err(|e| PayError::Unpayable(format!("the prover stopped: {e}")))??;
        let prover = Arc::new(prover);
        self.provers.lock().unwrap_or_else(|p| p.into_inner()).insert(held.id, Arc::clone(&prover));
        Ok(prover)
    }

    /// Readies every active credit's prover in the background.
    pub fn prepare_in_background(&self) {
        let me = self.clone();
        tokio::spawn(async move {
            let Ok(held) = me.wallet.list() else { return };
            for h in held.into_iter().filter(|h| h.status == "active" && h.remaining() > 0) {
                if let Err(e) = me.prepare(&h).await {
                    tracing::debug!(target: "agora::credits", "cannot ready a credit's prover: {e}");
                }
            }
        });
    }

    /// Sends `body` to `url` (a JSON POST), paying with a credit held in one of the pools the
    /// 402 offers. Nothing sent names this client: the proof, the pool and the request.
    pub async fn send(&self, url: &str, body: Vec<u8>) -> Result<PaidResponse, PayError> {
        let first = self.post(url, &body, None).await?;
        if first.status != 402 {
            return Ok(first);
        }
        let required = parse_required(&first)?;
        let offers = offered_pools(&required);
        if offers.is_empty() {
            return Err(PayError::Unpayable(format!(
                "{url} sells no anonymous credits (no zk-credits offer)"
            )));
        }
        let signal = agora_credits::request_signal("POST", &url_path(url), &body);
        let mut last = None;
        for offer in &offers {
            let Some((held, tickets)) = self.wallet.take_tickets(&offer.key, offer.units)? else { continue };
            let mut prover = self.prepare(&held).await?;
            // A prover readied against a root the provider no longer offers is readied again.
            let fresh_roots: Vec<String> = offer
                .requirement
                .extra
                .get("roots")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            if !fresh_roots.is_empty() && !fresh_roots.contains(&agora_credits::to_hex(&prover.root())) {
                self.provers.lock().unwrap_or_else(|p| p.into_inner()).remove(&held.id);
                prover = self.prepare(&held).await?;
            }
            let proof = tokio::task::spawn_blocking(move || prover.prove(signal, &tickets))
                .await
                .map_err(|e| PayError::Unpayable(format!("the prover stopped: {e}")))??;
            let header = wire::encode_header(&PaymentPayload {
                x402_version: 2,
                resource: Some(required.resource.clone()),
                accepted: offer.requirement.clone(),
                payload: serde_json::to_value(&proof).unwrap_or_default(),
                extensions: None,
            });
            let response = self.post(url, &body, Some(header)).await?;
            if response.status == 402 {
                let refusal = parse_required(&response).ok().and_then(|r| r.error).unwrap_or_default();
                last = Some(PayError::Refused { reason: refusal, message: super::message_of(&response) });
                continue;
            }
            let settlement = response
                .headers
                .get(wire::PAYMENT_RESPONSE_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| wire::decode_header(v).ok());
            return Ok(PaidResponse { settlement, scheme: Some(wire::SCHEME_CREDITS.into()), ..response });
        }
        Err(last.unwrap_or_else(|| {
            let base = url.strip_suffix(&url_path(url)).unwrap_or(url);
            PayError::Unpayable(format!(
                "no credit with tickets left in the pools {url} sells: buy some with `agora credits buy --provider {base}`"
            ))
        }))
    }

    async fn post(&self, url: &str, body: &[u8], payment: Option<String>) -> Result<PaidResponse, PayError> {
        super::http_send(&self.http, &reqwest::Method::POST, url, Some(body.to_vec()), payment).await
    }
}
