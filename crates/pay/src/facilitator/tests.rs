//! The facilitator against a real chain (anvil with the agora suite and the x402 contracts at
//! their canonical addresses): the requests the official server sends, parsed and refused
//! before anything is sent, and `upto` and `batch-settlement` settled end to end.

#![allow(clippy::unwrap_used)] // test helpers panic to fail the test

use super::*;
use crate::{
    typed::{Authorization, ChannelConfigJson, ClaimEntry, VoucherJson},
    wire::{PaymentPayload, reason},
    x402::{self, IBatchSettlement, IErc20Reads, upto_typed},
};
use agora_contracts::bindings::DevStablecoin;
use agora_testkit::TestNet;
use alloy::{
    primitives::Bytes,
    providers::Provider,
    signers::{SignerSync, local::PrivateKeySigner},
};

const DELAY: u64 = 900;

struct World {
    net: TestNet,
    facilitator: Facilitator,
    node: PrivateKeySigner,
    payer: PrivateKeySigner,
    receiver: Address,
    token: Address,
}

async fn world() -> World {
    let net = TestNet::start().await;
    let node = net.wallet(1);
    let facilitator = Facilitator::new(net.client_for(1).await);
    World {
        payer: net.wallet(2),
        receiver: PrivateKeySigner::random().address(),
        token: net.stablecoin_address(),
        facilitator,
        node,
        net,
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn sig_bytes(signer: &PrivateKeySigner, digest: &B256) -> Bytes {
    Bytes::from(signer.sign_hash_sync(digest).unwrap().as_bytes().to_vec())
}

impl World {
    fn requirements(&self, scheme: &str, amount: u128) -> PaymentRequirements {
        let mut extra = json!({ "name": "Agora Dev USD", "version": "1" });
        if scheme == wire::SCHEME_UPTO {
            extra["facilitatorAddress"] = json!(self.node.address());
        }
        if scheme == wire::SCHEME_BATCH {
            extra["receiverAuthorizer"] = json!(self.node.address());
            extra["withdrawDelay"] = json!(DELAY);
        }
        PaymentRequirements {
            scheme: scheme.into(),
            network: "eip155:31337".into(),
            amount: amount.to_string(),
            asset: self.token.to_checksum(None),
            pay_to: self.receiver.to_checksum(None),
            max_timeout_seconds: 300,
            extra,
        }
    }

    fn request(&self, scheme: &str, amount: u128, payload: Value) -> FacilitatorRequest {
        let requirements = self.requirements(scheme, amount);
        FacilitatorRequest {
            x402_version: 2,
            payment_payload: PaymentPayload {
                x402_version: 2,
                resource: None,
                accepted: requirements.clone(),
                payload,
                extensions: None,
            },
            payment_requirements: requirements,
        }
    }

    /// A permit of `amount` signed by `signer`, paying `to` and settled by `facilitator`.
    fn permit(&self, signer: &PrivateKeySigner, amount: u128, to: Address, facilitator: Address) -> Value {
        let nonce = U256::from(rand::random::<u64>());
        let deadline = U256::from(now() + 300);
        let witness = upto_typed::Witness { to, facilitator, validAfter: U256::from(now() - 5) };
        let digest = x402::upto_digest(31337, self.token, U256::from(amount), nonce, deadline, &witness);
        json!({
            "signature": sig_bytes(signer, &digest),
            "permit2Authorization": {
                "from": self.payer.address(),
                "permitted": { "token": self.token, "amount": amount.to_string() },
                "spender": x402::UPTO_PERMIT2_PROXY,
                "nonce": nonce.to_string(),
                "deadline": deadline.to_string(),
                "witness": { "to": to, "facilitator": facilitator, "validAfter": witness.validAfter.to_string() },
            },
        })
    }

    fn channel(&self, salt: u8) -> ChannelConfigJson {
        ChannelConfigJson {
            payer: self.payer.address(),
            payer_authorizer: self.payer.address(),
            receiver: self.receiver,
            receiver_authorizer: self.node.address(),
            token: self.token,
            withdraw_delay: DELAY,
            salt: B256::repeat_byte(salt),
        }
    }

    fn voucher(&self, config: &ChannelConfigJson, max: u128) -> VoucherJson {
        let id = config.id(31337);
        let signature = typed::sign_voucher(&self.payer, &typed::batch_domain(31337), id, max).unwrap();
        VoucherJson {
            channel_id: id,
            max_claimable_amount: max.to_string(),
            signature: Bytes::from(signature.as_bytes().to_vec()),
        }
    }

    /// A `deposit` payload: `amount` into `config`, signed by `depositor`, and a voucher for `max`.
    fn deposit(
        &self,
        config: &ChannelConfigJson,
        amount: u128,
        max: u128,
        depositor: &PrivateKeySigner,
    ) -> Value {
        let id = config.id(31337);
        let salt = B256::from(rand::random::<[u8; 32]>());
        let authorization = Authorization {
            from: config.payer,
            to: x402::ERC3009_DEPOSIT_COLLECTOR,
            value: U256::from(amount),
            valid_after: now() - 10,
            valid_before: now() + 300,
            nonce: typed::deposit_nonce(id, salt),
        };
        let domain = typed::token_domain("Agora Dev USD", "1", 31337, self.token);
        json!({
            "type": "deposit",
            "channelConfig": config,
            "voucher": self.voucher(config, max),
            "deposit": {
                "amount": amount.to_string(),
                "authorization": { "erc3009Authorization": {
                    "validAfter": authorization.valid_after.to_string(),
                    "validBefore": authorization.valid_before.to_string(),
                    "salt": salt,
                    "signature": sig_bytes(depositor, &authorization.receive_digest(&domain)),
                }},
            },
        })
    }

    fn claim_row(&self, config: &ChannelConfigJson, max: u128, total: u128) -> Value {
        let voucher = self.voucher(config, max);
        json!({
            "voucher": { "channel": config, "maxClaimableAmount": max.to_string() },
            "signature": voucher.signature,
            "totalClaimed": total.to_string(),
        })
    }

    async fn verify(&self, request: &FacilitatorRequest) -> VerifyResponse {
        self.facilitator.verify(request).await
    }

    async fn refused(&self, request: &FacilitatorRequest) -> String {
        let answer = self.facilitator.verify(request).await;
        assert!(!answer.is_valid, "{answer:?}");
        answer.invalid_reason.unwrap()
    }

    async fn settle_refused(&self, request: &FacilitatorRequest) -> String {
        let answer = self.facilitator.settle(request).await;
        assert!(!answer.success && answer.transaction.is_empty(), "{answer:?}");
        answer.error_reason.unwrap()
    }

    async fn dollars(&self, who: Address) -> u128 {
        DevStablecoin::new(self.token, self.net.deployer().provider())
            .balanceOf(who)
            .call()
            .await
            .unwrap()
            .to()
    }

    async fn node_nonce(&self) -> u64 {
        self.net.deployer().provider().get_transaction_count(self.node.address()).await.unwrap()
    }
}

#[test]
fn requests_parse_as_the_official_server_sends_them() {
    // A claim as `BatchSettlementChannelManager.submitClaim` sends it, and a refund as
    // `refundChannel` enriches it (withdrawDelay a number, amounts strings, the nonce a string).
    let config = json!({
        "payer": "0x1111111111111111111111111111111111111111",
        "payerAuthorizer": "0x1111111111111111111111111111111111111111",
        "receiver": "0x3333333333333333333333333333333333333333",
        "receiverAuthorizer": "0x4444444444444444444444444444444444444444",
        "token": "0x5555555555555555555555555555555555555555",
        "withdrawDelay": 900,
        "salt": format!("0x{}", "66".repeat(32)),
    });
    let row = json!({
        "voucher": { "channel": config, "maxClaimableAmount": "5000" },
        "signature": format!("0x{}1b", "ab".repeat(64)),
        "totalClaimed": "4000",
    });
    let claim: typed::ClaimPayload =
        serde_json::from_value(json!({ "type": "claim", "claims": [row] })).unwrap();
    assert_eq!(claim.claims[0].total_claimed, typed::Amount(4000));
    assert_eq!(claim.claims[0].voucher.channel.withdraw_delay, 900);
    assert!(claim.claim_authorizer_signature.is_none());
    let refund: typed::RefundPayload = serde_json::from_value(json!({
        "type": "refund", "channelConfig": config,
        "voucher": { "channelId": format!("0x{}", "77".repeat(32)), "maxClaimableAmount": "4000", "signature": "0x00" },
        "amount": "1000", "refundNonce": "0", "claims": [row],
    }))
    .unwrap();
    assert_eq!((refund.amount, refund.refund_nonce), (typed::Amount(1000), typed::Amount(0)));
    let settle: typed::SettleActionPayload = serde_json::from_value(json!({
        "type": "settle", "receiver": "0x3333333333333333333333333333333333333333",
        "token": "0x5555555555555555555555555555555555555555",
    }))
    .unwrap();
    assert_eq!(settle.receiver, Address::repeat_byte(0x33));
    // Malformed amounts are not taken.
    let mut bad = row.clone();
    bad["totalClaimed"] = json!("-1");
    assert!(serde_json::from_value::<typed::ClaimJson>(bad).is_err());
}

/// Everything the facilitator refuses, it refuses before sending anything: the node's nonce
/// does not move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_foreign_and_badly_signed_requests_are_refused_and_nothing_is_sent() {
    let w = world().await;
    let sent_before = w.node_nonce().await;
    let node = w.node.address();
    let stranger = PrivateKeySigner::random();

    // `/supported`: the three schemes, this chain, this key.
    let supported = w.facilitator.supported();
    let kinds = supported["kinds"].as_array().unwrap();
    let kind = |scheme: &str| kinds.iter().find(|k| k["scheme"] == scheme && k["x402Version"] == 2).unwrap();
    assert_eq!(kinds[0]["scheme"], "exact");
    assert_eq!(kind("upto")["extra"]["facilitatorAddress"], node.to_checksum(None));
    assert_eq!(kind("batch-settlement")["extra"]["receiverAuthorizer"], node.to_checksum(None));
    assert!(kinds.iter().all(|k| k["network"] == "eip155:31337"));
    assert_eq!(supported["signers"]["eip155:*"][0], node.to_checksum(None));

    // Deny by default: other schemes, other chains, a payload for other requirements, v1.
    let upto = w.request("upto", 1000, w.permit(&w.payer, 1000, w.receiver, node));
    let mut other = upto.clone();
    other.payment_requirements.scheme = "exact-permit".into();
    other.payment_payload.accepted.scheme = "exact-permit".into();
    assert_eq!(w.refused(&other).await, reason::UNSUPPORTED_SCHEME);
    assert_eq!(w.settle_refused(&other).await, reason::UNSUPPORTED_SCHEME);
    let mut other = upto.clone();
    other.payment_requirements.network = "eip155:8453".into();
    other.payment_payload.accepted.network = "eip155:8453".into();
    assert_eq!(w.refused(&other).await, reason::INVALID_NETWORK);
    assert_eq!(w.settle_refused(&other).await, reason::INVALID_NETWORK);
    let mut other = upto.clone();
    other.payment_payload.accepted.scheme = "batch-settlement".into();
    assert_eq!(w.refused(&other).await, reason::INVALID_REQUIREMENTS);
    let mut other = upto.clone();
    other.payment_payload.x402_version = 1;
    assert_eq!(w.refused(&other).await, reason::INVALID_VERSION);

    // upto: malformed, another facilitator or recipient, a bad signature, a charge above it.
    assert_eq!(
        w.refused(&w.request("upto", 1000, json!({"signature": "0x"}))).await,
        reason::INVALID_PAYLOAD
    );
    let foreign = w.request("upto", 1000, w.permit(&w.payer, 1000, w.receiver, stranger.address()));
    assert_eq!(w.refused(&foreign).await, reason::PERMIT2_FACILITATOR);
    assert_eq!(w.settle_refused(&foreign).await, reason::PERMIT2_FACILITATOR);
    let elsewhere = w.request("upto", 1000, w.permit(&w.payer, 1000, stranger.address(), node));
    assert_eq!(w.refused(&elsewhere).await, reason::PERMIT2_DESTINATION);
    let forged = w.request("upto", 1000, w.permit(&stranger, 1000, w.receiver, node));
    assert_eq!(w.refused(&forged).await, reason::PERMIT2_SIGNATURE);
    assert_eq!(w.settle_refused(&forged).await, reason::PERMIT2_SIGNATURE);
    let mut wrong_amount = w.request("upto", 999, w.permit(&w.payer, 1000, w.receiver, node));
    assert_eq!(w.refused(&wrong_amount).await, reason::PERMIT2_AMOUNT);
    wrong_amount.payment_requirements.amount = "1001".into();
    assert_eq!(w.settle_refused(&wrong_amount).await, reason::UPTO_SETTLEMENT_EXCEEDS_AMOUNT);
    // Without Permit2's allowance the permit cannot move anything.
    assert_eq!(w.refused(&upto).await, reason::PERMIT2_ALLOWANCE);

    // batch-settlement: payload types.
    let config = w.channel(1);
    let batch = |payload: Value| w.request("batch-settlement", 1000, payload);
    assert_eq!(w.refused(&batch(json!({"channelConfig": config}))).await, reason::BATCH_PAYLOAD_TYPE);
    assert_eq!(w.refused(&batch(json!({"type": "claim", "claims": []}))).await, reason::BATCH_PAYLOAD_TYPE);
    let voucher = json!({"type": "voucher", "channelConfig": config, "voucher": w.voucher(&config, 1000)});
    assert_eq!(w.settle_refused(&batch(voucher)).await, reason::BATCH_PAYLOAD_TYPE);
    assert_eq!(
        w.refused(&batch(json!({"type": "deposit", "channelConfig": 1}))).await,
        reason::INVALID_PAYLOAD
    );

    // Deposits: the config against the requirements, the voucher and the deposit signatures.
    let deposit = |config: &ChannelConfigJson, depositor: &PrivateKeySigner| {
        batch(w.deposit(config, 100_000, 1000, depositor))
    };
    let mut elsewhere = w.channel(2);
    elsewhere.receiver = stranger.address();
    assert_eq!(w.refused(&deposit(&elsewhere, &w.payer)).await, reason::RECEIVER_MISMATCH);
    let mut foreign = w.channel(2);
    foreign.receiver_authorizer = stranger.address();
    assert_eq!(w.refused(&deposit(&foreign, &w.payer)).await, reason::RECEIVER_AUTHORIZER_MISMATCH);
    let mut slow = w.channel(2);
    slow.withdraw_delay = DELAY + 1;
    assert_eq!(w.refused(&deposit(&slow, &w.payer)).await, reason::WITHDRAW_DELAY_MISMATCH);
    let mut quick = w.channel(2);
    quick.withdraw_delay = 10;
    let mut any_delay = deposit(&quick, &w.payer);
    any_delay.payment_requirements.extra.as_object_mut().unwrap().remove("withdrawDelay");
    assert_eq!(w.refused(&any_delay).await, reason::WITHDRAW_DELAY_OUT_OF_RANGE);
    let mut mislabelled = w.deposit(&config, 100_000, 1000, &w.payer);
    mislabelled["voucher"]["channelId"] = json!(B256::repeat_byte(9));
    assert_eq!(w.refused(&batch(mislabelled)).await, reason::CHANNEL_ID_MISMATCH);
    let mut forged_voucher = w.deposit(&config, 100_000, 1000, &w.payer);
    forged_voucher["voucher"]["maxClaimableAmount"] = json!("2000");
    assert_eq!(w.refused(&batch(forged_voucher)).await, reason::VOUCHER_SIGNATURE);
    let forged_deposit = deposit(&config, &stranger);
    assert_eq!(w.refused(&forged_deposit).await, reason::DEPOSIT_FAILED);
    assert_eq!(w.settle_refused(&forged_deposit).await, reason::DEPOSIT_FAILED);
    // A voucher on a channel never funded.
    let unfunded =
        batch(json!({"type": "voucher", "channelConfig": config, "voucher": w.voucher(&config, 1000)}));
    assert_eq!(w.refused(&unfunded).await, reason::UNKNOWN_CHANNEL);

    // Claims: empty, above their voucher, badly signed, for another authorizer, elsewhere.
    let claim = |claims: Vec<Value>, signature: Option<Bytes>| {
        let mut payload = json!({"type": "claim", "claims": claims});
        if let Some(signature) = signature {
            payload["claimAuthorizerSignature"] = json!(signature);
        }
        batch(payload)
    };
    assert_eq!(w.settle_refused(&claim(vec![], None)).await, reason::INVALID_PAYLOAD);
    assert_eq!(
        w.settle_refused(&claim(vec![w.claim_row(&config, 1000, 1001)], None)).await,
        reason::CLAIM_EXCEEDS_VOUCHER
    );
    let mut forged_row = w.claim_row(&config, 1000, 500);
    forged_row["voucher"]["maxClaimableAmount"] = json!("5000");
    assert_eq!(w.settle_refused(&claim(vec![forged_row], None)).await, reason::VOUCHER_SIGNATURE);
    let entry = ClaimEntry { channelId: config.id(31337), maxClaimableAmount: 1000, totalClaimed: 500 };
    let digest = typed::claim_batch_digest(&typed::batch_domain(31337), vec![entry]);
    let by_stranger = sig_bytes(&stranger, &digest);
    let row = w.claim_row(&config, 1000, 500);
    assert_eq!(
        w.settle_refused(&claim(vec![row.clone()], Some(by_stranger))).await,
        reason::AUTHORIZER_SIGNATURE
    );
    let foreign_row = w.claim_row(&foreign, 1000, 500);
    assert_eq!(w.settle_refused(&claim(vec![foreign_row], None)).await, reason::AUTHORIZER_MISMATCH);
    let elsewhere_row = w.claim_row(&elsewhere, 1000, 500);
    assert_eq!(w.settle_refused(&claim(vec![elsewhere_row], None)).await, reason::RECEIVER_MISMATCH);
    // Above what the (unfunded) channel holds.
    assert_eq!(w.settle_refused(&claim(vec![row], None)).await, reason::CUMULATIVE_EXCEEDS_BALANCE);

    // Channels paying the node itself are its paywall's: not settled for other servers.
    let mut own_channel = w.channel(3);
    own_channel.receiver = node;
    let mut own = batch(json!({
        "type": "refund", "channelConfig": own_channel, "voucher": w.voucher(&own_channel, 0),
        "amount": "1000", "refundNonce": "0", "claims": [],
    }));
    own.payment_requirements.pay_to = node.to_checksum(None);
    own.payment_payload.accepted.pay_to = node.to_checksum(None);
    assert_eq!(w.settle_refused(&own).await, reason::RECEIVER_MISMATCH);
    own.payment_payload.payload = json!({"type": "settle", "receiver": node, "token": w.token});
    assert_eq!(w.settle_refused(&own).await, reason::RECEIVER_MISMATCH);

    // Settlements for another receiver or token, and of nothing.
    let settle = |receiver: Address, token: Address| {
        batch(json!({"type": "settle", "receiver": receiver, "token": token}))
    };
    assert_eq!(w.settle_refused(&settle(stranger.address(), w.token)).await, reason::RECEIVER_MISMATCH);
    assert_eq!(w.settle_refused(&settle(w.receiver, stranger.address())).await, reason::TOKEN_MISMATCH);
    assert_eq!(w.settle_refused(&settle(w.receiver, w.token)).await, reason::NOTHING_TO_SETTLE);

    // Refunds: at another nonce than the channel's.
    let refund = json!({
        "type": "refund", "channelConfig": config, "voucher": w.voucher(&config, 0),
        "amount": "1000", "refundNonce": "5", "claims": [],
    });
    assert_eq!(w.settle_refused(&batch(refund)).await, reason::REFUND_NONCE);

    assert_eq!(w.node_nonce().await, sent_before, "nothing was sent");
}

/// `upto` and `batch-settlement` settled through the facilitator, as the official server drives
/// it: the charge moves, not the ceiling; a deposit, vouchers, claims (signed by the authorizer
/// or sent as it), the receiver's settlement, and a refund of what stays unclaimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upto_and_batch_settlement_settle_through_the_facilitator() {
    let w = world().await;
    let node = w.node.address();
    let payer_start = w.dollars(w.payer.address()).await;
    let as_payer = w.net.client_for(2).await;
    IErc20Reads::new(w.token, as_payer.provider())
        .approve(x402::PERMIT2, U256::MAX)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();

    // upto: verified at the ceiling, settled at the charge the server names.
    let payload = w.permit(&w.payer, 1000, w.receiver, node);
    let mut request = w.request("upto", 1000, payload);
    let verified = w.verify(&request).await;
    assert!(verified.is_valid, "{verified:?}");
    assert_eq!(verified.payer, Some(w.payer.address().to_checksum(None)));
    request.payment_requirements.amount = "400".into();
    let settled = w.facilitator.settle(&request).await;
    assert!(settled.success && settled.transaction.starts_with("0x"), "{settled:?}");
    assert_eq!(settled.amount.as_deref(), Some("400"));
    assert_eq!(w.dollars(w.receiver).await, 400);
    assert_eq!(w.settle_refused(&request).await, reason::PERMIT2_NONCE, "a permit settles once");
    let mut free = w.request("upto", 1000, w.permit(&w.payer, 1000, w.receiver, node));
    free.payment_requirements.amount = "0".into();
    let settled = w.facilitator.settle(&free).await;
    assert!(settled.success && settled.transaction.is_empty(), "{settled:?}");
    assert_eq!(settled.amount.as_deref(), Some("0"));

    // batch-settlement: a deposit, verified then settled.
    let config = w.channel(7);
    let id = config.id(31337);
    let deposit = w.request("batch-settlement", 1000, w.deposit(&config, 100_000, 1000, &w.payer));
    let verified = w.verify(&deposit).await;
    assert!(verified.is_valid, "{verified:?}");
    let extra = verified.extra.unwrap();
    assert_eq!((extra["channelId"].clone(), extra["balance"].clone()), (json!(id), json!("0")));
    assert_eq!(extra["withdrawRequestedAt"], json!(0));
    let settled = w.facilitator.settle(&deposit).await;
    assert!(settled.success && settled.transaction.starts_with("0x"), "{settled:?}");
    let state = &settled.extra.as_ref().unwrap()["channelState"];
    assert_eq!((state["balance"].clone(), state["totalClaimed"].clone()), (json!("100000"), json!("0")));
    assert_eq!(w.settle_refused(&deposit).await, reason::DEPOSIT_FAILED, "a deposit is made once");

    // A voucher against the chain; one beyond the balance is refused.
    let voucher = |max: u128| {
        w.request(
            "batch-settlement",
            1000,
            json!({"type": "voucher", "channelConfig": config, "voucher": w.voucher(&config, max)}),
        )
    };
    let verified = w.verify(&voucher(3000)).await;
    assert!(verified.is_valid && verified.extra.unwrap()["balance"] == "100000");
    assert_eq!(w.refused(&voucher(100_001)).await, reason::CUMULATIVE_EXCEEDS_BALANCE);

    // Claims: one signed by the receiver authorizer (claimWithSignature), one sent as it.
    let entry = ClaimEntry { channelId: id, maxClaimableAmount: 2000, totalClaimed: 2000 };
    let signature = sig_bytes(&w.node, &typed::claim_batch_digest(&typed::batch_domain(31337), vec![entry]));
    let signed = w.request(
        "batch-settlement",
        0,
        json!({"type": "claim", "claims": [w.claim_row(&config, 2000, 2000)], "claimAuthorizerSignature": signature}),
    );
    let claimed = w.facilitator.settle(&signed).await;
    assert!(claimed.success && claimed.transaction.starts_with("0x"), "{claimed:?}");
    let direct = w.request(
        "batch-settlement",
        0,
        json!({"type": "claim", "claims": [w.claim_row(&config, 3000, 3000)]}),
    );
    let claimed = w.facilitator.settle(&direct).await;
    assert!(claimed.success, "{claimed:?}");
    let contract = IBatchSettlement::new(x402::BATCH_SETTLEMENT, w.net.deployer().provider());
    assert_eq!(contract.channels(id).call().await.unwrap().totalClaimed, 3000);
    // A voucher at what was claimed is no longer taken.
    assert_eq!(w.refused(&voucher(3000)).await, reason::CUMULATIVE_BELOW_CLAIMED);

    // The receiver's settlement moves what was claimed.
    let settle =
        w.request("batch-settlement", 0, json!({"type": "settle", "receiver": w.receiver, "token": w.token}));
    let settled = w.facilitator.settle(&settle).await;
    assert!(settled.success, "{settled:?}");
    assert_eq!(settled.amount.as_deref(), Some("3000"));
    assert_eq!(w.dollars(w.receiver).await, 400 + 3000);

    // A refund with its outstanding claim: the claim first, then the rest back to the payer.
    let refund = w.request(
        "batch-settlement",
        1000,
        json!({
            "type": "refund", "channelConfig": config, "voucher": w.voucher(&config, 4000),
            "amount": "96000", "refundNonce": "0", "claims": [w.claim_row(&config, 4000, 4000)],
        }),
    );
    let verified = w.verify(&refund).await;
    assert!(verified.is_valid, "a refund voucher at the claimed total: {verified:?}");
    let refunded = w.facilitator.settle(&refund).await;
    assert!(refunded.success, "{refunded:?}");
    assert_eq!(refunded.amount.as_deref(), Some("96000"));
    let state = &refunded.extra.as_ref().unwrap()["channelState"];
    assert_eq!(
        (state["balance"].clone(), state["totalClaimed"].clone(), state["refundNonce"].clone()),
        (json!("4000"), json!("4000"), json!("1"))
    );
    assert_eq!(w.settle_refused(&refund).await, reason::REFUND_NONCE, "a refund is made once");
    let settled = w.facilitator.settle(&settle).await;
    assert_eq!(settled.amount.as_deref(), Some("1000"), "{settled:?}");
    assert_eq!(w.dollars(w.receiver).await, 400 + 4000);
    assert_eq!(
        w.dollars(w.payer.address()).await,
        payer_start - 400 - 4000,
        "the payer paid what was charged"
    );
}
