//! The guard's scenario suite on anvil: every attack of the G01–G20 catalogue is flagged at its
//! level, and where it is an attack it is also executed, to show that the loss the guard
//! predicted is the loss that happens. A benign suite raises nothing above `low`, the two
//! simulators agree on the facts, and a wallet pointed at `agora guard` gets refusals with the
//! verdict while ordinary traffic passes.

#![allow(clippy::unwrap_used)] // test helpers panic to fail the test

mod proxy;
mod request_fuzz;
mod snapshots;
mod world;

use agora_guard::{Level, SimulatorKind, verdict::ChangeKind};
use alloy::{
    consensus::{SignableTransaction, TxEnvelope, TxLegacy},
    eips::Encodable2718,
    primitives::{Address, B256, Bytes, TxKind, U256, hex},
    providers::Provider,
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::SolCall,
};
use serde_json::json;
use world::*;

const ETH: u128 = 1_000_000_000_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_g01_g02_g04_g11_g16_are_flagged_and_the_exposure_is_what_an_attacker_takes() {
    let w = World::start().await;
    for kind in [SimulatorKind::Revm, SimulatorKind::Node] {
        let g = w.guard(kind);
        // G01 + G02: an unlimited allowance to a personal account.
        let u = w.fresh_user().await;
        let tx = w.tx(
            &u,
            w.mock,
            MockToken::increaseAllowanceCall { spender: w.attacker.address(), added: U256::from(1u8) << 255 }
                .abi_encode(),
        );
        let v = check(&g, "eth_sendTransaction", json!([tx])).await;
        expect(&v, "G01", Level::High);
        expect(&v, "G02", Level::High);
        let predicted = v.total(ChangeKind::Exposed, Some(w.mock));
        assert_eq!(predicted, U256::from(1000u64) * U256::from(ETH), "{v:#?}");
        if kind == SimulatorKind::Revm {
            w.send(
                &u,
                w.mock,
                MockToken::increaseAllowanceCall {
                    spender: w.attacker.address(),
                    added: U256::from(1u8) << 255,
                }
                .abi_encode(),
                0,
            )
            .await;
            let before = w.token_balance(w.mock, w.attacker.address()).await;
            w.send(
                &w.attacker,
                w.mock,
                MockToken::transferFromCall { from: u.address(), to: w.attacker.address(), value: predicted }
                    .abi_encode(),
                0,
            )
            .await;
            assert_eq!(
                w.token_balance(w.mock, w.attacker.address()).await - before,
                predicted,
                "the predicted exposure is what the attacker takes"
            );
        }

        // G01 at medium: unlimited, but to the router the user allow-listed.
        let v = check(
            &g,
            "eth_sendTransaction",
            json!([w.tx(
                &u,
                w.mock,
                MockToken::approveCall { spender: w.router, value: U256::MAX }.abi_encode()
            )]),
        )
        .await;
        expect(&v, "G01", Level::Medium);
        assert_eq!(v.level, Level::Medium, "{v:#?}");

        // G02 on an EOA that delegated its code (EIP-7702) is still a personal account.
        let v = check(
            &g,
            "eth_sendTransaction",
            json!([w.tx(
                &u,
                w.mock,
                MockToken::approveCall { spender: w.delegated_eoa, value: U256::from(1u8) }.abi_encode()
            )]),
        )
        .await;
        expect(&v, "G02", Level::High);
        assert!(v.findings.iter().any(|f| f.id == "G02" && f.message.contains("delegated")), "{v:#?}");

        // G04: a whole collection to an unknown operator, then the attacker takes all three.
        let u = w.fresh_user().await;
        for id in 1..=3u64 {
            w.send(
                &w.deployer,
                w.nft,
                MockNFT::mintCall {
                    to: u.address(),
                    id: U256::from(id) + U256::from_be_slice(&u.address()[12..]) * U256::from(10u8),
                }
                .abi_encode(),
                0,
            )
            .await;
        }
        let call =
            MockNFT::setApprovalForAllCall { operator: w.attacker.address(), approved: true }.abi_encode();
        let v = check(&g, "eth_sendTransaction", json!([w.tx(&u, w.nft, call.clone())])).await;
        expect(&v, "G04", Level::High);
        assert!(v.findings.iter().any(|f| f.id == "G04" && f.message.contains("(3 today)")), "{v:#?}");

        // G11: an airdrop claim batched with an approval to the attacker.
        let calls = json!([{
            "from": u.address(), "chainId": "0x7a69",
            "calls": [
                { "to": w.airdrop, "data": Bytes::from(Airdrop::claimCall {}.abi_encode()) },
                { "to": w.mock, "data": Bytes::from(MockToken::approveCall { spender: w.attacker.address(), value: U256::MAX }.abi_encode()) },
            ],
        }]);
        let v = check(&g, "wallet_sendCalls", calls).await;
        expect(&v, "G11", Level::High);
        let exposed = v.total(ChangeKind::Exposed, Some(w.mock));
        assert_eq!(exposed, U256::from(1000u64) * U256::from(ETH));
        if kind == SimulatorKind::Revm {
            w.send(&u, w.airdrop, Airdrop::claimCall {}.abi_encode(), 0).await;
            w.send(
                &u,
                w.mock,
                MockToken::approveCall { spender: w.attacker.address(), value: U256::MAX }.abi_encode(),
                0,
            )
            .await;
            let before = w.token_balance(w.mock, u.address()).await;
            w.send(
                &w.attacker,
                w.mock,
                MockToken::transferFromCall { from: u.address(), to: w.attacker.address(), value: before }
                    .abi_encode(),
                0,
            )
            .await;
            assert_eq!(before, exposed, "the hidden approval exposes exactly what the attacker takes");
            // And the G04 approval: the attacker moves all three NFTs.
            w.send(&u, w.nft, call.clone(), 0).await;
            for id in 1..=3u64 {
                let id = U256::from(id) + U256::from_be_slice(&u.address()[12..]) * U256::from(10u8);
                w.send(
                    &w.attacker,
                    w.nft,
                    MockNFT::transferFromCall { from: u.address(), to: w.attacker.address(), tokenId: id }
                        .abi_encode(),
                    0,
                )
                .await;
            }
        }

        // G16: a blocked spender, and a look-alike site.
        let v = check(
            &g,
            "eth_sendTransaction",
            json!([w.tx(
                &u,
                w.mock,
                MockToken::approveCall { spender: w.blocked, value: U256::from(5u8) }.abi_encode()
            )]),
        )
        .await;
        expect(&v, "G16", Level::Critical);
        let v = check_from(
            &g,
            "personal_sign",
            json!(["0x68656c6c6f", u.address()]),
            Some("https://rnetamask.io"),
        )
        .await;
        expect(&v, "G16", Level::High);
        let v = check_from(
            &g,
            "personal_sign",
            json!(["0x68656c6c6f", u.address()]),
            Some("https://nfts-mints.com"),
        )
        .await;
        expect(&v, "G16", Level::Critical);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_g05_g06_g07_g08_g14_g19_are_flagged_and_the_signed_loss_happens() {
    let w = World::start().await;
    let g = w.guard(SimulatorKind::Revm);
    let chain = 31337u64;

    // G05 + G19: an EIP-2612 permit of everything to a personal account, valid forever.
    let u = w.fresh_user().await;
    let nonce = U256::ZERO;
    let permit = json!({
        "types": {
            "EIP712Domain": [{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],
            "Permit": [{"name":"owner","type":"address"},{"name":"spender","type":"address"},{"name":"value","type":"uint256"},{"name":"nonce","type":"uint256"},{"name":"deadline","type":"uint256"}]
        },
        "primaryType": "Permit",
        "domain": {"name": "Mock", "version": "1", "chainId": chain, "verifyingContract": w.mock},
        "message": {"owner": u.address(), "spender": w.attacker.address(), "value": U256::MAX.to_string(), "nonce": nonce.to_string(), "deadline": U256::MAX.to_string()}
    });
    let v = check(&g, "eth_signTypedData_v4", json!([u.address(), permit.to_string()])).await;
    expect(&v, "G05", Level::Critical);
    expect(&v, "G19", Level::Medium);
    let predicted = v.total(ChangeKind::Exposed, Some(w.mock));
    assert_eq!(predicted, U256::from(1000u64) * U256::from(ETH), "{v:#?}");
    assert!(v.findings.iter().any(|f| f.id == "G05" && f.message.contains("take 1000 MOCK")), "{v:#?}");
    // Sign it for real and let the attacker use it.
    let sig = sign_typed(&u, &permit);
    w.send(
        &w.attacker,
        w.mock,
        MockToken::permitCall {
            owner: u.address(),
            spender: w.attacker.address(),
            value: U256::MAX,
            deadline: U256::MAX,
            v: 27 + sig.v() as u8,
            r: sig.r().into(),
            s: sig.s().into(),
        }
        .abi_encode(),
        0,
    )
    .await;
    let before = w.token_balance(w.mock, w.attacker.address()).await;
    w.send(
        &w.attacker,
        w.mock,
        MockToken::transferFromCall { from: u.address(), to: w.attacker.address(), value: predicted }
            .abi_encode(),
        0,
    )
    .await;
    assert_eq!(w.token_balance(w.mock, w.attacker.address()).await - before, predicted);

    // G14: the same permit for another chain.
    let mut other = permit.clone();
    other["domain"]["chainId"] = json!(1);
    let v = check(&g, "eth_signTypedData_v4", json!([u.address(), other])).await;
    expect(&v, "G14", Level::High);

    // G06: a Permit2 batch over two tokens to a personal account.
    let u = w.fresh_user().await;
    for token in [w.mock, w.other] {
        w.send(
            &u,
            token,
            MockToken::approveCall { spender: agora_guard::lists::PERMIT2, value: U256::MAX }.abi_encode(),
            0,
        )
        .await;
    }
    let max160 = ((U256::from(1u8) << 160usize) - U256::from(1u8)).to_string();
    let batch = json!({
        "types": {
            "EIP712Domain": [{"name":"name","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],
            "PermitDetails": [{"name":"token","type":"address"},{"name":"amount","type":"uint160"},{"name":"expiration","type":"uint48"},{"name":"nonce","type":"uint48"}],
            "PermitBatch": [{"name":"details","type":"PermitDetails[]"},{"name":"spender","type":"address"},{"name":"sigDeadline","type":"uint256"}]
        },
        "primaryType": "PermitBatch",
        "domain": {"name": "Permit2", "chainId": chain, "verifyingContract": agora_guard::lists::PERMIT2},
        "message": {
            "details": [
                {"token": w.mock, "amount": max160, "expiration": "0", "nonce": "0"},
                {"token": w.other, "amount": max160, "expiration": "0", "nonce": "0"}
            ],
            "spender": w.attacker.address(), "sigDeadline": (w.now().await + 3600).to_string()
        }
    });
    let v = check(&g, "eth_signTypedData_v4", json!([u.address(), batch.to_string()])).await;
    expect(&v, "G06", Level::Critical);
    let (p_mock, p_other) =
        (v.total(ChangeKind::Exposed, Some(w.mock)), v.total(ChangeKind::Exposed, Some(w.other)));
    assert_eq!(
        (p_mock, p_other),
        (U256::from(1000u64) * U256::from(ETH), U256::from(500u64) * U256::from(ETH)),
        "{v:#?}"
    );
    let sig = sign_typed(&u, &batch);
    let details = vec![
        Permit2Lite::PermitDetails {
            token: w.mock,
            amount: alloy::primitives::U160::MAX,
            expiration: alloy::primitives::aliases::U48::ZERO,
            nonce: alloy::primitives::aliases::U48::ZERO,
        },
        Permit2Lite::PermitDetails {
            token: w.other,
            amount: alloy::primitives::U160::MAX,
            expiration: alloy::primitives::aliases::U48::ZERO,
            nonce: alloy::primitives::aliases::U48::ZERO,
        },
    ];
    let deadline = U256::from(batch["message"]["sigDeadline"].as_str().unwrap().parse::<u64>().unwrap());
    w.send(
        &w.attacker,
        agora_guard::lists::PERMIT2,
        Permit2Lite::permitCall {
            owner: u.address(),
            batch: Permit2Lite::PermitBatch { details, spender: w.attacker.address(), sigDeadline: deadline },
            signature: sig.as_bytes().into(),
        }
        .abi_encode(),
        0,
    )
    .await;
    for (token, predicted) in [(w.mock, p_mock), (w.other, p_other)] {
        let before = w.token_balance(token, w.attacker.address()).await;
        w.send(
            &w.attacker,
            agora_guard::lists::PERMIT2,
            Permit2Lite::transferFromCall {
                from: u.address(),
                to: w.attacker.address(),
                amount: predicted.to(),
                token,
            }
            .abi_encode(),
            0,
        )
        .await;
        assert_eq!(w.token_balance(token, w.attacker.address()).await - before, predicted);
    }

    // A single Permit2 allowance to the router the user allow-listed: medium, and the exposure
    // is what the router could pull.
    let mut single = batch.clone();
    single["types"]["PermitSingle"] = json!([{"name":"details","type":"PermitDetails"},{"name":"spender","type":"address"},{"name":"sigDeadline","type":"uint256"}]);
    single["types"].as_object_mut().unwrap().remove("PermitBatch");
    single["primaryType"] = json!("PermitSingle");
    single["message"]["details"] = json!({"token": w.mock, "amount": (U256::from(10u64) * U256::from(ETH)).to_string(), "expiration": (w.now().await + 3600).to_string(), "nonce": "0"});
    single["message"]["spender"] = json!(w.router);
    let fresh = w.fresh_user().await;
    w.send(
        &fresh,
        w.mock,
        MockToken::approveCall { spender: agora_guard::lists::PERMIT2, value: U256::MAX }.abi_encode(),
        0,
    )
    .await;
    let v = check(&g, "eth_signTypedData_v4", json!([fresh.address(), single])).await;
    expect(&v, "G06", Level::Medium);
    assert_eq!(v.total(ChangeKind::Exposed, Some(w.mock)), U256::from(10u64) * U256::from(ETH), "{v:#?}");

    // G07: an order that sells an NFT for one wei paid to the attacker.
    let u = w.fresh_user().await;
    let id = U256::from_be_slice(&u.address()[12..]) * U256::from(10u8) + U256::from(7u8);
    w.send(&w.deployer, w.nft, MockNFT::mintCall { to: u.address(), id }.abi_encode(), 0).await;
    w.send(&u, w.nft, MockNFT::setApprovalForAllCall { operator: w.market, approved: true }.abi_encode(), 0)
        .await;
    let order = w.order(u.address(), id, w.attacker.address(), U256::from(1u8)).await;
    let v = check(&g, "eth_signTypedData_v4", json!([u.address(), order.to_string()])).await;
    expect(&v, "G07", Level::Critical);
    assert_eq!(v.total(ChangeKind::Exposed, Some(w.nft)), U256::from(1u8), "{v:#?}");
    let sig = sign_typed(&u, &order);
    let params = order_params(&order);
    w.send(
        &w.attacker,
        w.market,
        MiniMarket::fulfillOrderCall {
            order: MiniMarket::Order { parameters: params, signature: sig.as_bytes().into() },
            _1: B256::ZERO,
        }
        .abi_encode(),
        1,
    )
    .await;
    assert_eq!(w.nft_owner(id).await, w.attacker.address(), "the NFT went for one wei to the attacker");

    // G07 on Blur: a sell order at zero, and a blind bulk root.
    let blur = |price: &str| {
        json!({
            "types": {
                "EIP712Domain": [{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],
                "Fee": [{"name":"rate","type":"uint16"},{"name":"recipient","type":"address"}],
                "Order": [{"name":"trader","type":"address"},{"name":"side","type":"uint8"},{"name":"matchingPolicy","type":"address"},{"name":"collection","type":"address"},{"name":"tokenId","type":"uint256"},{"name":"amount","type":"uint256"},{"name":"paymentToken","type":"address"},{"name":"price","type":"uint256"},{"name":"listingTime","type":"uint256"},{"name":"expirationTime","type":"uint256"},{"name":"fees","type":"Fee[]"},{"name":"salt","type":"uint256"},{"name":"extraParams","type":"bytes"},{"name":"nonce","type":"uint256"}]
            },
            "primaryType": "Order",
            "domain": {"name": "Blur Exchange", "version": "1.0", "chainId": chain, "verifyingContract": "0x000000000000Ad05Ccc4F10045630fb830B95127"},
            "message": {"trader": u.address(), "side": 1, "matchingPolicy": Address::ZERO, "collection": w.nft, "tokenId": id.to_string(), "amount": "1", "paymentToken": Address::ZERO, "price": price, "listingTime": "0", "expirationTime": "1", "fees": [], "salt": "7", "extraParams": "0x", "nonce": "0"}
        })
    };
    let v = check(&g, "eth_signTypedData_v4", json!([u.address(), blur("0")])).await;
    expect(&v, "G07", Level::Critical);
    let v = check(&g, "eth_signTypedData_v4", json!([u.address(), blur("2000000000000000000")])).await;
    expect(&v, "G07", Level::Info);
    let root = json!({
        "types": {"EIP712Domain": [{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}], "Root": [{"name":"root","type":"bytes32"}]},
        "primaryType": "Root",
        "domain": {"name": "Blur Exchange", "version": "1.0", "chainId": chain, "verifyingContract": "0x000000000000Ad05Ccc4F10045630fb830B95127"},
        "message": {"root": B256::repeat_byte(7)}
    });
    let v = check(&g, "eth_signTypedData_v4", json!([u.address(), root])).await;
    expect(&v, "G07", Level::High);

    // G08: eth_sign of a transaction hash, which the attacker then broadcasts.
    let u = w.fresh_user().await;
    let nonce = w.provider.get_transaction_count(u.address()).await.unwrap();
    let tx = TxLegacy {
        chain_id: Some(chain),
        nonce,
        gas_price: 2_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(w.attacker.address()),
        value: U256::from(ETH),
        input: Bytes::new(),
    };
    let hash = tx.signature_hash();
    let v = check(&g, "eth_sign", json!([u.address(), hash])).await;
    expect(&v, "G08", Level::Critical);
    let sig = u.sign_hash_sync(&hash).unwrap();
    let raw = TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
    let before = w.provider.get_balance(w.attacker.address()).await.unwrap();
    let pending = w.provider.send_raw_transaction(&raw).await.unwrap();
    pending.get_receipt().await.unwrap();
    assert_eq!(
        w.provider.get_balance(w.attacker.address()).await.unwrap() - before,
        U256::from(ETH),
        "a blind signature moved 1 ETH"
    );
    // personal_sign of 32 opaque bytes.
    let v =
        check(&g, "personal_sign", json!([format!("0x{}", hex::encode([0xa5u8; 32])), u.address()])).await;
    expect(&v, "G08", Level::High);

    // G08: typed data the guard does not understand; a sign-in for another site; G14: a sign-in
    // for another chain.
    let unknown = json!({
        "types": {
            "EIP712Domain": [{"name":"name","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],
            "Grant": [{"name":"to","type":"address"},{"name":"what","type":"string"}]
        },
        "primaryType": "Grant",
        "domain": {"name": "Mystery", "chainId": chain, "verifyingContract": w.attacker.address()},
        "message": {"to": w.attacker.address(), "what": "everything"}
    });
    let v = check(&g, "eth_signTypedData_v4", json!([u.address(), unknown])).await;
    expect(&v, "G08", Level::Medium);
    let siwe = |domain: &str, chain_id: u64| {
        let text = format!(
            "{domain} wants you to sign in with your Ethereum account:\n{}\n\nSign in.\n\nURI: https://{domain}\nVersion: 1\nChain ID: {chain_id}\nNonce: 12345678\nIssued At: 2026-11-22T10:00:00Z",
            u.address().to_checksum(None)
        );
        json!([format!("0x{}", hex::encode(text.as_bytes())), u.address()])
    };
    let v =
        check_from(&g, "personal_sign", siwe("app.example.org", chain), Some("https://evil.example")).await;
    expect(&v, "G08", Level::High);
    let v =
        check_from(&g, "personal_sign", siwe("app.example.org", 1), Some("https://app.example.org")).await;
    expect(&v, "G14", Level::High);
    assert_eq!(v.level_of("G08"), None, "{v:#?}");

    // G14: a raw transaction for another chain, and one without any chain id.
    let nonce = w.provider.get_transaction_count(u.address()).await.unwrap();
    for (chain_id, level) in [(Some(1u64), Level::Critical), (None, Level::High)] {
        let tx = TxLegacy {
            chain_id,
            nonce,
            gas_price: 2_000_000_000,
            gas_limit: 21_000,
            to: TxKind::Call(w.contact),
            value: U256::from(1u8),
            input: Bytes::new(),
        };
        let sig = u.sign_hash_sync(&tx.signature_hash()).unwrap();
        let raw = TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
        let v = check(&g, "eth_sendRawTransaction", json!([Bytes::from(raw)])).await;
        expect(&v, "G14", level);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_g09_g10_g12_g13_g15_g17_g18_g20_are_flagged_and_the_predicted_loss_happens() {
    let w = World::start().await;
    let g = w.guard(SimulatorKind::Revm);

    // G09: 100 MOCK to an address that imitates a contact (first and last hex digits equal).
    let u = w.fresh_user().await;
    let mut lookalike = w.contact.0;
    lookalike[8] ^= 0x5a;
    lookalike[9] ^= 0xa5;
    let lookalike = Address::from(lookalike);
    w.send(&w.deployer, w.mock, MockToken::poisonCall { from: u.address(), to: lookalike }.abi_encode(), 0)
        .await;
    let hundred = U256::from(100u64) * U256::from(ETH);
    let call = MockToken::transferCall { to: lookalike, value: hundred }.abi_encode();
    let v = check(&g, "eth_sendTransaction", json!([w.tx(&u, w.mock, call.clone())])).await;
    expect(&v, "G09", Level::Critical);
    assert!(v.findings[0].evidence.iter().any(|e| e.starts_with("1 zero-value Transfer event(s)")), "{v:#?}");
    assert_eq!(v.total(ChangeKind::Lose, Some(w.mock)), hundred);
    w.send(&u, w.mock, call, 0).await;
    assert_eq!(w.token_balance(w.mock, lookalike).await, hundred);

    // G10: a type-4 transaction delegating the account to a sweeper; then 1 ETH arrives and is swept.
    let u = w.fresh_user().await;
    let balance = w.provider.get_balance(u.address()).await.unwrap();
    let raw = w.delegation_tx(&u, w.sweeper).await;
    let v = check(&g, "eth_sendRawTransaction", json!([raw.clone()])).await;
    expect(&v, "G10", Level::Critical);
    assert_eq!(v.total(ChangeKind::Exposed, None), balance, "{v:#?}");
    let before = w.provider.get_balance(w.attacker.address()).await.unwrap();
    w.provider.send_raw_transaction(&raw).await.unwrap().get_receipt().await.unwrap();
    w.send(&w.deployer, u.address(), vec![], ETH).await;
    assert_eq!(
        w.provider.get_balance(u.address()).await.unwrap(),
        U256::ZERO,
        "the sweeper emptied the account"
    );
    assert!(
        w.provider.get_balance(w.attacker.address()).await.unwrap() - before
            > balance - U256::from(ETH / 100)
    );
    // An honest delegate that is not allow-listed is high; allow-listed it is information.
    let u = w.fresh_user().await;
    let v = check(&g, "eth_sendRawTransaction", json!([w.delegation_tx(&u, w.safe_delegate).await])).await;
    expect(&v, "G10", Level::High);
    let v = check(
        &w.guard_allowing(w.safe_delegate),
        "eth_sendRawTransaction",
        json!([w.delegation_tx(&u, w.safe_delegate).await]),
    )
    .await;
    expect(&v, "G10", Level::Info);

    // G12: ownership to an unknown party, an upgrade to unknown code, ownership to your own account.
    let u = w.fresh_user().await;
    let proxy = w.deploy_proxy(u.address()).await;
    let give = OwnedProxy::transferOwnershipCall { newOwner: w.attacker.address() }.abi_encode();
    let v = check(&g, "eth_sendTransaction", json!([w.tx(&u, proxy, give.clone())])).await;
    expect(&v, "G12", Level::Critical);
    let v = check(
        &g,
        "eth_sendTransaction",
        json!([w.tx(&u, proxy, OwnedProxy::upgradeToCall { implementation: w.sink }.abi_encode())]),
    )
    .await;
    expect(&v, "G12", Level::Critical);
    let v = check(
        &g,
        "eth_sendTransaction",
        json!([w.tx(&u, proxy, OwnedProxy::transferOwnershipCall { newOwner: w.second }.abi_encode())]),
    )
    .await;
    expect(&v, "G12", Level::Medium);
    assert_eq!(v.level, Level::Medium, "{v:#?}");
    // A "migration" that rewrites the EIP-1967 slot without any event: found in the state diff.
    let migrate = OwnedProxy::migrateCall { implementation_: w.sink }.abi_encode();
    let v = check(&g, "eth_sendTransaction", json!([w.tx(&u, proxy, migrate.clone())])).await;
    expect(&v, "G12", Level::Critical);
    let v =
        check(&w.guard(SimulatorKind::Node), "eth_sendTransaction", json!([w.tx(&u, proxy, migrate)])).await;
    expect(&v, "G12", Level::Critical);
    w.send(&u, proxy, give, 0).await;
    assert_eq!(w.proxy_owner(proxy).await, w.attacker.address());

    // G13: tokens to their own contract, an NFT into a vault without the hook, ETH into a sink,
    // data to an account without code, tokens to the burn address.
    let u = w.fresh_user().await;
    let v = check(
        &g,
        "eth_sendTransaction",
        json!([w.tx(&u, w.mock, MockToken::transferCall { to: w.mock, value: hundred }.abi_encode())]),
    )
    .await;
    expect(&v, "G13", Level::High);
    let id = U256::from_be_slice(&u.address()[12..]) * U256::from(10u8) + U256::from(5u8);
    w.send(&w.deployer, w.nft, MockNFT::mintCall { to: u.address(), id }.abi_encode(), 0).await;
    let v = check(
        &g,
        "eth_sendTransaction",
        json!([w.tx(
            &u,
            w.nft,
            MockNFT::transferFromCall { from: u.address(), to: w.vault, tokenId: id }.abi_encode()
        )]),
    )
    .await;
    expect(&v, "G13", Level::High);
    let v = check(&g, "eth_sendTransaction", json!([w.tx_value(&u, w.sink, vec![], ETH)])).await;
    expect(&v, "G13", Level::Medium);
    let v =
        check(&g, "eth_sendTransaction", json!([w.tx(&u, w.contact, vec![0xde, 0xad, 0xbe, 0xef])])).await;
    expect(&v, "G13", Level::Medium);
    let v = check(
        &g,
        "eth_sendTransaction",
        json!([w.tx(
            &u,
            w.mock,
            MockToken::transferCall {
                to: "0x000000000000000000000000000000000000dEaD".parse().unwrap(),
                value: hundred
            }
            .abi_encode()
        )]),
    )
    .await;
    expect(&v, "G13", Level::High);

    // G15: a payable claim that forwards your ETH to a third party; a delegatecall to code named
    // in the calldata; a selfdestruct.
    let u = w.fresh_user().await;
    let claim = Forwarder::claimCall {}.abi_encode();
    let v = check(&g, "eth_sendTransaction", json!([w.tx_value(&u, w.forwarder, claim.clone(), ETH)])).await;
    expect(&v, "G15", Level::Critical);
    assert_eq!(v.total(ChangeKind::Lose, None), U256::from(ETH));
    let before = w.provider.get_balance(w.attacker.address()).await.unwrap();
    w.send(&u, w.forwarder, claim, ETH).await;
    assert_eq!(w.provider.get_balance(w.attacker.address()).await.unwrap() - before, U256::from(ETH));
    let v = check(
        &g,
        "eth_sendTransaction",
        json!([w.tx(
            &u,
            w.executor,
            Executor::runCall { target: w.airdrop, data: Airdrop::claimCall {}.abi_encode().into() }
                .abi_encode()
        )]),
    )
    .await;
    expect(&v, "G15", Level::High);
    // The selfdestruct pays its balance to the attacker's account: forwarded ETH, critical.
    let v = check(
        &g,
        "eth_sendTransaction",
        json!([w.tx_value(&u, w.bomb, Bomb::claimCall {}.abi_encode(), ETH)]),
    )
    .await;
    expect(&v, "G15", Level::Critical);
    assert!(
        v.findings
            .iter()
            .any(|f| f.id == "G15" && f.level == Level::High && f.title == "Self-destructing contract"),
        "{v:#?}"
    );

    // G17: a swap that pays out a token that only claims to be USDC; a mint that mints nothing.
    let u = w.fresh_user().await;
    w.send(&u, w.mock, MockToken::approveCall { spender: w.fakeswap, value: hundred }.abi_encode(), 0).await;
    let v =
        check(&g, "eth_sendTransaction", json!([w.tx(&u, w.fakeswap, FakeSwap::swapCall {}.abi_encode())]))
            .await;
    expect(&v, "G17", Level::High);
    assert!(v.findings.iter().any(|f| f.title == "Fake token"), "{v:#?}");
    let v = check(
        &g,
        "eth_sendTransaction",
        json!([w.tx_value(&u, w.empty_mint, EmptyMint::mintCall {}.abi_encode(), ETH)]),
    )
    .await;
    expect(&v, "G17", Level::High);

    // G18: a contract that behaves in a simulator's block and drains in a real one.
    let u = w.fresh_user().await;
    let claim = Evasive::claimCall {}.abi_encode();
    let v = check(&g, "eth_sendTransaction", json!([w.tx_value(&u, w.evasive, claim.clone(), ETH)])).await;
    expect(&v, "G18", Level::High);
    assert_eq!(v.total(ChangeKind::Lose, None), U256::from(ETH), "{v:#?}");
    let _: serde_json::Value =
        w.provider.raw_request("anvil_setCoinbase".into(), (w.contact,)).await.unwrap();
    let before = w.provider.get_balance(w.attacker.address()).await.unwrap();
    w.send(&u, w.evasive, claim, ETH).await;
    assert_eq!(
        w.provider.get_balance(w.attacker.address()).await.unwrap() - before,
        U256::from(ETH),
        "in a real block the ETH is drained"
    );

    // G20: a revoke that burns millions of gas.
    let u = w.fresh_user().await;
    let v = check(
        &g,
        "eth_sendTransaction",
        json!([w.tx(
            &u,
            w.heavy,
            MockToken::approveCall { spender: w.router, value: U256::ZERO }.abi_encode()
        )]),
    )
    .await;
    expect(&v, "G20", Level::Medium);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spender_deployed_a_day_ago_is_fresh_and_four_days_later_it_is_not() {
    let w = World::start().await;
    let g = w.guard(SimulatorKind::Revm);
    let u = w.fresh_user().await;
    let spender = w.deploy_router().await;
    w.time_travel(86_400).await;
    let call = MockToken::approveCall { spender, value: U256::from(10u8) }.abi_encode();
    let v = check(&g, "eth_sendTransaction", json!([w.tx(&u, w.mock, call.clone())])).await;
    expect(&v, "G03", Level::Medium);
    assert!(v.findings.iter().any(|f| f.id == "G03" && f.message.contains("24 hours ago")), "{v:#?}");
    w.time_travel(3 * 86_400).await;
    let v = check(&g, "eth_sendTransaction", json!([w.tx(&u, w.mock, call)])).await;
    assert_eq!(v.level_of("G03"), Some(Level::Low), "only unfamiliar now, no longer fresh: {v:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn benign_requests_raise_nothing_above_low_with_either_simulator() {
    let w = World::start().await;
    // A router the users will have dealt with for days, and a swap paying in a token that copies
    // nothing.
    let familiar = w.deploy_router().await;
    let honest_swap = w.deploy_swap(w.other).await;
    w.time_travel(4 * 86_400).await;
    for kind in [SimulatorKind::Revm, SimulatorKind::Node] {
        let g = w.guard(kind);
        let u = w.fresh_user().await;
        w.send(
            &u,
            w.mock,
            MockToken::approveCall { spender: familiar, value: U256::from(ETH) }.abi_encode(),
            0,
        )
        .await;
        w.send(&u, familiar, Router::pullCall { token: w.mock, amount: U256::from(ETH) }.abi_encode(), 0)
            .await;
        w.send(
            &u,
            w.mock,
            MockToken::approveCall { spender: honest_swap, value: U256::from(100u64) * U256::from(ETH) }
                .abi_encode(),
            0,
        )
        .await;
        let soon = w.now().await + 1800;
        let ordinary_fee =
            w.raw_tx(&u, w.contact, U256::from(ETH / 10), 21_000, 3_000_000_000, 1_000_000_000).await;
        let delegated = w.fresh_user().await;
        w.delegate(delegated.address(), w.safe_delegate).await;
        let pay_7702 = batch_7702(
            delegated.address(),
            vec![(w.vault, 0, Vault::noteCall {}.abi_encode()), (w.contact, ETH / 10, vec![])],
        );
        let id = U256::from(if kind == SimulatorKind::Revm { 91_000u64 } else { 92_000 });
        w.send(&w.deployer, w.nft, MockNFT::mintCall { to: u.address(), id }.abi_encode(), 0).await;
        w.send(
            &u,
            w.nft,
            MockNFT::setApprovalForAllCall { operator: w.market, approved: true }.abi_encode(),
            0,
        )
        .await;
        let fair = w.order(u.address(), id, u.address(), U256::from(ETH)).await;
        w.send(
            &u,
            w.mock,
            MockToken::approveCall { spender: w.router, value: U256::from(ETH) }.abi_encode(),
            0,
        )
        .await;
        let deposit = Router::pullCall { token: w.mock, amount: U256::from(ETH) }.abi_encode();
        // Buying a listed NFT: the 1 ETH passes through the market to the seller's account.
        let seller = w.net.wallet(4);
        let listed = id + U256::from(5u8);
        w.send(&w.deployer, w.nft, MockNFT::mintCall { to: seller.address(), id: listed }.abi_encode(), 0)
            .await;
        w.send(
            &seller,
            w.nft,
            MockNFT::setApprovalForAllCall { operator: w.market, approved: true }.abi_encode(),
            0,
        )
        .await;
        let listing = w.order(seller.address(), listed, seller.address(), U256::from(ETH)).await;
        let signature = sign_typed(&seller, &listing);
        let buy = MiniMarket::fulfillOrderCall {
            order: MiniMarket::Order {
                parameters: order_params(&listing),
                signature: signature.as_bytes().into(),
            },
            _1: B256::ZERO,
        }
        .abi_encode();
        let siwe = format!(
            "app.example.org wants you to sign in with your Ethereum account:\n{}\n\nSign in to the example app.\n\nURI: https://app.example.org\nVersion: 1\nChain ID: 31337\nNonce: 32891756\nIssued At: 2026-11-22T10:00:00Z",
            u.address().to_checksum(None)
        );
        let cases: Vec<(&str, &str, serde_json::Value, Option<&str>)> = vec![
            (
                "ETH to a contact",
                "eth_sendTransaction",
                json!([w.tx_value(&u, w.contact, vec![], ETH / 10)]),
                None,
            ),
            (
                "tokens to a contact",
                "eth_sendTransaction",
                json!([w.tx(
                    &u,
                    w.mock,
                    MockToken::transferCall { to: w.contact, value: U256::from(ETH) }.abi_encode()
                )]),
                None,
            ),
            (
                "exact approval to a known router",
                "eth_sendTransaction",
                json!([w.tx(
                    &u,
                    w.mock,
                    MockToken::approveCall { spender: w.router, value: U256::from(ETH) }.abi_encode()
                )]),
                None,
            ),
            (
                "a revoke",
                "eth_sendTransaction",
                json!([w.tx(
                    &u,
                    w.mock,
                    MockToken::approveCall { spender: w.attacker.address(), value: U256::ZERO }.abi_encode()
                )]),
                None,
            ),
            (
                "an NFT revoke",
                "eth_sendTransaction",
                json!([w.tx(
                    &u,
                    w.nft,
                    MockNFT::setApprovalForAllCall { operator: w.attacker.address(), approved: false }
                        .abi_encode()
                )]),
                None,
            ),
            ("a fair listing", "eth_signTypedData_v4", json!([u.address(), fair.to_string()]), None),
            (
                "a deposit into the router the user trusts",
                "eth_sendTransaction",
                json!([w.tx(&u, w.router, deposit)]),
                None,
            ),
            ("buying a listed NFT", "eth_sendTransaction", json!([w.tx_value(&u, w.market, buy, ETH)]), None),
            (
                "a correct sign-in",
                "personal_sign",
                json!([format!("0x{}", hex::encode(siwe.as_bytes())), u.address()]),
                Some("https://app.example.org"),
            ),
            (
                "a plain message",
                "personal_sign",
                json!(["0x68656c6c6f", u.address()]),
                Some("https://app.example.org"),
            ),
            ("ordinary fees", "eth_sendRawTransaction", json!([ordinary_fee]), None),
            ("an EIP-7702 batch paying a contact", "eth_sendTransaction", json!([pay_7702]), None),
            (
                "a swap paying in a token that copies nothing",
                "eth_sendTransaction",
                json!([w.tx(&u, honest_swap, FakeSwap::swapCall {}.abi_encode())]),
                None,
            ),
            (
                "an exact one-day permit to a contract used for days",
                "eth_signTypedData_v4",
                json!([u.address(), permit_of(&w, u.address(), familiar, U256::from(ETH), U256::from(soon))]),
                None,
            ),
            (
                "an exact one-day Permit2 transfer to a contract used for days",
                "eth_signTypedData_v4",
                json!([u.address(), permit2_transfer(&w, familiar, U256::from(ETH), soon)]),
                None,
            ),
        ];
        for (name, method, params, origin) in cases {
            let v = check_from(&g, method, params, origin).await;
            assert!(v.level <= Level::Low, "{name} ({kind:?}) raised {}: {v:#?}", v.level);
            if name == "buying a listed NFT" {
                assert_eq!(v.total(ChangeKind::Receive, Some(w.nft)), U256::from(1u8), "{v:#?}");
                assert_eq!(v.total(ChangeKind::Lose, None), U256::from(ETH), "{v:#?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_and_the_node_simulator_see_the_same_facts() {
    let w = World::start().await;
    let (revm, node) = (w.guard(SimulatorKind::Revm), w.guard(SimulatorKind::Node));
    let u = w.fresh_user().await;
    w.send(
        &u,
        w.mock,
        MockToken::approveCall { spender: w.fakeswap, value: U256::from(100u64) * U256::from(ETH) }
            .abi_encode(),
        0,
    )
    .await;
    let corpus = vec![
        (
            "wallet_sendCalls",
            json!([{ "from": u.address(), "calls": [
                { "to": w.airdrop, "data": Bytes::from(Airdrop::claimCall {}.abi_encode()) },
                { "to": w.mock, "data": Bytes::from(MockToken::approveCall { spender: w.attacker.address(), value: U256::MAX }.abi_encode()) },
            ]}]),
        ),
        (
            "eth_sendTransaction",
            json!([w.tx_value(&u, w.forwarder, Forwarder::claimCall {}.abi_encode(), ETH)]),
        ),
        ("eth_sendTransaction", json!([w.tx(&u, w.fakeswap, FakeSwap::swapCall {}.abi_encode())])),
        ("eth_sendTransaction", json!([w.tx_value(&u, w.bomb, Bomb::claimCall {}.abi_encode(), ETH)])),
        (
            "eth_sendTransaction",
            json!([w.tx(
                &u,
                w.executor,
                Executor::runCall { target: w.airdrop, data: Airdrop::claimCall {}.abi_encode().into() }
                    .abi_encode()
            )]),
        ),
        (
            "eth_sendTransaction",
            json!([w.tx(
                &u,
                w.mock,
                MockToken::increaseAllowanceCall { spender: w.attacker.address(), added: U256::from(7u8) }
                    .abi_encode()
            )]),
        ),
        ("eth_sendTransaction", json!([w.tx_value(&u, w.contact, vec![], ETH)])),
        (
            "eth_sendTransaction",
            json!([w.tx(
                &u,
                w.mock,
                MockToken::transferCall { to: w.mock, value: U256::from(1u8) }.abi_encode()
            )]),
        ),
    ];
    for (method, params) in corpus {
        let request = agora_guard::GuardRequest::new(method, params.clone());
        let a = revm.facts(&request).await.unwrap();
        let b = node.facts(&request).await.unwrap();
        assert_eq!(a, b, "{method} {params}");
        let (va, vb) = (revm.check(&request).await.unwrap(), node.check(&request).await.unwrap());
        let ids =
            |v: &agora_guard::Verdict| v.findings.iter().map(|f| (f.id.clone(), f.level)).collect::<Vec<_>>();
        assert_eq!(ids(&va), ids(&vb), "{method} {params}");
    }
}

fn sign_typed(signer: &PrivateKeySigner, typed: &serde_json::Value) -> alloy::primitives::Signature {
    let data: alloy::dyn_abi::TypedData = serde_json::from_value(typed.clone()).unwrap();
    signer.sign_hash_sync(&data.eip712_signing_hash().unwrap()).unwrap()
}

/// EIP-2612 permit typed data for MOCK.
fn permit_of(w: &World, owner: Address, spender: Address, value: U256, deadline: U256) -> serde_json::Value {
    json!({
        "types": {
            "EIP712Domain": [{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],
            "Permit": [{"name":"owner","type":"address"},{"name":"spender","type":"address"},{"name":"value","type":"uint256"},{"name":"nonce","type":"uint256"},{"name":"deadline","type":"uint256"}]
        },
        "primaryType": "Permit",
        "domain": {"name": "Mock", "version": "1", "chainId": 31337, "verifyingContract": w.mock},
        "message": {"owner": owner, "spender": spender, "value": value.to_string(), "nonce": "0", "deadline": deadline.to_string()}
    })
}

/// A Permit2 `PermitSingle` allowance of MOCK.
fn permit2_single(
    w: &World,
    spender: Address,
    amount: U256,
    expiration: u64,
    deadline: u64,
) -> serde_json::Value {
    json!({
        "types": {
            "EIP712Domain": [{"name":"name","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],
            "PermitDetails": [{"name":"token","type":"address"},{"name":"amount","type":"uint160"},{"name":"expiration","type":"uint48"},{"name":"nonce","type":"uint48"}],
            "PermitSingle": [{"name":"details","type":"PermitDetails"},{"name":"spender","type":"address"},{"name":"sigDeadline","type":"uint256"}]
        },
        "primaryType": "PermitSingle",
        "domain": {"name": "Permit2", "chainId": 31337, "verifyingContract": agora_guard::lists::PERMIT2},
        "message": {
            "details": {"token": w.mock, "amount": amount.to_string(), "expiration": expiration.to_string(), "nonce": "0"},
            "spender": spender, "sigDeadline": deadline.to_string()
        }
    })
}

/// A Permit2 `PermitTransferFrom` (one transfer) of MOCK.
fn permit2_transfer(w: &World, spender: Address, amount: U256, deadline: u64) -> serde_json::Value {
    json!({
        "types": {
            "EIP712Domain": [{"name":"name","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],
            "TokenPermissions": [{"name":"token","type":"address"},{"name":"amount","type":"uint256"}],
            "PermitTransferFrom": [{"name":"permitted","type":"TokenPermissions"},{"name":"spender","type":"address"},{"name":"nonce","type":"uint256"},{"name":"deadline","type":"uint256"}]
        },
        "primaryType": "PermitTransferFrom",
        "domain": {"name": "Permit2", "chainId": 31337, "verifyingContract": agora_guard::lists::PERMIT2},
        "message": {"permitted": {"token": w.mock, "amount": amount.to_string()}, "spender": spender, "nonce": "7", "deadline": deadline.to_string()}
    })
}

/// `execute(calls)` of an EIP-7702 account delegated to `SafeDelegate`, sent to itself.
fn batch_7702(user: Address, calls: Vec<(Address, u128, Vec<u8>)>) -> serde_json::Value {
    let calls = calls
        .into_iter()
        .map(|(target, value, data)| SafeDelegate::Call {
            target,
            value: U256::from(value),
            data: data.into(),
        })
        .collect();
    json!({"from": user, "to": user, "data": Bytes::from(SafeDelegate::executeCall { calls }.abi_encode())})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_that_pays_in_a_look_alike_token_gives_nothing_back_even_without_a_token_list() {
    let w = World::start().await;
    // No installed token list: the tokens every guard knows are enough to see a copy.
    let g = w.guard_with(agora_guard::GuardData::embedded().unwrap());
    let hundred = U256::from(100u64) * U256::from(ETH);
    // "UЅDT" with a Cyrillic Ѕ, named like Tether's token.
    let copy = w.deploy_token("Tether USD", "UЅDT").await;
    let swap = w.deploy_swap(copy).await;
    let u = w.fresh_user().await;
    w.send(&u, w.mock, MockToken::approveCall { spender: swap, value: hundred }.abi_encode(), 0).await;
    let call = FakeSwap::swapCall {}.abi_encode();
    let v = check(&g, "eth_sendTransaction", json!([w.tx(&u, swap, call.clone())])).await;
    expect(&v, "G17", Level::High);
    assert!(
        v.findings.iter().any(|f| f.title == "Fake token" && f.message.contains("listed USDT")),
        "{v:#?}"
    );
    assert!(
        v.findings
            .iter()
            .any(|f| f.title == "You give and get nothing back" && f.message.contains("look-alike")),
        "receiving the copy is not receiving something back: {v:#?}"
    );
    let predicted = v.total(ChangeKind::Lose, Some(w.mock));
    assert_eq!(predicted, hundred, "{v:#?}");
    w.send(&u, swap, call, 0).await;
    assert_eq!(U256::from(1000u64) * U256::from(ETH) - w.token_balance(w.mock, u.address()).await, predicted);
    assert_eq!(w.token_balance(copy, u.address()).await, U256::from(1_000_000_000u64), "the copy arrived");

    // The scenario world's own USDC copy is seen without the list too.
    let u = w.fresh_user().await;
    w.send(&u, w.mock, MockToken::approveCall { spender: w.fakeswap, value: hundred }.abi_encode(), 0).await;
    let v =
        check(&g, "eth_sendTransaction", json!([w.tx(&u, w.fakeswap, FakeSwap::swapCall {}.abi_encode())]))
            .await;
    assert!(
        v.findings.iter().any(|f| f.title == "Fake token" && f.message.contains("listed USDC")),
        "{v:#?}"
    );
    assert!(v.findings.iter().any(|f| f.title == "You give and get nothing back"), "{v:#?}");

    // The same swap paying in a token that imitates nothing is a trade, not a loss.
    let honest = w.deploy_swap(w.other).await;
    let u = w.fresh_user().await;
    w.send(&u, w.mock, MockToken::approveCall { spender: honest, value: hundred }.abi_encode(), 0).await;
    for g in [&g, &w.guard(SimulatorKind::Revm)] {
        let v =
            check(g, "eth_sendTransaction", json!([w.tx(&u, honest, FakeSwap::swapCall {}.abi_encode())]))
                .await;
        assert!(v.level <= Level::Low, "{v:#?}");
        assert_eq!(v.total(ChangeKind::Receive, Some(w.other)), U256::from(1_000_000_000u64), "{v:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_priority_fee_that_burns_the_balance_is_a_loss_and_the_burn_happens() {
    let w = World::start().await;
    let g = w.guard(SimulatorKind::Revm);
    let u = w.fresh_user().await;
    let balance = w.provider.get_balance(u.address()).await.unwrap();
    // 0.1 ETH to a contact, with a priority fee that hands the block builder 40 of the 100 ETH.
    let tip = 40 * ETH / 21_000;
    let raw = w.raw_tx(&u, w.contact, U256::from(ETH / 10), 21_000, tip, tip).await;
    let v = check(&g, "eth_sendRawTransaction", json!([raw.clone()])).await;
    expect(&v, "G20", Level::High);
    assert!(
        v.findings.iter().any(|f| f.title == "Fee that burns your balance" && f.message.contains("39%")),
        "{v:#?}"
    );
    let predicted = v.total(ChangeKind::Lose, None);
    assert_eq!(predicted, U256::from(ETH / 10) + U256::from(21_000u128 * tip), "{v:#?}");
    w.provider.send_raw_transaction(&raw).await.unwrap().get_receipt().await.unwrap();
    assert_eq!(
        balance - w.provider.get_balance(u.address()).await.unwrap(),
        predicted,
        "the fee is what is lost"
    );

    // A page that only names an absurd tip: 12% of the balance is medium, named in the request.
    let u = w.fresh_user().await;
    let tip = U256::from(12 * ETH / 21_000);
    let tx = json!({"from": u.address(), "to": w.contact, "value": "0x1", "gas": "0x5208", "maxPriorityFeePerGas": tip});
    let v = check(&g, "eth_sendTransaction", json!([tx])).await;
    expect(&v, "G20", Level::Medium);

    // Ordinary fees are nothing, even for an account with little ETH (at most a note).
    let raw = w.raw_tx(&u, w.contact, U256::from(1u8), 21_000, 3_000_000_000, 1_000_000_000).await;
    let v = check(&g, "eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(v.level_of("G20"), None, "{v:#?}");
    assert!(v.level <= Level::Low, "{v:#?}");
    let poor = PrivateKeySigner::random();
    let _: serde_json::Value = w
        .provider
        .raw_request("anvil_setBalance".into(), (poor.address(), U256::from(200_000_000_000_000u64)))
        .await
        .unwrap();
    let raw = w.raw_tx(&poor, w.contact, U256::from(1u8), 21_000, 3_000_000_000, 1_000_000_000).await;
    let v = check(&g, "eth_sendRawTransaction", json!([raw])).await;
    assert!(v.level <= Level::Low, "{v:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_short_permits_to_a_contract_you_used_are_low_and_to_others_they_are_not() {
    let w = World::start().await;
    let g = w.guard(SimulatorKind::Revm);
    let eth = U256::from(ETH);
    let (used, never) = (w.deploy_router().await, w.deploy_router().await);
    w.time_travel(4 * 86_400).await;
    let u = w.fresh_user().await;
    // The user deals with `used` on chain (an exact approval, a deposit it pulls), approves
    // Permit2, and deals with a router deployed an hour ago.
    w.send(&u, w.mock, MockToken::approveCall { spender: used, value: eth }.abi_encode(), 0).await;
    w.send(&u, used, Router::pullCall { token: w.mock, amount: eth }.abi_encode(), 0).await;
    w.send(
        &u,
        w.mock,
        MockToken::approveCall { spender: agora_guard::lists::PERMIT2, value: U256::MAX }.abi_encode(),
        0,
    )
    .await;
    let fresh = w.deploy_router().await;
    w.send(&u, w.mock, MockToken::approveCall { spender: fresh, value: eth }.abi_encode(), 0).await;
    w.send(&u, fresh, Router::pullCall { token: w.mock, amount: eth }.abi_encode(), 0).await;
    // A poisoner plants a transfer "from the user" to `never`: events alone are no history.
    w.send(&w.deployer, w.mock, MockToken::poisonCall { from: u.address(), to: never }.abi_encode(), 0).await;
    w.time_travel(3600).await;
    let now = w.now().await;
    let soon = now + 1800;
    let ten = U256::from(10u8) * eth;
    let sign = |typed: serde_json::Value| json!([u.address(), typed]);

    // Benign: exact, short, to the contract the user has used for days.
    for (name, typed, id) in [
        ("EIP-2612 permit", permit_of(&w, u.address(), used, ten, U256::from(soon)), "G05"),
        ("Permit2 allowance", permit2_single(&w, used, ten, soon, soon), "G06"),
        ("Permit2 transfer", permit2_transfer(&w, used, ten, soon), "G06"),
    ] {
        let v = check(&g, "eth_signTypedData_v4", sign(typed)).await;
        assert_eq!(v.level_of(id), Some(Level::Low), "{name}: {v:#?}");
        assert!(v.level <= Level::Low, "{name}: {v:#?}");
    }
    // The same permit to a contract never used (whatever events name it), to one deployed an
    // hour ago, unlimited, or for two months: not the ordinary case.
    for (name, typed, id, level) in [
        ("never used", permit_of(&w, u.address(), never, ten, U256::from(soon)), "G05", Level::High),
        ("fresh", permit_of(&w, u.address(), fresh, ten, U256::from(soon)), "G05", Level::High),
        ("unlimited", permit_of(&w, u.address(), used, U256::MAX, U256::from(soon)), "G05", Level::Medium),
        ("long", permit_of(&w, u.address(), used, ten, U256::from(now + 60 * 86_400)), "G05", Level::Medium),
        ("Permit2 never used", permit2_single(&w, never, ten, soon, soon), "G06", Level::High),
        ("Permit2 transfer, fresh", permit2_transfer(&w, fresh, ten, soon), "G06", Level::High),
    ] {
        let v = check(&g, "eth_signTypedData_v4", sign(typed)).await;
        assert_eq!(v.level_of(id), Some(level), "{name}: {v:#?}");
    }
    // An unlimited approval to the contract the user has used is what an allow-listed one gets.
    let v = check(
        &g,
        "eth_sendTransaction",
        json!([w.tx(&u, w.mock, MockToken::approveCall { spender: used, value: U256::MAX }.abi_encode())]),
    )
    .await;
    expect(&v, "G01", Level::Medium);
    assert_eq!(v.level_of("G03"), None, "{v:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_7702_batch_that_pays_a_contact_is_a_payment_and_one_that_feeds_an_unknown_mint_is_not() {
    let w = World::start().await;
    let u = w.fresh_user().await;
    w.delegate(u.address(), w.safe_delegate).await;
    let note = Vault::noteCall {}.abi_encode();
    let pay = batch_7702(u.address(), vec![(w.vault, 0, note.clone()), (w.contact, ETH / 10, vec![])]);
    let tokens = batch_7702(
        u.address(),
        vec![
            (w.vault, 0, note.clone()),
            (
                w.mock,
                0,
                MockToken::transferCall { to: w.contact, value: U256::from(5u8) * U256::from(ETH) }
                    .abi_encode(),
            ),
        ],
    );
    for kind in [SimulatorKind::Revm, SimulatorKind::Node] {
        let g = w.guard(kind);
        let v = check(&g, "eth_sendTransaction", json!([pay.clone()])).await;
        assert!(v.level <= Level::Low, "{kind:?}: {v:#?}");
        assert_eq!(v.total(ChangeKind::Lose, None), U256::from(ETH / 10), "{v:#?}");
        let v = check(&g, "eth_sendTransaction", json!([tokens.clone()])).await;
        assert!(v.level <= Level::Low, "{kind:?}: {v:#?}");
    }
    // The same harmless call batched with a paid mint that mints nothing: you give and get
    // nothing back, and on chain the ETH is gone.
    let g = w.guard(SimulatorKind::Revm);
    let mint = batch_7702(
        u.address(),
        vec![(w.vault, 0, note), (w.empty_mint, ETH, EmptyMint::mintCall {}.abi_encode())],
    );
    let v = check(&g, "eth_sendTransaction", json!([mint.clone()])).await;
    expect(&v, "G17", Level::High);
    assert_eq!(v.total(ChangeKind::Lose, None), U256::from(ETH), "{v:#?}");
    let data: Vec<u8> = serde_json::from_value::<Bytes>(mint["data"].clone()).unwrap().to_vec();
    let before = w.provider.get_balance(w.empty_mint).await.unwrap();
    w.send(&u, u.address(), data, 0).await;
    assert_eq!(w.provider.get_balance(w.empty_mint).await.unwrap() - before, U256::from(ETH));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verdict_names_who_a_send_pays_and_a_signature_pays_nobody() {
    let w = World::start().await;
    let g = w.guard(SimulatorKind::Revm);
    let u = w.fresh_user().await;
    let transfer = MockToken::transferCall { to: w.contact, value: U256::from(ETH) }.abi_encode();
    let v = check(&g, "eth_sendTransaction", json!([w.tx(&u, w.mock, transfer)])).await;
    assert_eq!(v.recipients, [w.mock, w.contact], "the token contract called and the token's recipient");
    let v = check(&g, "eth_sendTransaction", json!([w.tx_value(&u, w.contact, vec![], ETH / 10)])).await;
    assert_eq!(v.recipients, [w.contact]);
    let v = check(&g, "personal_sign", json!(["0x68656c6c6f", u.address()])).await;
    assert!(v.recipients.is_empty(), "{:?}", v.recipients);
    assert!(serde_json::to_value(&v).unwrap().get("recipients").is_none(), "not on the wire");
}
