//! `agora bench pay`: what x402 payments cost. On a fresh devnet it measures
//!
//! 1. provider throughput for voucher-paid calls on a trivial priced route over HTTP with
//!    keep-alive (each voucher verified and durably recorded before the response), against the
//!    same route unpaid;
//! 2. voucher verification alone, per core;
//! 3. gas per paid call: `exact` (one EIP-3009 transfer each) against channels claimed every
//!    10, 100 and 1,000 calls, one channel per claim transaction or 50.
//!
//! The load generator runs in the same process as the server, on the same cores.

use crate::cli::GlobalArgs;
use agora_chain::{ChainClient, Devnet};
use agora_contracts::{
    SuiteContract,
    bindings::{DevStablecoin, PaymentChannels},
};
use agora_pay::{
    Paywall, PaywallConfig,
    paywall::{FixedPrice, fixed_price},
    typed::{self, Authorization, ChannelConfig},
    wire::{self, PaymentPayload},
};
use alloy::{
    primitives::{B256, U256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;
use std::{io::Write, sync::Arc, time::Instant};

#[derive(Debug, Args)]
pub(crate) struct PayArgs {
    /// Paid calls in the throughput run (spread over the channels).
    #[arg(long, default_value_t = 40_000)]
    calls: usize,
    /// Channels (one client connection each) in the throughput run.
    #[arg(long, default_value_t = 64)]
    channels: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

const PRICE: u128 = 1_000;

#[allow(clippy::print_stderr)]
fn progress(message: &str) {
    eprintln!("bench: {message}");
}

pub(crate) async fn run(global: &GlobalArgs, args: PayArgs) -> Result<()> {
    if args.channels < 51 {
        bail!("--channels must be at least 51 (the gas figures claim 50 channels in one transaction)");
    }
    let config = global.resolve()?;
    let devnet = crate::bench::scratch_devnet(&config).await?;
    let result = measure(&devnet, &args).await;
    devnet.stop().await;
    let r = result?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&r)?)?;
        return Ok(());
    }
    let f = |k: &str| r[k].as_f64().unwrap_or(0.0);
    writeln!(
        out,
        "throughput, trivial priced route, {} calls over {} keep-alive connections",
        r["calls"], r["channels"]
    )?;
    writeln!(out, "  unpaid                     {:>9.0} calls/s", f("unpaid_per_sec"))?;
    writeln!(
        out,
        "  paid (voucher, durable)    {:>9.0} calls/s   ({:.2}x of unpaid)",
        f("paid_per_sec"),
        f("paid_ratio")
    )?;
    writeln!(
        out,
        "  ledger commits             {:>9} for {} calls (group commit)",
        r["ledger_commits"], r["calls"]
    )?;
    writeln!(out, "voucher verification         {:>9.0} per second per core", f("verify_per_sec_per_core"))?;
    writeln!(out, "gas per paid call (exact = {} gas per call)", r["gas"]["exact_per_call"])?;
    writeln!(out, "  calls/claim  channels/tx   gas/call   vs exact")?;
    for row in r["gas"]["channel"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  {:>11}  {:>11}  {:>9.1}  {:>8.3}%",
            row["calls_per_claim"],
            row["channels_per_tx"],
            row["gas_per_call"].as_f64().unwrap_or(0.0),
            row["percent_of_exact"].as_f64().unwrap_or(0.0)
        )?;
    }
    writeln!(out, "  opening a channel (EIP-3009 deposit, once): {} gas", r["gas"]["open_channel"])?;
    Ok(())
}

async fn send(
    call: impl std::future::Future<Output = Result<alloy::rpc::types::TransactionReceipt>>,
) -> Result<u64> {
    let receipt = call.await?;
    if !receipt.status() {
        bail!("transaction {} reverted", receipt.transaction_hash);
    }
    Ok(receipt.gas_used)
}

struct Channel {
    key: PrivateKeySigner,
    id: B256,
}

async fn measure(devnet: &Devnet, args: &PayArgs) -> Result<serde_json::Value> {
    let deployer = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await?;
    let provider_key = devnet.dev_signer(1).context("dev account 1")?;
    let provider = ChainClient::connect(&devnet.rpc_url(), Some(provider_key.clone())).await?;
    let dir = tempfile::tempdir()?;
    let deployment =
        agora_chain::ensure_deployed(&deployer, &dir.path().join("deployments.json"), |_, _, _| {}).await?;
    let token = deployment.address_of(SuiteContract::DevStablecoin).context("stablecoin")?;
    let contract = deployment.address_of(SuiteContract::PaymentChannels).context("channels")?;
    let dollars = DevStablecoin::new(token, deployer.provider());
    let channels_contract = PaymentChannels::new(contract, deployer.provider());
    let token_domain = typed::token_domain("Agora Dev USD", "1", 31337, token);
    let channels_domain = typed::channels_domain(31337, contract);

    // Gas of one exact payment.
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
    let signature = payer.sign_hash_sync(&authorization.transfer_digest(&token_domain))?;
    let exact_gas = send(async {
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
    .await?;

    // Channels: fund payers (dollars only) and open one channel each by EIP-3009 deposit.
    progress(&format!("opening {} channels", args.channels));
    let per_channel = args.calls.div_ceil(args.channels);
    let deposit = PRICE * (per_channel as u128 + 10);
    let mut channels = Vec::with_capacity(args.channels);
    let mut open_gas = 0;
    for i in 0..args.channels {
        let key = PrivateKeySigner::random();
        dollars.faucet(key.address(), U256::from(deposit)).send().await?.get_receipt().await?;
        let config = ChannelConfig {
            payer: key.address(),
            payerAuthorizer: key.address(),
            receiver: provider_key.address(),
            token,
            withdrawDelay: alloy::primitives::Uint::from(900u64),
            salt: B256::from(U256::from(i)),
        };
        let id = config.id(&channels_domain);
        let salt = B256::from(rand::random::<[u8; 32]>());
        let auth = Authorization {
            from: key.address(),
            to: contract,
            value: U256::from(deposit),
            valid_after: 0,
            valid_before: u64::MAX / 2,
            nonce: typed::deposit_nonce(id, salt),
        };
        let sig = key.sign_hash_sync(&auth.receive_digest(&token_domain))?;
        let gas = send(async {
            Ok(channels_contract
                .depositWithAuthorization(
                    PaymentChannels::ChannelConfig {
                        payer: config.payer,
                        payerAuthorizer: config.payerAuthorizer,
                        receiver: config.receiver,
                        token,
                        withdrawDelay: config.withdrawDelay,
                        salt: config.salt,
                    },
                    deposit,
                    U256::ZERO,
                    U256::from(auth.valid_before),
                    salt,
                    sig.as_bytes().into(),
                )
                .send()
                .await?
                .get_receipt()
                .await?)
        })
        .await?;
        if i == 0 {
            open_gas = gas;
        }
        channels.push(Channel { key, id });
    }

    // The server: one priced route, one free one, the paywall on a durable store.
    let store = Arc::new(agora_store::Store::open_in(dir.path())?);
    let paywall = Paywall::new(
        PaywallConfig {
            chain_id: 31337,
            asset: token,
            asset_name: "Agora Dev USD".into(),
            asset_version: "1".into(),
            pay_to: provider_key.address(),
            exact: true,
            channels: Some(contract),
            min_withdraw_delay: 60,
            max_timeout_seconds: 60,
            claim_threshold: u128::MAX,
            claim_margin_secs: 60,
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

    // Vouchers, signed ahead: the benchmark measures the provider, not the payers' signing.
    progress(&format!("signing {} vouchers", per_channel * args.channels));
    let offer = {
        let response = reqwest::get(format!("{base}/paid")).await?;
        let header =
            response.headers().get(wire::PAYMENT_REQUIRED_HEADER).context("no 402")?.to_str()?.to_owned();
        let required: wire::PaymentRequired = wire::decode_header(&header)?;
        required.accepts.into_iter().find(|r| r.scheme == wire::SCHEME_CHANNEL).context("no channel offer")?
    };
    let mut headers: Vec<Vec<String>> = Vec::with_capacity(args.channels);
    for channel in &channels {
        let mut list = Vec::with_capacity(per_channel);
        for k in 1..=per_channel as u128 {
            let max = k * PRICE;
            let signature = typed::sign_voucher(&channel.key, &channels_domain, channel.id, max)?;
            list.push(wire::encode_header(&PaymentPayload {
                x402_version: 2,
                resource: None,
                accepted: offer.clone(),
                payload: serde_json::to_value(typed::ChannelPayload {
                    channel_id: channel.id,
                    max_claimable_amount: max.to_string(),
                    signature: signature.as_bytes().into(),
                    deposit: None,
                })?,
                extensions: None,
            }));
        }
        headers.push(list);
    }

    // Voucher verification alone, one core.
    let sample: Vec<_> = (1..=20_000u128)
        .map(|k| {
            let max = k * PRICE;
            (max, typed::sign_voucher(&channels[0].key, &channels_domain, channels[0].id, max))
        })
        .collect();
    let started = Instant::now();
    let mut ok = 0usize;
    for (max, sig) in &sample {
        let sig = sig.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
        if typed::voucher_signer(&channels_domain, channels[0].id, *max, sig)
            == Some(channels[0].key.address())
        {
            ok += 1;
        }
    }
    let verify_per_sec = ok as f64 / started.elapsed().as_secs_f64();

    // Warm-up, then unpaid and paid runs with the same shape.
    let load = |paid: bool, headers: Vec<Vec<String>>| {
        let base = base.clone();
        async move {
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
                            bail!(
                                "HTTP {}: {}",
                                response.status(),
                                response.text().await.unwrap_or_default()
                            );
                        }
                        response.bytes().await?;
                    }
                    anyhow::Ok(())
                }));
            }
            for task in tasks {
                task.await??;
            }
            anyhow::Ok(started.elapsed().as_secs_f64())
        }
    };
    let calls = per_channel * args.channels;
    load(false, headers.iter().map(|l| l[..l.len().min(50)].to_vec()).collect()).await?;
    progress(&format!("{calls} unpaid calls"));
    let unpaid_secs = load(false, headers.clone()).await?;
    let ledger = paywall.ledger().context("ledger")?;
    let commits_before = ledger.commits();
    progress(&format!("{calls} paid calls"));
    let paid_secs = load(true, headers).await?;
    let commits = ledger.commits() - commits_before;

    // Every call is in the ledger.
    let charged: u128 = ledger.all().map_err(anyhow::Error::msg)?.iter().map(|s| s.charged).sum();
    if charged != calls as u128 * PRICE {
        bail!("the ledger holds {charged}, expected {}", calls as u128 * PRICE);
    }

    // Claim gas: one channel in a transaction, then 50 in one.
    let states = ledger.all().map_err(anyhow::Error::msg)?;
    let entry = |s: &agora_pay::ChannelState| PaymentChannels::ClaimEntry {
        channelId: s.id,
        maxClaimableAmount: s.voucher_max,
        totalClaimed: s.charged,
        signature: s.voucher_sig.clone(),
    };
    let as_provider = PaymentChannels::new(contract, provider.provider());
    let claim_one =
        send(async { Ok(as_provider.claim(vec![entry(&states[0])]).send().await?.get_receipt().await?) })
            .await?;
    let claim_fifty = send(async {
        Ok(as_provider.claim(states[1..51].iter().map(entry).collect()).send().await?.get_receipt().await?)
    })
    .await?;
    let mut rows = Vec::new();
    for calls_per_claim in [10u64, 100, 1_000] {
        for (channels_per_tx, gas) in [(1u64, claim_one), (50, claim_fifty)] {
            let per_call = gas as f64 / (channels_per_tx * calls_per_claim) as f64;
            rows.push(json!({
                "calls_per_claim": calls_per_claim,
                "channels_per_tx": channels_per_tx,
                "claim_gas": gas,
                "gas_per_call": per_call,
                "percent_of_exact": per_call / exact_gas as f64 * 100.0,
            }));
        }
    }
    let unpaid_per_sec = calls as f64 / unpaid_secs;
    let paid_per_sec = calls as f64 / paid_secs;
    Ok(json!({
        "calls": calls,
        "channels": args.channels,
        "unpaid_per_sec": unpaid_per_sec,
        "paid_per_sec": paid_per_sec,
        "paid_ratio": paid_per_sec / unpaid_per_sec,
        "ledger_commits": commits,
        "verify_per_sec_per_core": verify_per_sec,
        "gas": {
            "exact_per_call": exact_gas,
            "open_channel": open_gas,
            "claim_one_channel": claim_one,
            "claim_fifty_channels": claim_fifty,
            "channel": rows,
        },
    }))
}
