//! The guard's scenario world (feature `guard-world`): anvil, the scenario contracts of
//! `contracts/test/guard/Scenarios.sol` deployed from the artifacts under `artifacts/guard/`, a
//! user's lists, and helpers to build, check and execute requests. The guard's tests and its
//! benchmark share it.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)] // a test fixture: failures panic the test

use crate::TestNet;
use agora_guard::{
    Guard, GuardData, GuardOptions, GuardRequest, Level, ListKind, SimulatorKind, Verdict, lists,
};
use agora_store::Store;
use alloy::{
    consensus::{SignableTransaction, TxEip7702, TxEnvelope},
    eips::{BlockNumberOrTag, Encodable2718, eip7702::Authorization},
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::SolCall,
};
use serde_json::{Value, json};
use std::sync::Arc;

/// One ether in wei.
pub const ETH: u128 = 1_000_000_000_000_000_000;

macro_rules! bind {
    ($($name:ident),*) => {$(
        alloy::sol!(#[sol(rpc)] #[derive(Debug)] #[allow(missing_docs, clippy::too_many_arguments)] $name, concat!("artifacts/guard/", stringify!($name), ".json"));
    )*};
}
bind!(
    MockToken,
    HeavyToken,
    MockNFT,
    Router,
    Permit2Lite,
    MiniMarket,
    Sweeper,
    SafeDelegate,
    Airdrop,
    OwnedProxy,
    Forwarder,
    Executor,
    Bomb,
    Sink,
    Vault,
    FakeSwap,
    EmptyMint,
    Evasive
);

/// The scenario world.
pub struct World {
    /// The anvil devnet.
    pub net: TestNet,
    /// A provider without a wallet.
    pub provider: DynProvider,
    /// The account that deployed the contracts.
    pub deployer: PrivateKeySigner,
    /// The attacker every drainer pays.
    pub attacker: PrivateKeySigner,
    /// A contact in the user's address book ("Alice").
    pub contact: Address,
    /// A second contact ("my cold wallet").
    pub second: Address,
    /// An account on the user's block list.
    pub blocked: Address,
    /// A personal account delegated (EIP-7702) to the honest delegate.
    pub delegated_eoa: Address,
    /// The store holding the user's lists.
    pub store: Arc<Store>,
    /// The shipped data with the Uniswap default token list.
    pub data: GuardData,
    _dir: tempfile::TempDir,
    /// The `mock` scenario contract.
    pub mock: Address,
    /// The `other` scenario contract.
    pub other: Address,
    /// The `heavy` scenario contract.
    pub heavy: Address,
    /// The `nft` scenario contract.
    pub nft: Address,
    /// The `router` scenario contract.
    pub router: Address,
    /// The `market` scenario contract.
    pub market: Address,
    /// The `sweeper` scenario contract.
    pub sweeper: Address,
    /// The `safe_delegate` scenario contract.
    pub safe_delegate: Address,
    /// The `airdrop` scenario contract.
    pub airdrop: Address,
    /// The `forwarder` scenario contract.
    pub forwarder: Address,
    /// The `executor` scenario contract.
    pub executor: Address,
    /// The `bomb` scenario contract.
    pub bomb: Address,
    /// The `sink` scenario contract.
    pub sink: Address,
    /// The `vault` scenario contract.
    pub vault: Address,
    /// The `fakeswap` scenario contract.
    pub fakeswap: Address,
    /// The `empty_mint` scenario contract.
    pub empty_mint: Address,
    /// The `evasive` scenario contract.
    pub evasive: Address,
}

fn wallet_provider(url: &str, signer: &PrivateKeySigner) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer.clone()))
        .connect_http(url.parse().unwrap())
        .erased()
}

impl World {
    /// Starts anvil, deploys the scenario contracts and fills the user's lists.
    pub async fn start() -> Self {
        let net = TestNet::start().await;
        let url = net.rpc_url();
        let provider = ProviderBuilder::new().connect_http(url.parse().unwrap()).erased();
        let deployer = net.devnet().dev_signer(0).unwrap();
        let attacker = net.wallet(2);
        let d = wallet_provider(&url, &deployer);
        let a = attacker.address();
        let mock = *MockToken::deploy(&d, "Mock".into(), "MOCK".into()).await.unwrap().address();
        let other = *MockToken::deploy(&d, "Other".into(), "OTH".into()).await.unwrap().address();
        let fake = *MockToken::deploy(&d, "USD Coin".into(), "USDC".into()).await.unwrap().address();
        let heavy = *HeavyToken::deploy(&d).await.unwrap().address();
        let nft = *MockNFT::deploy(&d).await.unwrap().address();
        let router = *Router::deploy(&d).await.unwrap().address();
        let market = *MiniMarket::deploy(&d).await.unwrap().address();
        let sweeper = *Sweeper::deploy(&d, a).await.unwrap().address();
        let safe_delegate = *SafeDelegate::deploy(&d).await.unwrap().address();
        let airdrop = *Airdrop::deploy(&d).await.unwrap().address();
        let forwarder = *Forwarder::deploy(&d, a).await.unwrap().address();
        let executor = *Executor::deploy(&d).await.unwrap().address();
        let bomb = *Bomb::deploy(&d, a).await.unwrap().address();
        let sink = *Sink::deploy(&d).await.unwrap().address();
        let vault = *Vault::deploy(&d).await.unwrap().address();
        let fakeswap = *FakeSwap::deploy(&d, mock, fake).await.unwrap().address();
        let empty_mint = *EmptyMint::deploy(&d).await.unwrap().address();
        let evasive = *Evasive::deploy(&d, a).await.unwrap().address();
        // Permit2 lives at its canonical address on every chain: put our stand-in there.
        let permit2 = *Permit2Lite::deploy(&d).await.unwrap().address();
        let code = provider.get_code_at(permit2).await.unwrap();
        let _: Value = provider.raw_request("anvil_setCode".into(), (lists::PERMIT2, code)).await.unwrap();
        // A personal account that delegated its code to an honest delegate (EIP-7702).
        let delegated_eoa = PrivateKeySigner::random().address();
        let designator: Bytes = [&[0xef, 0x01, 0x00][..], safe_delegate.as_slice()].concat().into();
        let _: Value =
            provider.raw_request("anvil_setCode".into(), (delegated_eoa, designator)).await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        let contact = net.wallet(3).address();
        let second = net.wallet(4).address();
        let blocked = PrivateKeySigner::random().address();
        lists::add_entry(&store, ListKind::Contact, &contact.to_string(), "Alice").unwrap();
        lists::add_entry(&store, ListKind::Contact, &second.to_string(), "my cold wallet").unwrap();
        lists::add_entry(&store, ListKind::Allow, &router.to_string(), "the router I use").unwrap();
        lists::add_entry(&store, ListKind::Block, &blocked.to_string(), "known drainer").unwrap();
        let mut data = GuardData::embedded().unwrap();
        data.tokens = Arc::new(
            lists::TokenList::parse(include_str!("../../guard/data/uniswap-default.tokenlist.json")).unwrap(),
        );
        Self {
            net,
            provider,
            deployer,
            attacker,
            contact,
            second,
            blocked,
            delegated_eoa,
            store,
            data,
            _dir: dir,
            mock,
            other,
            heavy,
            nft,
            router,
            market,
            sweeper,
            safe_delegate,
            airdrop,
            forwarder,
            executor,
            bomb,
            sink,
            vault,
            fakeswap,
            empty_mint,
            evasive,
        }
    }

    /// The devnet's RPC URL.
    pub fn url(&self) -> String {
        self.net.rpc_url()
    }

    /// A guard over the world with `simulator`.
    pub fn guard(&self, simulator: SimulatorKind) -> Guard {
        Guard::new(
            self.provider.clone(),
            self.data.clone(),
            Some(self.store.clone()),
            GuardOptions { simulator, ..Default::default() },
        )
    }

    /// A guard with other shipped data (for example none but the built-in lists).
    pub fn guard_with(&self, data: GuardData) -> Guard {
        Guard::new(self.provider.clone(), data, Some(self.store.clone()), GuardOptions::default())
    }

    /// Deploys another mock token.
    pub async fn deploy_token(&self, name: &str, symbol: &str) -> Address {
        let d = wallet_provider(&self.url(), &self.deployer);
        *MockToken::deploy(&d, name.into(), symbol.into()).await.unwrap().address()
    }

    /// A swap that takes 100 MOCK and mints 1,000 (6 decimals) of `pays_in`.
    pub async fn deploy_swap(&self, pays_in: Address) -> Address {
        let d = wallet_provider(&self.url(), &self.deployer);
        *FakeSwap::deploy(&d, self.mock, pays_in).await.unwrap().address()
    }

    /// Makes `user` an EIP-7702 account running `delegate`'s code.
    pub async fn delegate(&self, user: Address, delegate: Address) {
        let designator: Bytes = [&[0xef, 0x01, 0x00][..], delegate.as_slice()].concat().into();
        let _: Value = self.provider.raw_request("anvil_setCode".into(), (user, designator)).await.unwrap();
    }

    /// A signed EIP-1559 transaction with the given fees.
    pub async fn raw_tx(
        &self,
        from: &PrivateKeySigner,
        to: Address,
        value: U256,
        gas_limit: u64,
        max_fee_per_gas: u128,
        max_priority_fee_per_gas: u128,
    ) -> Bytes {
        let nonce = self.provider.get_transaction_count(from.address()).await.unwrap();
        let tx = alloy::consensus::TxEip1559 {
            chain_id: 31337,
            nonce,
            gas_limit,
            max_fee_per_gas,
            max_priority_fee_per_gas,
            to: alloy::primitives::TxKind::Call(to),
            value,
            access_list: Default::default(),
            input: Bytes::new(),
        };
        let sig = from.sign_hash_sync(&tx.signature_hash()).unwrap();
        TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
    }

    /// A guard that also knows `trusted` as an audited delegate.
    pub fn guard_allowing(&self, trusted: Address) -> Guard {
        Guard::new(
            self.provider.clone(),
            self.data.clone(),
            Some(self.store.clone()),
            GuardOptions {
                simulator: SimulatorKind::Revm,
                known: vec![(trusted, "audited delegate".into())],
                ..Default::default()
            },
        )
    }

    /// A new account with 100 ETH, 1,000 MOCK, 500 OTH and 10 HVY.
    pub async fn fresh_user(&self) -> PrivateKeySigner {
        let user = PrivateKeySigner::random();
        let _: Value = self
            .provider
            .raw_request("anvil_setBalance".into(), (user.address(), U256::from(100u64) * U256::from(ETH)))
            .await
            .unwrap();
        let eth = U256::from(ETH);
        self.send(
            &self.deployer,
            self.mock,
            MockToken::mintCall { to: user.address(), amount: U256::from(1000u64) * eth }.abi_encode(),
            0,
        )
        .await;
        self.send(
            &self.deployer,
            self.other,
            MockToken::mintCall { to: user.address(), amount: U256::from(500u64) * eth }.abi_encode(),
            0,
        )
        .await;
        self.send(
            &self.deployer,
            self.heavy,
            HeavyToken::mintCall { to: user.address(), amount: U256::from(10u64) * eth }.abi_encode(),
            0,
        )
        .await;
        user
    }

    /// Sends a transaction from `from` and waits for it.
    pub async fn send(&self, from: &PrivateKeySigner, to: Address, data: Vec<u8>, value: u128) {
        let p = wallet_provider(&self.url(), from);
        // A fixed gas limit: an estimate made in a zero-fee call would starve code that behaves
        // differently in a real block (the evasive scenario).
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_input(data)
            .with_value(U256::from(value))
            .with_gas_limit(3_000_000);
        let receipt = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status(), "transaction to {to} reverted");
    }

    /// A transaction object for `eth_sendTransaction`.
    pub fn tx(&self, from: &PrivateKeySigner, to: Address, data: Vec<u8>) -> Value {
        json!({ "from": from.address(), "to": to, "data": Bytes::from(data) })
    }

    /// A transaction object with ETH attached.
    pub fn tx_value(&self, from: &PrivateKeySigner, to: Address, data: Vec<u8>, value: u128) -> Value {
        json!({ "from": from.address(), "to": to, "data": Bytes::from(data), "value": U256::from(value) })
    }

    /// `who`'s balance of `token`.
    pub async fn token_balance(&self, token: Address, who: Address) -> U256 {
        MockToken::new(token, &self.provider).balanceOf(who).call().await.unwrap()
    }

    /// The owner of NFT `id`.
    pub async fn nft_owner(&self, id: U256) -> Address {
        MockNFT::new(self.nft, &self.provider).ownerOf(id).call().await.unwrap()
    }

    /// The owner of an `OwnedProxy`.
    pub async fn proxy_owner(&self, proxy: Address) -> Address {
        OwnedProxy::new(proxy, &self.provider).owner().call().await.unwrap()
    }

    /// Deploys an `OwnedProxy` owned by `owner`.
    pub async fn deploy_proxy(&self, owner: Address) -> Address {
        *OwnedProxy::deploy(wallet_provider(&self.url(), &self.deployer), owner).await.unwrap().address()
    }

    /// Deploys another router.
    pub async fn deploy_router(&self) -> Address {
        *Router::deploy(wallet_provider(&self.url(), &self.deployer)).await.unwrap().address()
    }

    /// The latest block's timestamp.
    pub async fn now(&self) -> u64 {
        self.provider.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap().header.timestamp
    }

    /// Moves the chain's clock forward by `secs`.
    pub async fn time_travel(&self, secs: u64) {
        let _: Value = self.provider.raw_request("evm_increaseTime".into(), (secs,)).await.unwrap();
        let _: Value = self.provider.raw_request("evm_mine".into(), ()).await.unwrap();
    }

    /// Seaport-shaped typed data offering NFT `id` for `price` wei paid to `recipient`.
    pub async fn order(&self, offerer: Address, id: U256, recipient: Address, price: U256) -> Value {
        let now = self.now().await;
        json!({
            "types": {
                "EIP712Domain": [{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],
                "OrderComponents": [
                    {"name":"offerer","type":"address"},{"name":"zone","type":"address"},{"name":"offer","type":"OfferItem[]"},
                    {"name":"consideration","type":"ConsiderationItem[]"},{"name":"orderType","type":"uint8"},{"name":"startTime","type":"uint256"},
                    {"name":"endTime","type":"uint256"},{"name":"zoneHash","type":"bytes32"},{"name":"salt","type":"uint256"},
                    {"name":"conduitKey","type":"bytes32"},{"name":"counter","type":"uint256"}
                ],
                "OfferItem": [{"name":"itemType","type":"uint8"},{"name":"token","type":"address"},{"name":"identifierOrCriteria","type":"uint256"},{"name":"startAmount","type":"uint256"},{"name":"endAmount","type":"uint256"}],
                "ConsiderationItem": [{"name":"itemType","type":"uint8"},{"name":"token","type":"address"},{"name":"identifierOrCriteria","type":"uint256"},{"name":"startAmount","type":"uint256"},{"name":"endAmount","type":"uint256"},{"name":"recipient","type":"address"}]
            },
            "primaryType": "OrderComponents",
            "domain": {"name": "Seaport", "version": "1.6", "chainId": 31337, "verifyingContract": self.market},
            "message": {
                "offerer": offerer, "zone": Address::ZERO,
                "offer": [{"itemType": 2, "token": self.nft, "identifierOrCriteria": id.to_string(), "startAmount": "1", "endAmount": "1"}],
                "consideration": [{"itemType": 0, "token": Address::ZERO, "identifierOrCriteria": "0", "startAmount": price.to_string(), "endAmount": price.to_string(), "recipient": recipient}],
                "orderType": 0, "startTime": (now - 60).to_string(), "endTime": (now + 86_400).to_string(),
                "zoneHash": B256::ZERO, "salt": "1", "conduitKey": B256::ZERO, "counter": "0"
            }
        })
    }

    /// A signed type-4 transaction that delegates `user` to `delegate`.
    pub async fn delegation_tx(&self, user: &PrivateKeySigner, delegate: Address) -> Bytes {
        let nonce = self.provider.get_transaction_count(user.address()).await.unwrap();
        let auth = Authorization { chain_id: U256::from(31337u64), address: delegate, nonce: nonce + 1 };
        let sig = user.sign_hash_sync(&auth.signature_hash()).unwrap();
        let tx = TxEip7702 {
            chain_id: 31337,
            nonce,
            gas_limit: 200_000,
            max_fee_per_gas: 20_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: user.address(),
            value: U256::ZERO,
            input: Bytes::new(),
            access_list: Default::default(),
            authorization_list: vec![auth.into_signed(sig)],
        };
        let sig = user.sign_hash_sync(&tx.signature_hash()).unwrap();
        TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
    }
}

/// The order parameters of [`World::order`] typed data, for a fill.
pub fn order_params(order: &Value) -> MiniMarket::OrderParameters {
    let m = &order["message"];
    let n = |v: &Value| -> U256 {
        v.as_str().map(|s| s.parse().unwrap()).unwrap_or_else(|| U256::from(v.as_u64().unwrap()))
    };
    let a = |v: &Value| -> Address { serde_json::from_value(v.clone()).unwrap() };
    MiniMarket::OrderParameters {
        offerer: a(&m["offerer"]),
        zone: a(&m["zone"]),
        offer: m["offer"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| MiniMarket::OfferItem {
                itemType: n(&o["itemType"]).to(),
                token: a(&o["token"]),
                identifierOrCriteria: n(&o["identifierOrCriteria"]),
                startAmount: n(&o["startAmount"]),
                endAmount: n(&o["endAmount"]),
            })
            .collect(),
        consideration: m["consideration"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| MiniMarket::ConsiderationItem {
                itemType: n(&c["itemType"]).to(),
                token: a(&c["token"]),
                identifierOrCriteria: n(&c["identifierOrCriteria"]),
                startAmount: n(&c["startAmount"]),
                endAmount: n(&c["endAmount"]),
                recipient: a(&c["recipient"]),
            })
            .collect(),
        orderType: n(&m["orderType"]).to(),
        startTime: n(&m["startTime"]),
        endTime: n(&m["endTime"]),
        zoneHash: B256::ZERO,
        salt: n(&m["salt"]),
        conduitKey: B256::ZERO,
        totalOriginalConsiderationItems: U256::from(1u8),
    }
}

/// Checks one request; panics if the guard cannot.
pub async fn check(g: &Guard, method: &str, params: Value) -> Verdict {
    check_from(g, method, params, None).await
}

/// Checks one request from a site; panics if the guard cannot.
pub async fn check_from(g: &Guard, method: &str, params: Value, origin: Option<&str>) -> Verdict {
    let mut request = GuardRequest::new(method, params);
    request.origin = origin.map(str::to_owned);
    g.check(&request).await.unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// Asserts that rule `id` fired at `level`.
pub fn expect(v: &Verdict, id: &str, level: Level) {
    assert_eq!(v.level_of(id), Some(level), "expected {id} at {level}: {v:#?}");
}
