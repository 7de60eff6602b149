//! `agora bench pay`: what x402 payments cost. On a fresh devnet it measures
//!
//! 1. provider throughput for voucher-paid calls on a trivial priced route over HTTP with
//!    keep-alive (each voucher verified and durably recorded before the response), against the
//!    same route unpaid;
//! 2. voucher verification alone, per core;
//! 3. gas per paid call: `exact` (one EIP-3009 transfer each) against x402 `batch-settlement`
//!    channels claimed every 10, 100 and 1,000 calls, one channel per claim transaction or 50,
//!    each claim followed by one `settle` to the receiver.
//!
//! The load generator runs in the same process as the server, on the same cores.

use crate::error::{BenchError, BoxError, Fallible, Result, run_error};
use agora_chain::{ChainClient, Devnet};
use agora_contracts::{SuiteContract, bindings::DevStablecoin};
use agora_pay::{
    Paywall, PaywallConfig,
    paywall::{FixedPrice, fixed_price},
    typed::{self, Authorization, ChannelConfigJson},
    wire::{self, PaymentPayload},
    x402::{self, IBatchSettlement},
};
use alloy::{
    primitives::{B256, U256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use serde::Serialize;
use std::{fmt, sync::Arc, time::Instant};

const PRICE: u128 = 1_000;

/// What to measure.
#[derive(Debug, Clone)]
pub struct PayConfig {
    /// Paid calls in the throughput run (spread over the channels).
    pub calls: usize,
    /// Channels (one client connection each) in the throughput run.
    pub channels: usize,
}

impl PayConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<()> {
        if self.channels < 51 {
            return Err(BenchError::Config(
                "--channels must be at least 51 (the gas figures claim 50 channels in one transaction)",
            ));
        }
        if self.calls == 0 {
            return Err(BenchError::Config("--calls must be at least 1"));
        }
        Ok(())
    }
}

/// Gas of channel claims, per paid call.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimGas {
    /// Calls paid by one claim of a channel.
    pub calls_per_claim: u64,
    /// Channels claimed in one transaction.
    pub channels_per_tx: u64,
    /// Gas of the claim transaction.
    pub claim_gas: u64,
    /// Gas per paid call (the claim and one settlement to the receiver, shared by its calls).
    pub gas_per_call: f64,
    /// Gas per paid call as a percentage of an `exact` payment's.
    pub percent_of_exact: f64,
}

/// Gas figures.
#[derive(Debug, Clone, Serialize)]
pub struct PayGas {
    /// One `exact` payment (an EIP-3009 transfer).
    pub exact_per_call: u64,
    /// Opening a channel by EIP-3009 deposit.
    pub open_channel: u64,
    /// Claiming one channel in a transaction.
    pub claim_one_channel: u64,
    /// Claiming fifty channels in one transaction.
    pub claim_fifty_channels: u64,
    /// Moving what was claimed to the receiver (`settle`, once per claim).
    pub settle: u64,
    /// Per-call gas of channels at several claim cadences.
    pub channel: Vec<ClaimGas>,
}

/// The report of `agora bench pay`.
#[derive(Debug, Clone, Serialize)]
pub struct PayReport {
    /// Calls in each throughput run.
    pub calls: usize,
    /// Channels (connections) in each throughput run.
    pub channels: usize,
    /// Unpaid calls per second: the anchor.
    pub unpaid_per_sec: f64,
    /// Voucher-paid, durably recorded calls per second.
    pub paid_per_sec: f64,
    /// Paid over unpaid.
    pub paid_ratio: f64,
    /// Ledger commits during the paid run (group commit).
    pub ledger_commits: u64,
    /// Voucher verifications per second on one core.
    pub verify_per_sec_per_core: f64,
    /// Gas figures.
    pub gas: PayGas,
}

/// Runs the benchmark on a scratch devnet started with `anvil`, reporting progress lines.
pub async fn run(anvil: &std::path::Path, config: &PayConfig, progress: &dyn Fn(&str)) -> Result<PayReport> {
    config.validate()?;
    let devnet = crate::scratch_devnet(anvil).await?;
    let result = measure(&devnet, config, progress).await;
    devnet.stop().await;
    result.map_err(run_error("pay"))
}

impl fmt::Display for PayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "throughput, trivial priced route, {} calls over {} keep-alive connections",
            self.calls, self.channels
        )?;
        writeln!(f, "  unpaid                     {:>9.0} calls/s", self.unpaid_per_sec)?;
        writeln!(
            f,
            "  paid (voucher, durable)    {:>9.0} calls/s   ({:.2}x of unpaid)",
            self.paid_per_sec, self.paid_ratio
        )?;
        writeln!(
            f,
            "  ledger commits             {:>9} for {} calls (group commit)",
            self.ledger_commits, self.calls
        )?;
        writeln!(
            f,
            "voucher verification         {:>9.0} per second per core",
            self.verify_per_sec_per_core
        )?;
        writeln!(f, "gas per paid call (exact = {} gas per call)", self.gas.exact_per_call)?;
        writeln!(f, "  calls/claim  channels/tx   gas/call   vs exact")?;
        for row in &self.gas.channel {
            writeln!(
                f,
                "  {:>11}  {:>11}  {:>9.1}  {:>8.3}%",
                row.calls_per_claim, row.channels_per_tx, row.gas_per_call, row.percent_of_exact
            )?;
        }
        writeln!(
            f,
            "  claim of 1 channel: {} gas; of 50: {} gas; settle: {} gas",
            self.gas.claim_one_channel, self.gas.claim_fifty_channels, self.gas.settle
        )?;
        writeln!(f, "  opening a channel (ERC-3009 deposit, once): {} gas", self.gas.open_channel)
    }
}

async fn send(
    call: impl std::future::Future<Output = Fallible<alloy::rpc::types::TransactionReceipt>>,
) -> Fallible<u64> {
    let receipt = call.await?;
    if !receipt.status() {
        return Err(format!("transaction {} reverted", receipt.transaction_hash).into());
    }
    Ok(receipt.gas_used)
}

struct Channel {
    key: PrivateKeySigner,
    config: ChannelConfigJson,
    id: B256,
}

/// The deployed suite and the keys every step uses.
struct World {
    deployer: ChainClient,
    provider_key: PrivateKeySigner,
    provider: ChainClient,
    dir: tempfile::TempDir,
    token: alloy::primitives::Address,
    contract: alloy::primitives::Address,
    token_domain: alloy::sol_types::Eip712Domain,
    channels_domain: alloy::sol_types::Eip712Domain,
}

async fn world(devnet: &Devnet) -> Fallible<World> {
    let deployer = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await?;
    let provider_key = devnet.dev_signer(1).ok_or("no dev account 1")?;
    let provider = ChainClient::connect(&devnet.rpc_url(), Some(provider_key.clone())).await?;
    let dir = tempfile::tempdir()?;
    let deployment =
        agora_chain::ensure_deployed(&deployer, &dir.path().join("deployments.json"), |_, _, _| {}).await?;
    agora_chain::ensure_x402_contracts(&deployer).await?;
    let token = deployment.address_of(SuiteContract::DevStablecoin).ok_or("no dev stablecoin")?;
    let contract = agora_pay::x402::BATCH_SETTLEMENT;
    let token_domain = typed::token_domain("Agora Dev USD", "1", agora_chain::DEVNET_CHAIN_ID, token);
    let channels_domain = typed::batch_domain(agora_chain::DEVNET_CHAIN_ID);
    Ok(World { deployer, provider_key, provider, dir, token, contract, token_domain, channels_domain })
}

/// Gas of one `exact` payment: an EIP-3009 transfer.
async fn exact_gas(w: &World) -> Fallible<u64> {
    let dollars = DevStablecoin::new(w.token, w.deployer.provider());
    let (provider_key, token_domain) = (&w.provider_key, &w.token_domain);
    let payer = PrivateKeySigner::random();
    dollars.faucet(payer.address(), U256::from(1_000_000_000u64)).send().await?.get_receipt().await?;
    let authorization = Authorization {
        from: payer.address(),
        to: provider_key.address(),
        value: U256::from(PRICE),
        valid_after: 0,
        valid_before: u64::MAX / 2,
        nonce: B256::from(rand::random::<[u8; 32]>()),
    };
    let signature = payer.sign_hash_sync(&authorization.transfer_digest(token_domain))?;
    send(async {
        Ok(dollars
            .transferWithAuthorization_0(
                authorization.from,
                authorization.to,
                authorization.value,
                U256::ZERO,
                U256::from(authorization.valid_before),
                authorization.nonce,
                signature.as_bytes().into(),
            )
            .send()
            .await?
            .get_receipt()
            .await?)
    })
    .await
}

/// Funds `count` payers (dollars only) and opens one channel each by EIP-3009 deposit; returns
/// them and the gas of one opening.
async fn open_channels(w: &World, count: usize, deposit: u128) -> Fallible<(Vec<Channel>, u64)> {
    let dollars = DevStablecoin::new(w.token, w.deployer.provider());
    let channels_contract = IBatchSettlement::new(w.contract, w.deployer.provider());
    let (provider_key, token) = (&w.provider_key, w.token);
    let token_domain = &w.token_domain;
    let mut channels = Vec::with_capacity(count);
    let mut open_gas = 0;
    for i in 0..count {
        let key = PrivateKeySigner::random();
        dollars.faucet(key.address(), U256::from(deposit)).send().await?.get_receipt().await?;
        let config = ChannelConfigJson {
            payer: key.address(),
            payer_authorizer: key.address(),
            receiver: provider_key.address(),
            receiver_authorizer: provider_key.address(),
            token,
            withdraw_delay: 900,
            salt: B256::from(U256::from(i)),
        };
        let id = config.id(agora_chain::DEVNET_CHAIN_ID);
        let salt = B256::from(rand::random::<[u8; 32]>());
        let auth = Authorization {
            from: key.address(),
            to: x402::ERC3009_DEPOSIT_COLLECTOR,
            value: U256::from(deposit),
            valid_after: 0,
            valid_before: u64::MAX / 2,
            nonce: typed::deposit_nonce(id, salt),
        };
        let sig = key.sign_hash_sync(&auth.receive_digest(token_domain))?;
        let gas = send(async {
            let data = x402::erc3009_collector_data(
                U256::ZERO,
                U256::from(auth.valid_before),
                salt,
                &sig.as_bytes(),
            );
            Ok(channels_contract
                .deposit(config.to_sol().into(), deposit, x402::ERC3009_DEPOSIT_COLLECTOR, data)
                .send()
                .await?
                .get_receipt()
                .await?)
        })
        .await?;
        if i == 0 {
            open_gas = gas;
        }
        channels.push(Channel { key, config, id });
    }
    Ok((channels, open_gas))
}

/// Every channel's vouchers for `per_channel` calls, as `PAYMENT-SIGNATURE` headers, signed
/// ahead: the benchmark measures the provider, not the payers' signing.
async fn sign_vouchers(
    base: &str,
    channels: &[Channel],
    channels_domain: &alloy::sol_types::Eip712Domain,
    per_channel: usize,
) -> Fallible<Vec<Vec<String>>> {
    let offer = {
        let response = reqwest::get(format!("{base}/paid")).await?;
        let header = response
            .headers()
            .get(wire::PAYMENT_REQUIRED_HEADER)
            .ok_or("the priced route did not answer 402")?
            .to_str()?
            .to_owned();
        let required: wire::PaymentRequired = wire::decode_header(&header)?;
        required
            .accepts
            .into_iter()
            .find(|r| r.scheme == wire::SCHEME_BATCH)
            .ok_or("no batch-settlement offer")?
    };
    let mut headers: Vec<Vec<String>> = Vec::with_capacity(channels.len());
    for channel in channels {
        let mut list = Vec::with_capacity(per_channel);
        for k in 1..=per_channel as u128 {
            let max = k * PRICE;
            let signature = typed::sign_voucher(&channel.key, channels_domain, channel.id, max)?;
            list.push(wire::encode_header(&PaymentPayload {
                x402_version: 2,
                resource: None,
                accepted: offer.clone(),
                payload: serde_json::to_value(typed::BatchPayload {
                    kind: typed::BatchKind::Voucher,
                    channel_config: channel.config,
                    voucher: typed::VoucherJson {
                        channel_id: channel.id,
                        max_claimable_amount: max.to_string(),
                        signature: signature.as_bytes().into(),
                    },
                    deposit: None,
                    amount: None,
                })?,
                extensions: None,
            }));
        }
        headers.push(list);
    }
    Ok(headers)
}

/// Voucher verifications per second on one core.
fn verify_rate(channel: &Channel, channels_domain: &alloy::sol_types::Eip712Domain) -> Fallible<f64> {
    let channels = std::slice::from_ref(channel);
    let sample: Vec<_> = (1..=20_000u128)
        .map(|k| {
            let max = k * PRICE;
            (max, typed::sign_voucher(&channels[0].key, channels_domain, channels[0].id, max))
        })
        .collect();
    let started = Instant::now();
    let mut ok = 0usize;
    for (max, sig) in &sample {
        let Ok(sig) = sig else { return Err("signing a voucher failed".into()) };
        if typed::voucher_signer(channels_domain, channels[0].id, *max, sig)
            == Some(channels[0].key.address())
        {
            ok += 1;
        }
    }
    Ok(ok as f64 / started.elapsed().as_secs_f64())
}

/// The server: one priced route, one free one, the paywall on a durable store. Returns the
/// paywall and the server's base URL.
async fn serve(w: &World) -> Fallible<(Paywall, String)> {
    let World { provider_key, provider, dir, token, .. } = w;
    let token = *token;
    let store = Arc::new(agora_store::Store::open_in(dir.path())?);
    let paywall = Paywall::new(
        PaywallConfig {
            chain_id: agora_chain::DEVNET_CHAIN_ID,
            asset: token,
            asset_name: "Agora Dev USD".into(),
            asset_version: "1".into(),
            pay_to: provider_key.address(),
            exact: true,
            upto: false,
            batch: true,
            min_withdraw_delay: 900,
            max_timeout_seconds: 60,
            credits: None,
            claim_threshold: u128::MAX,
        },
        provider.clone(),
        Arc::clone(&store),
    );
    let price = FixedPrice { paywall: paywall.clone(), amount: PRICE, description: "a pong".into() };
    let app = axum::Router::new()
        .route("/paid", axum::routing::get(|| async { "pong" }))
        .layer(axum::middleware::from_fn_with_state(price, fixed_price))
        .route("/free", axum::routing::get(|| async { "pong" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((paywall, base))
}

/// Sends every list of headers over its own keep-alive connection, to the paid route with the
/// headers or to the free one without; returns the seconds the whole load took.
async fn load(base: &str, paid: bool, headers: Vec<Vec<String>>) -> Fallible<f64> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for list in headers {
        let url = format!("{base}/{}", if paid { "paid" } else { "free" });
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
            for header in list {
                let mut request = client.get(&url);
                if paid {
                    request = request.header(wire::PAYMENT_SIGNATURE_HEADER, header);
                }
                let response = request.send().await?;
                if response.status() != 200 {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    return Err(format!("HTTP {status}: {text}").into());
                }
                response.bytes().await?;
            }
            Ok::<(), BoxError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok::<f64, BoxError>(started.elapsed().as_secs_f64())
}

/// Claim gas: one channel in a transaction, then 50 in one; per call at several cadences.
async fn claim_gas(
    w: &World,
    ledger: &agora_pay::Ledger,
    exact_gas: u64,
) -> Fallible<(u64, u64, u64, Vec<ClaimGas>)> {
    let (contract, provider) = (w.contract, &w.provider);
    let states = ledger.all()?;
    let entry = |s: &agora_pay::ChannelState| IBatchSettlement::VoucherClaim {
        voucher: IBatchSettlement::Voucher {
            channel: s.terms.config().to_sol().into(),
            maxClaimableAmount: s.voucher_max,
        },
        signature: s.voucher_sig.clone(),
        totalClaimed: s.charged,
    };
    let as_provider = IBatchSettlement::new(contract, provider.provider());
    let claim_one =
        send(async { Ok(as_provider.claim(vec![entry(&states[0])]).send().await?.get_receipt().await?) })
            .await?;
    let claim_fifty = send(async {
        Ok(as_provider.claim(states[1..51].iter().map(entry).collect()).send().await?.get_receipt().await?)
    })
    .await?;
    let settle = send(async {
        Ok(as_provider.settle(w.provider_key.address(), w.token).send().await?.get_receipt().await?)
    })
    .await?;
    let mut rows = Vec::new();
    for calls_per_claim in [10u64, 100, 1_000] {
        for (channels_per_tx, gas) in [(1u64, claim_one), (50, claim_fifty)] {
            let per_call = (gas + settle) as f64 / (channels_per_tx * calls_per_claim) as f64;
            rows.push(ClaimGas {
                calls_per_claim,
                channels_per_tx,
                claim_gas: gas,
                gas_per_call: per_call,
                percent_of_exact: per_call / exact_gas as f64 * 100.0,
            });
        }
    }
    Ok((claim_one, claim_fifty, settle, rows))
}

async fn measure(devnet: &Devnet, args: &PayConfig, progress: &dyn Fn(&str)) -> Fallible<PayReport> {
    let w = world(devnet).await?;
    let exact_gas = exact_gas(&w).await?;
    progress(&format!("opening {} channels", args.channels));
    let per_channel = args.calls.div_ceil(args.channels);
    let deposit = PRICE * (per_channel as u128 + 10);
    let (channels, open_gas) = open_channels(&w, args.channels, deposit).await?;
    let channels_domain = &w.channels_domain;

    let (paywall, base) = serve(&w).await?;

    progress(&format!("signing {} vouchers", per_channel * args.channels));
    let headers = sign_vouchers(&base, &channels, channels_domain, per_channel).await?;
    let verify_per_sec = verify_rate(&channels[0], channels_domain)?;

    let calls = per_channel * args.channels;
    load(&base, false, headers.iter().map(|l| l[..l.len().min(50)].to_vec()).collect()).await?;
    progress(&format!("{calls} unpaid calls"));
    let unpaid_secs = load(&base, false, headers.clone()).await?;
    let ledger = paywall.ledger().ok_or("the paywall has no ledger")?;
    let commits_before = ledger.commits();
    progress(&format!("{calls} paid calls"));
    let paid_secs = load(&base, true, headers).await?;
    let commits = ledger.commits() - commits_before;

    // Every call is in the ledger.
    let charged: u128 = ledger.all()?.iter().map(|s| s.charged).sum();
    if charged != calls as u128 * PRICE {
        return Err(format!("the ledger holds {charged}, expected {}", calls as u128 * PRICE).into());
    }

    let (claim_one, claim_fifty, settle, rows) = claim_gas(&w, ledger, exact_gas).await?;
    let unpaid_per_sec = calls as f64 / unpaid_secs;
    let paid_per_sec = calls as f64 / paid_secs;
    Ok(PayReport {
        calls,
        channels: args.channels,
        unpaid_per_sec,
        paid_per_sec,
        paid_ratio: paid_per_sec / unpaid_per_sec,
        ledger_commits: commits,
        verify_per_sec_per_core: verify_per_sec,
        gas: PayGas {
            exact_per_call: exact_gas,
            open_channel: open_gas,
            claim_one_channel: claim_one,
            claim_fifty_channels: claim_fifty,
            settle,
            channel: rows,
        },
    })
}
