//! The x402 contracts at their canonical addresses: placed on a devnet once, usable through the
//! bindings, hashing like Rust's EIP-712, and required (not placed) on other chains. Multicall3
//! too, placed on a devnet but not required elsewhere.

use crate::devnet_config;
use agora_chain::{
    ChainClient, ChainError, Devnet, DevnetConfig, X402Action, ensure_deployed, ensure_x402_contracts,
};
use agora_contracts::{
    SuiteContract, X402_CONTRACTS, X402Contract, batch_settlement_domain,
    bindings::{
        DevStablecoin, ERC3009DepositCollector, Multicall3, Permit2, Permit2DepositCollector,
        X402BatchSettlement,
        X402BatchSettlement::{ChannelConfig, Voucher, VoucherClaim},
        X402UptoPermit2Proxy,
    },
    permit2_domain,
};
use alloy::{
    primitives::{Address, B256, Bytes, U256, aliases::U40, keccak256},
    providers::Provider,
    signers::SignerSync,
    sol_types::{Eip712Domain, SolCall, SolStruct, SolValue},
};

/// The typed messages the payer signs (EIP-712 type names are the struct names).
mod typed {
    alloy::sol! {
        struct ReceiveWithAuthorization {
            address from;
            address to;
            uint256 value;
            uint256 validAfter;
            uint256 validBefore;
            bytes32 nonce;
        }

        struct Voucher {
            bytes32 channelId;
            uint128 maxClaimableAmount;
        }
    }
}

async fn code(client: &ChainClient, address: Address) -> Bytes {
    client.provider().get_code_at(address).await.unwrap()
}

#[tokio::test]
async fn x402_contracts_are_placed_once_and_answer_at_their_canonical_addresses() {
    let devnet = Devnet::start(&devnet_config(None)).await.unwrap();
    let client = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await.unwrap();

    // Someone else's code at one of the addresses is replaced.
    let settlement_address = X402Contract::BatchSettlement.canonical_address();
    let _: () = client
        .provider()
        .raw_request("anvil_setCode".into(), (settlement_address, "0x6080604052600080fd"))
        .await
        .unwrap();

    let first = ensure_x402_contracts(&client).await.unwrap();
    assert_eq!(first.iter().map(|p| p.contract).collect::<Vec<_>>(), X402_CONTRACTS);
    for placement in &first {
        assert_eq!(placement.action, X402Action::Placed, "{placement:?}");
        assert_eq!(placement.address, placement.contract.canonical_address());
        let code = code(&client, placement.address).await;
        assert!(placement.contract.artifact().matches_runtime_code(&code), "{} code", placement.contract);
    }
    let second = ensure_x402_contracts(&client).await.unwrap();
    assert!(second.iter().all(|p| p.action == X402Action::Present), "{second:?}");

    let provider = client.provider();
    let settlement = X402BatchSettlement::new(settlement_address, provider);
    assert_eq!(
        settlement.CHANNEL_CONFIG_TYPEHASH().call().await.unwrap(),
        keccak256(
            "ChannelConfig(address payer,address payerAuthorizer,address receiver,address receiverAuthorizer,address token,uint40 withdrawDelay,bytes32 salt)"
        )
    );
    let config = ChannelConfig {
        payer: Address::repeat_byte(1),
        payerAuthorizer: Address::repeat_byte(2),
        receiver: Address::repeat_byte(3),
        receiverAuthorizer: Address::repeat_byte(4),
        token: Address::repeat_byte(5),
        withdrawDelay: U40::from(900),
        salt: B256::repeat_byte(6),
    };
    let on_chain = settlement.getChannelId(config.clone()).call().await.unwrap();
    assert_eq!(on_chain, config.eip712_signing_hash(&batch_settlement_domain(client.chain_id())));

    let permit2 = Permit2::new(X402Contract::Permit2.canonical_address(), provider);
    assert_eq!(
        permit2.DOMAIN_SEPARATOR().call().await.unwrap(),
        permit2_domain(client.chain_id()).separator()
    );
    let erc3009 =
        ERC3009DepositCollector::new(X402Contract::Erc3009DepositCollector.canonical_address(), provider);
    assert_eq!(erc3009.x402BatchSettlement().call().await.unwrap(), settlement_address);
    let collector =
        Permit2DepositCollector::new(X402Contract::Permit2DepositCollector.canonical_address(), provider);
    assert_eq!(collector.x402BatchSettlement().call().await.unwrap(), settlement_address);
    assert_eq!(collector.PERMIT2().call().await.unwrap(), X402Contract::Permit2.canonical_address());
    let upto = X402UptoPermit2Proxy::new(X402Contract::UptoPermit2Proxy.canonical_address(), provider);
    assert_eq!(upto.PERMIT2().call().await.unwrap(), X402Contract::Permit2.canonical_address());

    // Multicall3, directly and the way the official facilitator batches its reads
    // (`tryAggregate(false, …)`): a read of a placed contract, one of Multicall3 itself, and one
    // that reverts.
    let multicall_address = X402Contract::Multicall3.canonical_address();
    let multicall = Multicall3::new(multicall_address, provider);
    assert_eq!(multicall.getChainId().call().await.unwrap(), U256::from(client.chain_id()));
    let calls = vec![
        Multicall3::Call {
            target: X402Contract::Permit2.canonical_address(),
            callData: Permit2::DOMAIN_SEPARATORCall {}.abi_encode().into(),
        },
        Multicall3::Call {
            target: multicall_address,
            callData: Multicall3::getChainIdCall {}.abi_encode().into(),
        },
        Multicall3::Call {
            target: settlement_address,
            callData: X402BatchSettlement::finalizeWithdrawCall { config: config.clone() }
                .abi_encode()
                .into(),
        },
    ];
    let results = multicall.tryAggregate(false, calls.clone()).call().await.unwrap();
    assert_eq!(results.len(), 3);
    assert!(results[0].success && results[1].success && !results[2].success, "{results:?}");
    assert_eq!(results[0].returnData.as_ref(), permit2_domain(client.chain_id()).separator().as_slice());
    assert_eq!(U256::abi_decode(&results[1].returnData).unwrap(), U256::from(client.chain_id()));
    let err = multicall.tryAggregate(true, calls).call().await.unwrap_err();
    assert!(err.to_string().contains("Multicall3: call failed"), "{err}");
}

/// A deposit by ERC-3009, a voucher, a claim and a settlement through the placed contracts, all
/// signed in Rust.
#[tokio::test]
async fn a_channel_works_end_to_end_through_the_placed_contracts() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(&devnet_config(None)).await.unwrap();
    let client = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await.unwrap();
    let deployment =
        ensure_deployed(&client, &dir.path().join("deployments.json"), |_, _, _| {}).await.unwrap();
    ensure_x402_contracts(&client).await.unwrap();
    let chain_id = client.chain_id();
    let provider = client.provider();
    let token_address = deployment.address_of(SuiteContract::DevStablecoin).unwrap();
    let token = DevStablecoin::new(token_address, provider);
    let settlement = X402BatchSettlement::new(X402Contract::BatchSettlement.canonical_address(), provider);

    let payer = devnet.dev_signer(1).unwrap();
    let receiver = client.signer_address().unwrap();
    let amount = 5_000_000u128;
    token.faucet(payer.address(), U256::from(amount)).send().await.unwrap().get_receipt().await.unwrap();

    let config = ChannelConfig {
        payer: payer.address(),
        payerAuthorizer: payer.address(),
        receiver,
        receiverAuthorizer: receiver,
        token: token_address,
        withdrawDelay: U40::from(900),
        salt: B256::ZERO,
    };
    let channel_id = config.eip712_signing_hash(&batch_settlement_domain(chain_id));

    // The payer's ERC-3009 authorization to the collector, nonce bound to the channel.
    let salt = U256::from(42);
    let valid_before = U256::from(client.latest_block_timestamp().await.unwrap() + 3600);
    let authorization = typed::ReceiveWithAuthorization {
        from: payer.address(),
        to: X402Contract::Erc3009DepositCollector.canonical_address(),
        value: U256::from(amount),
        validAfter: U256::ZERO,
        validBefore: valid_before,
        nonce: keccak256((channel_id, salt).abi_encode()),
    };
    let token_domain = Eip712Domain::new(
        Some("Agora Dev USD".into()),
        Some("1".into()),
        Some(U256::from(chain_id)),
        Some(token_address),
        None,
    );
    let signature = payer.sign_hash_sync(&authorization.eip712_signing_hash(&token_domain)).unwrap();
    let collector_data =
        (U256::ZERO, valid_before, salt, Bytes::from(signature.as_bytes().to_vec())).abi_encode_params();
    let receipt = settlement
        .deposit(
            config.clone(),
            amount,
            X402Contract::Erc3009DepositCollector.canonical_address(),
            collector_data.into(),
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let state = settlement.channels(channel_id).call().await.unwrap();
    assert_eq!(state.balance, amount);

    // A voucher for 3 dollars, claimed for 2.5 and settled.
    let voucher = typed::Voucher { channelId: channel_id, maxClaimableAmount: 3_000_000 };
    let digest = voucher.eip712_signing_hash(&batch_settlement_domain(chain_id));
    assert_eq!(settlement.getVoucherDigest(channel_id, 3_000_000).call().await.unwrap(), digest);
    let signature = payer.sign_hash_sync(&digest).unwrap();
    let claim = VoucherClaim {
        voucher: Voucher { channel: config, maxClaimableAmount: 3_000_000 },
        signature: signature.as_bytes().to_vec().into(),
        totalClaimed: 2_500_000,
    };
    settlement.claim(vec![claim]).send().await.unwrap().get_receipt().await.unwrap();
    let before = token.balanceOf(receiver).call().await.unwrap();
    settlement.settle(receiver, token_address).send().await.unwrap().get_receipt().await.unwrap();
    assert_eq!(token.balanceOf(receiver).call().await.unwrap() - before, U256::from(2_500_000));
    assert_eq!(
        token.balanceOf(X402Contract::BatchSettlement.canonical_address()).call().await.unwrap(),
        U256::from(2_500_000)
    );
}

/// Off a dev chain nothing is placed: a missing contract is named, existing code is accepted,
/// and Multicall3 is not required.
#[tokio::test]
async fn other_chains_must_have_the_contracts_already() {
    let devnet = Devnet::start(&DevnetConfig { chain_id: 8453, ..devnet_config(None) }).await.unwrap();
    let client = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await.unwrap();
    let err = ensure_x402_contracts(&client).await.unwrap_err();
    assert!(
        matches!(&err, ChainError::X402ContractMissing { contract, chain_id: 8453, .. } if contract == "Permit2"),
        "{err:?}"
    );
    assert!(err.to_string().contains("0x000000000022D473030F116dDEE9F6B43aC78BA3"), "{err}");
    assert!(code(&client, X402Contract::Permit2.canonical_address()).await.is_empty(), "nothing placed");

    // Code at every required address (standing in for the official deployments): found, left
    // alone; Multicall3, absent, is skipped.
    for contract in X402_CONTRACTS.iter().filter(|c| c.required_off_dev_chains()) {
        let _: () = client
            .provider()
            .raw_request("anvil_setCode".into(), (contract.canonical_address(), "0x6080604052600080fd"))
            .await
            .unwrap();
    }
    let found = ensure_x402_contracts(&client).await.unwrap();
    assert_eq!(found.iter().map(|p| p.contract).collect::<Vec<_>>(), X402_CONTRACTS);
    for placement in &found {
        let expected = match placement.contract {
            X402Contract::Multicall3 => X402Action::Skipped,
            _ => X402Action::Found,
        };
        assert_eq!(placement.action, expected, "{placement:?}");
    }
    assert!(code(&client, X402Contract::Multicall3.canonical_address()).await.is_empty(), "not placed");
    assert_eq!(
        code(&client, X402Contract::BatchSettlement.canonical_address()).await.as_ref(),
        [0x60, 0x80, 0x60, 0x40, 0x52, 0x60, 0x00, 0x80, 0xfd]
    );
}

#[tokio::test]
async fn placing_needs_a_signer() {
    let devnet = Devnet::start(&devnet_config(None)).await.unwrap();
    let client = ChainClient::connect(&devnet.rpc_url(), None).await.unwrap();
    let err = ensure_x402_contracts(&client).await.unwrap_err();
    assert!(matches!(err, ChainError::NoSigner { chain_id: 31337 }), "{err:?}");
}

/// The placed code is part of the devnet's saved state: after a restart it is still there.
#[tokio::test]
async fn placed_contracts_survive_a_devnet_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = devnet_config(Some(dir.path().join("devnet")));
    let devnet = Devnet::start(&config).await.unwrap();
    let client = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await.unwrap();
    assert!(ensure_x402_contracts(&client).await.unwrap().iter().all(|p| p.action == X402Action::Placed));
    devnet.stop().await;

    let devnet = Devnet::start(&config).await.unwrap();
    let client = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await.unwrap();
    let again = ensure_x402_contracts(&client).await.unwrap();
    assert!(again.iter().all(|p| p.action == X402Action::Present), "{again:?}");
}
