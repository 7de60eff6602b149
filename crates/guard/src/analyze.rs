//! The analysis: request → decode → simulate → facts → rules → verdict.

use crate::{
    GuardError,
    chain::{AccountKind, ChainView, Head, IBatch, IPermit2, IToken, fmt_amount, fmt_eth},
    decode::{self, Decoded},
    lists::{BURN_ADDRESSES, GuardData, KNOWN_CONTRACTS, ListKind, OriginMatch, UserLists},
    request::{Action, Call, Delegation, GuardRequest},
    sim::{CallResult, Frame, FrameKind, SimCall, SimRequest, Simulator},
    verdict::{AssetChange, ChangeKind, Finding, Level, Verdict},
};
use agora_store::Store;
use alloy::{
    dyn_abi::TypedData,
    primitives::{Address, B256, Bytes, U256, address, b256, hex},
    providers::Provider,
    sol,
    sol_types::{SolCall, SolValue},
};
use serde_json::Value;
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Instant,
};

const TRANSFER: B256 = b256!("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
const APPROVAL: B256 = b256!("0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925");
const APPROVAL_FOR_ALL: B256 = b256!("0x17307eab39ab6107e8899845ad3d59bd9653f200f220920489ca2b5937696c31");
const PERMIT2_APPROVAL: B256 = b256!("0xda9fa7c1b00402c17d0161b249b1ab8bbec047c5a52207b9c112deffd817036b");
const OWNERSHIP_TRANSFERRED: B256 =
    b256!("0x8be0079c531659141344cd1fd0a4f28419497f9722a3daafe3b4186f6b6457e0");
const UPGRADED: B256 = b256!("0xbc7cd75a20ee27fd9adebab32041f755214dbc6bffa90cc0225b39da2e5c2d3b");
const ADMIN_CHANGED: B256 = b256!("0x7e644d79422f17c01e4894b5f4f588d331ebfa28653d42ae832dc59e38c9798f");
/// EIP-1967 implementation slot.
const IMPLEMENTATION_SLOT: B256 = b256!("0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");
/// The account that plays "anyone" in follow-up simulations.
pub const STRANGER: Address = address!("0x5742a0000000000000000000000000000000beef");
/// Contracts younger than this are "fresh" (Rabby's threshold).
pub const FRESH_CONTRACT_SECS: u64 = 3 * 86_400;
/// Permissions that outlive this are long-lived.
pub const LONG_LIVED_SECS: u64 = 30 * 86_400;
/// A revoke that uses more gas than this is suspicious (Rabby 1118).
pub const HEAVY_REVOKE_GAS: u64 = 1_000_000;

sol! {
    struct OfferItem { uint8 itemType; address token; uint256 identifierOrCriteria; uint256 startAmount; uint256 endAmount; }
    struct ConsiderationItem { uint8 itemType; address token; uint256 identifierOrCriteria; uint256 startAmount; uint256 endAmount; address recipient; }
    struct OrderParameters {
        address offerer; address zone; OfferItem[] offer; ConsiderationItem[] consideration; uint8 orderType;
        uint256 startTime; uint256 endTime; bytes32 zoneHash; uint256 salt; bytes32 conduitKey; uint256 totalOriginalConsiderationItems;
    }
    struct Order { OrderParameters parameters; bytes signature; }
    /// Seaport's order book entry points.
    interface ISeaport {
        function validate(Order[] orders) external returns (bool);
        function fulfillOrder(Order order, bytes32 fulfillerConduitKey) external payable returns (bool);
    }
}

/// How the guard is set up.
#[derive(Debug, Clone)]
pub struct GuardOptions {
    /// Which simulator runs the calls.
    pub simulator: SimulatorKind,
    /// Contracts to know by name besides the built-in ones (for example the node's own suite).
    pub known: Vec<(Address, String)>,
    /// The longest one analysis may take; a node that stalls past it fails the check (and the
    /// proxy then forwards nothing).
    pub deadline: std::time::Duration,
}

impl Default for GuardOptions {
    fn default() -> Self {
        Self { simulator: SimulatorKind::Revm, known: vec![], deadline: std::time::Duration::from_secs(15) }
    }
}

/// Which simulator to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimulatorKind {
    /// In process (the default).
    #[default]
    Revm,
    /// The node's `eth_simulateV1` and `debug_traceCall`.
    Node,
}

impl std::str::FromStr for SimulatorKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "revm" => Ok(Self::Revm),
            "node" => Ok(Self::Node),
            other => Err(format!("unknown simulator {other:?}: use revm or node")),
        }
    }
}

/// The guard: reads from the user's node, simulates, and judges.
#[derive(Debug, Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    view: ChainView,
    simulator: Simulator,
    data: GuardData,
    store: Option<Arc<Store>>,
    known: Vec<(Address, String)>,
    deadline: std::time::Duration,
}

impl Guard {
    /// A guard reading from `provider`, with the user's lists in `store`.
    pub fn new(
        provider: alloy::providers::DynProvider,
        data: GuardData,
        store: Option<Arc<Store>>,
        options: GuardOptions,
    ) -> Self {
        let simulator = match options.simulator {
            SimulatorKind::Revm => Simulator::Revm(provider.clone()),
            SimulatorKind::Node => Simulator::Node(provider.clone()),
        };
        Self {
            inner: Arc::new(Inner {
                view: ChainView::new(provider),
                simulator,
                data,
                store,
                known: options.known,
                deadline: options.deadline,
            }),
        }
    }

    /// The store holding the user's lists.
    pub fn store(&self) -> Option<&Arc<Store>> {
        self.inner.store.as_ref()
    }

    /// Judges one request, within the configured deadline.
    pub async fn check(&self, request: &GuardRequest) -> Result<Verdict, GuardError> {
        match tokio::time::timeout(self.inner.deadline, self.check_now(request)).await {
            Ok(result) => result,
            Err(_) => Err(GuardError::Upstream(format!(
                "the analysis did not finish within {} s (the node is slow or gone)",
                self.inner.deadline.as_secs_f64()
            ))),
        }
    }

    async fn check_now(&self, request: &GuardRequest) -> Result<Verdict, GuardError> {
        let started = Instant::now();
        let action = request.action(None)?;
        let view = ChainView::new(self.inner.view.provider().clone());
        let head = view.head().await?;
        let lists = match &self.inner.store {
            Some(store) => UserLists::load(store)?,
            None => UserLists::default(),
        };
        let mut a = Analysis {
            g: &self.inner,
            view,
            head,
            lists,
            user: Address::ZERO,
            findings: vec![],
            effects: vec![],
            assets: vec![],
            simulated: false,
        };
        if let Some(origin) = &request.origin {
            a.origin(origin);
        }
        match action {
            Action::Transactions { from, calls, chain_id, unprotected, delegations, gas_limit } => {
                a.user = from;
                a.transactions(&calls, chain_id, unprotected, &delegations, gas_limit).await?;
            }
            Action::TypedData { signer, data } => {
                a.user = signer;
                a.typed(&data, request.origin.as_deref()).await?;
            }
            Action::PersonalSign { signer, message } => {
                a.user = signer;
                a.personal(&message, request.origin.as_deref());
            }
            Action::EthSign { signer, hash } => {
                a.user = signer;
                a.push(
                    Finding::new("G08", Level::Critical, "Blind signature", "eth_sign signs a raw hash that can be a transaction or an EIP-7702 delegation of your whole account; no legitimate site needs it")
                        .evidence(format!("hash {hash}")),
                );
            }
        }
        let simulator = if a.simulated { self.inner.simulator.name() } else { "none" };
        let assets = std::mem::take(&mut a.assets);
        let mut verdict = Verdict::new(&request.method, a.findings, a.effects, simulator);
        verdict.assets = assets;
        verdict.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(verdict)
    }

    /// Simulates a transaction or batch and returns its canonical facts (one line each, sorted),
    /// so two simulators can be compared.
    pub async fn facts(&self, request: &GuardRequest) -> Result<Vec<String>, GuardError> {
        let Action::Transactions { from, calls, .. } = request.action(None)? else {
            return Err(GuardError::BadRequest("facts are computed for transactions only".into()));
        };
        let view = ChainView::new(self.inner.view.provider().clone());
        let head = view.head().await?;
        let mut a = Analysis {
            g: &self.inner,
            view,
            head,
            lists: UserLists::default(),
            user: from,
            findings: vec![],
            effects: vec![],
            assets: vec![],
            simulated: false,
        };
        let user_calls: Vec<SimCall> = calls.iter().map(|c| a.user_call(c)).collect();
        let outcome = a.scenario(user_calls, vec![], vec![]).await?;
        Ok(outcome.canonical(from))
    }
}

/// A token balance before, after the request, and after the follow-ups.
#[derive(Debug, Clone, Default)]
struct TokenChange {
    token: Address,
    nft: bool,
    pre: U256,
    post: U256,
    fin: U256,
    /// Sum of `Transfer` amounts to and from the user in logs emitted by the token itself.
    logged_in: U256,
    logged_out: U256,
    /// NFT ids moved.
    ids_out: Vec<U256>,
    ids_in: Vec<U256>,
    /// Where the user's tokens went.
    to: BTreeSet<Address>,
}

impl TokenChange {
    fn lost(&self) -> U256 {
        self.pre.saturating_sub(self.post)
    }

    fn gained(&self) -> U256 {
        self.post.saturating_sub(self.pre)
    }

    fn exposed(&self) -> U256 {
        self.post.saturating_sub(self.fin)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ApprovalKind {
    Erc20,
    Nft(U256),
    All(bool),
    Permit2 { token: Address, expiration: u64 },
}

#[derive(Debug, Clone)]
struct ApprovalFact {
    /// The contract that emitted it (the token, or Permit2).
    emitter: Address,
    spender: Address,
    amount: U256,
    kind: ApprovalKind,
}

#[derive(Debug, Default)]
struct Outcome {
    results: Vec<CallResult>,
    followups: Vec<CallResult>,
    tokens: Vec<TokenChange>,
    approvals: Vec<ApprovalFact>,
    owner_changes: Vec<(Address, &'static str, Address)>,
    native_out: BTreeMap<Address, U256>,
    native_in: BTreeMap<Address, U256>,
    native_exposed: BTreeMap<Address, U256>,
    delegatecalls: Vec<Frame>,
    selfdestructs: Vec<Frame>,
    reverted: Option<(usize, String)>,
    gas_used: u64,
    diverged: Vec<String>,
}

impl Outcome {
    fn canonical(&self, user: Address) -> Vec<String> {
        let mut out = BTreeSet::new();
        for (to, v) in &self.native_out {
            out.insert(format!("native out {to} {v}"));
        }
        for (from, v) in &self.native_in {
            out.insert(format!("native in {from} {v}"));
        }
        for t in &self.tokens {
            out.insert(format!("token {} pre {} post {} fin {}", t.token, t.pre, t.post, t.fin));
        }
        for a in &self.approvals {
            out.insert(format!("approval {} {} {} {:?}", a.emitter, a.spender, a.amount, a.kind));
        }
        for (c, what, new) in &self.owner_changes {
            out.insert(format!("{what} {c} {new}"));
        }
        for f in &self.delegatecalls {
            out.insert(format!("delegatecall {} {}", f.from, f.to));
        }
        for f in &self.selfdestructs {
            out.insert(format!("selfdestruct {} {} {}", f.from, f.to, f.value));
        }
        if let Some((i, _)) = &self.reverted {
            out.insert(format!("reverted {i}"));
        }
        out.insert(format!("user {user}"));
        out.into_iter().collect()
    }
}

struct Analysis<'a> {
    g: &'a Inner,
    view: ChainView,
    head: Head,
    lists: UserLists,
    user: Address,
    findings: Vec<Finding>,
    effects: Vec<String>,
    assets: Vec<AssetChange>,
    simulated: bool,
}

fn short(a: Address) -> String {
    let s = a.to_checksum(None);
    format!("{}…{}", &s[..6], &s[s.len() - 4..])
}

fn topic_address(t: &B256) -> Address {
    Address::from_word(*t)
}

fn num(v: &Value) -> Option<U256> {
    match v {
        Value::Number(n) => n.as_u64().map(U256::from).or_else(|| n.to_string().parse().ok()),
        Value::String(s) => s.parse().ok(),
        Value::Bool(b) => Some(U256::from(*b as u8)),
        _ => None,
    }
}

fn addr(v: &Value) -> Option<Address> {
    v.as_str().and_then(|s| s.parse().ok())
}

impl Analysis<'_> {
    fn push(&mut self, f: Finding) {
        self.findings.push(f);
    }

    fn name_of(&self, a: Address) -> String {
        if a == self.user {
            return "you".into();
        }
        if let Some(label) = self.lists.label(a) {
            return format!("{} ({label})", short(a));
        }
        if let Some((_, name)) = KNOWN_CONTRACTS.iter().find(|(k, _)| *k == a) {
            return format!("{} ({name})", short(a));
        }
        if let Some((_, name)) = self.g.known.iter().find(|(k, _)| *k == a) {
            return format!("{} ({name})", short(a));
        }
        short(a)
    }

    /// Known: built in, the node's own contracts, or on the user's allow list or address book.
    fn trusted(&self, a: Address) -> bool {
        a == self.user
            || KNOWN_CONTRACTS.iter().any(|(k, _)| *k == a)
            || self.g.known.iter().any(|(k, _)| *k == a)
            || self.lists.has(ListKind::Allow, a)
            || self.lists.has(ListKind::Contact, a)
    }

    fn blocked(&mut self, a: Address, role: &str) {
        if self.lists.has(ListKind::Block, a) {
            self.push(
                Finding::new(
                    "G16",
                    Level::Critical,
                    "Blocked counterparty",
                    format!("the {role} {} is on your block list", a.to_checksum(None)),
                )
                .evidence(format!("{role}: {a}")),
            );
        }
    }

    fn origin(&mut self, origin: &str) {
        let host = crate::lists::host_of(origin);
        if self.lists.on(ListKind::Allow, &host) {
            return;
        }
        if self.lists.on(ListKind::Block, &host) {
            self.push(
                Finding::new(
                    "G16",
                    Level::Critical,
                    "Blocked site",
                    format!("the site {host} is on your block list"),
                )
                .evidence(format!("origin: {origin:?}")),
            );
            return;
        }
        match self.g.data.phishing.check(origin) {
            Some(OriginMatch::Blocked(domain)) => self.push(
                Finding::new(
                    "G16",
                    Level::Critical,
                    "Known phishing site",
                    format!("the site {host} is on the phishing list"),
                )
                .evidence(format!("listed domain: {domain}")),
            ),
            Some(OriginMatch::LooksLike(target)) => self.push(
                Finding::new(
                    "G16",
                    Level::High,
                    "Look-alike site",
                    format!("the site {host} imitates {target}"),
                )
                .evidence(format!("origin: {origin:?}, imitated: {target}")),
            ),
            None => {}
        }
        if host.starts_with("xn--") || host.contains(".xn--") {
            self.push(Finding::new(
                "G16",
                Level::Medium,
                "Internationalised domain",
                format!("the site {host} uses punycode, which can hide look-alike letters"),
            ));
        }
    }

    fn user_call(&self, c: &Call) -> SimCall {
        SimCall { from: self.user, to: c.to, value: c.value, data: c.data.clone(), trace: true }
    }

    // --- transactions -----------------------------------------------------------------------

    async fn transactions(
        &mut self,
        calls: &[Call],
        chain_id: Option<u64>,
        unprotected: bool,
        delegations: &[Delegation],
        gas_limit: Option<u64>,
    ) -> Result<(), GuardError> {
        if let Some(id) = chain_id
            && id != self.head.chain_id
        {
            self.push(
                Finding::new(
                    "G14",
                    Level::Critical,
                    "Wrong chain",
                    format!(
                        "the transaction is for chain {id} but your node is on chain {}",
                        self.head.chain_id
                    ),
                )
                .evidence(format!("transaction chainId {id}, node chainId {}", self.head.chain_id)),
            );
        }
        if unprotected {
            self.push(Finding::new(
                "G14",
                Level::High,
                "Replayable transaction",
                "a legacy transaction without a chain id can be replayed on every chain",
            ));
        }
        let decoded: Vec<Decoded> = calls
            .iter()
            .map(|c| decode::decode(c.to, c.value, &c.data))
            .collect::<Result<_, _>>()
            .map_err(|e| GuardError::BadRequest(e.to_string()))?;
        let batch = calls.len() > 1 || decoded.iter().any(|d| !d.inner.is_empty());
        for d in &decoded {
            for call in d.flatten() {
                if call.inner.is_empty() {
                    self.effects.push(format!(
                        "calls {} on {}",
                        call.describe(),
                        call.to.map_or("a new contract".into(), |t| self.name_of(t))
                    ));
                }
            }
        }
        for d in &decoded {
            self.static_call_checks(d).await?;
        }
        let mut code = vec![];
        for del in delegations {
            self.delegation(del).await?;
            if del.authority == Some(self.user)
                && (del.chain_id.is_zero() || del.chain_id == U256::from(self.head.chain_id))
            {
                code.push((self.user, delegation_code(del.delegate)));
            }
        }
        let user_calls: Vec<SimCall> = calls.iter().map(|c| self.user_call(c)).collect();
        let outcome = self.scenario(user_calls, code, vec![]).await?;
        let raw: String = calls.iter().map(|c| hex::encode(&c.data)).collect::<Vec<_>>().join(" ");
        self.rules_on_outcome(&outcome, &decoded, batch, &raw).await?;
        if let (Some(limit), false) = (gas_limit, outcome.gas_used == 0)
            && limit > 1_000_000
            && limit > outcome.gas_used.saturating_mul(10)
        {
            self.push(Finding::new(
                "G20",
                Level::Low,
                "Gas limit far above use",
                format!(
                    "the gas limit {limit} is more than ten times the {} the simulation used",
                    outcome.gas_used
                ),
            ));
        }
        Ok(())
    }

    async fn static_call_checks(&mut self, d: &Decoded) -> Result<(), GuardError> {
        for call in d.flatten() {
            let Some(target) = call.to else { continue };
            self.blocked(target, "contract");
            let sig = call.signature.clone().unwrap_or_default();
            match sig.as_str() {
                "transfer(address,uint256)"
                | "transferFrom(address,address,uint256)"
                | "safeTransferFrom(address,address,uint256)"
                | "safeTransferFrom(address,address,uint256,bytes)" => {
                    let Some(to) = call.address("to") else { continue };
                    self.recipient(to).await?;
                    if to == target {
                        self.push(
                            Finding::new(
                                "G13",
                                Level::High,
                                "Tokens sent to their own contract",
                                format!(
                                    "{} would send tokens to the token contract itself, where they are lost",
                                    call.name
                                ),
                            )
                            .evidence(format!("token and recipient: {to}")),
                        );
                    } else if sig == "transfer(address,uint256)"
                        && self.view.account(to).await? == AccountKind::Contract
                        && self.view.call(to, IToken::decimalsCall {}.abi_encode()).await.is_some()
                    {
                        self.push(Finding::new("G13", Level::High, "Tokens sent to a token contract", format!("the recipient {} is itself a token contract, which cannot send them back", short(to))).evidence(format!("recipient: {to}")));
                    }
                    if sig == "transferFrom(address,address,uint256)"
                        && self.view.account(to).await? == AccountKind::Contract
                        && !self.is_erc20(target).await
                    {
                        // An NFT moved without the receiver check: would the safe variant be refused?
                        let id = call.uint("amount").unwrap_or_default();
                        let probe = SimCall {
                            trace: false,
                            ..SimCall::new(
                                self.user,
                                target,
                                IToken::safeTransferFromCall { from: self.user, to, tokenId: id }
                                    .abi_encode()
                                    .into(),
                            )
                        };
                        let results = self
                            .g
                            .simulator
                            .simulate(
                                self.head.realistic(),
                                &SimRequest { calls: vec![probe], ..Default::default() },
                            )
                            .await?;
                        if results.first().is_some_and(|r| !r.success) {
                            self.push(Finding::new("G13", Level::High, "NFT sent to a contract that cannot handle it", format!("{} does not accept NFTs (onERC721Received), so NFT #{id} would be stuck there", short(to))).evidence(format!("recipient: {to}")));
                        }
                    }
                }
                "" if call.name == "transfer of ETH" => {
                    self.recipient(target).await?;
                    if !call.value.is_zero() && self.view.account(target).await? == AccountKind::Contract {
                        let code = self.view.code(target).await?;
                        if ![0xf1u8, 0xf2, 0xf4, 0xff].iter().any(|op| decode::has_opcode(&code, *op)) {
                            self.push(Finding::new("G13", Level::Medium, "ETH sent to a contract that cannot send it on", format!("{} has no instruction that moves ETH out, so the {} would likely be stuck", short(target), fmt_eth(call.value))).evidence(format!("contract: {target}")));
                        }
                    }
                }
                "transferOwnership(address)"
                | "changeAdmin(address)"
                | "addOwnerWithThreshold(address,uint256)"
                | "swapOwner(address,address,address)" => {
                    let new = call
                        .address("newOwner")
                        .or(call.address("newAdmin"))
                        .or(call.address("owner"))
                        .unwrap_or_default();
                    self.owner_change(target, "ownership", new);
                }
                "upgradeTo(address)" | "upgradeToAndCall(address,bytes)" => {
                    let new = call.address("newImplementation").unwrap_or_default();
                    self.owner_change(target, "implementation", new);
                }
                "approve(address,uint256)"
                | "increaseAllowance(address,uint256)"
                | "setApprovalForAll(address,bool)"
                | "approve(address,address,uint160,uint48)" => {
                    let spender = call.address("spender").or(call.address("operator")).unwrap_or_default();
                    self.blocked(spender, "spender");
                }
                _ => {
                    if call.name.starts_with("unknown") && !call.inner.is_empty() {
                        continue;
                    }
                    if call.name.starts_with("unknown")
                        && self.view.account(target).await? == AccountKind::Eoa
                    {
                        self.push(Finding::new(
                            "G13",
                            Level::Medium,
                            "Data sent to an account without code",
                            format!(
                                "the transaction carries data to {}, which has no code and will ignore it",
                                short(target)
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    async fn is_erc20(&self, token: Address) -> bool {
        self.view.token(token).await.decimals.is_some()
    }

    async fn recipient(&mut self, to: Address) -> Result<(), GuardError> {
        self.blocked(to, "recipient");
        if BURN_ADDRESSES.contains(&to) {
            self.push(Finding::new(
                "G13",
                Level::High,
                "Sent to a burn address",
                format!("{} destroys whatever it receives", to.to_checksum(None)),
            ));
            return Ok(());
        }
        if to == self.user || self.trusted(to) || self.lists.history.contains_key(&to) {
            return Ok(());
        }
        let lower = hex::encode(to);
        for known in self.lists.counterparties() {
            let k = hex::encode(known);
            if k != lower && k[..4] == lower[..4] && k[36..] == lower[36..] {
                let mut f = Finding::new(
                    "G09",
                    Level::Critical,
                    "Look-alike address",
                    format!(
                        "{} looks like {} from your history but is a different address (address poisoning)",
                        to.to_checksum(None),
                        self.name_of(known)
                    ),
                )
                .evidence(format!("recipient: {to}"))
                .evidence(format!("imitated:  {known}"));
                let planted = self.planted_transfers(to).await;
                if planted > 0 {
                    f = f.evidence(format!(
                        "{planted} zero-value Transfer event(s) from you to it were planted in your history"
                    ));
                }
                self.push(f);
                return Ok(());
            }
        }
        if self.view.account(to).await?.is_eoa() {
            self.push(Finding::new(
                "G09",
                Level::Medium,
                "First transfer to this address",
                format!(
                    "you have never sent to {} before and it is not in your address book",
                    to.to_checksum(None)
                ),
            ));
        }
        Ok(())
    }

    /// Zero-value `Transfer(you → to)` events in recent blocks: how poisoners seed a wallet's
    /// history with their look-alike (any contract can emit them with any `from`).
    async fn planted_transfers(&self, to: Address) -> usize {
        let filter = alloy::rpc::types::Filter::new()
            .event_signature(TRANSFER)
            .topic1(self.user.into_word())
            .topic2(to.into_word())
            .from_block(self.head.number.saturating_sub(50_000))
            .to_block(self.head.number);
        let logs =
            tokio::time::timeout(std::time::Duration::from_secs(5), self.view.provider().get_logs(&filter))
                .await;
        match logs {
            Ok(Ok(logs)) => logs.iter().filter(|l| l.data().data.iter().all(|b| *b == 0)).count(),
            _ => 0,
        }
    }

    fn owner_change(&mut self, contract: Address, what: &'static str, new: Address) {
        if what == "ownership" && new.is_zero() {
            self.push(Finding::new(
                "G12",
                Level::High,
                "Ownership renounced",
                format!("{} would have no owner at all", short(contract)),
            ));
            return;
        }
        if new == self.user {
            return;
        }
        if self.lists.has(ListKind::Contact, new) || self.lists.has(ListKind::Allow, new) {
            self.push(
                Finding::new(
                    "G12",
                    Level::Medium,
                    "Control handed over",
                    format!(
                        "the {what} of {} moves to {}, which you know",
                        short(contract),
                        self.name_of(new)
                    ),
                )
                .evidence(format!("{what}: {new}")),
            );
        } else {
            self.push(
                Finding::new(
                    "G12",
                    Level::Critical,
                    "Control handed to an unknown party",
                    format!(
                        "the {what} of {} moves to {}, which is not one of your accounts",
                        short(contract),
                        new.to_checksum(None)
                    ),
                )
                .evidence(format!("contract: {contract}"))
                .evidence(format!("new {what}: {new}")),
            );
        }
    }

    async fn delegation(&mut self, del: &Delegation) -> Result<(), GuardError> {
        let who = del.authority.map_or("an account".into(), |a| self.name_of(a));
        self.effects.push(format!("delegates {who} to the contract {}", self.name_of(del.delegate)));
        self.blocked(del.delegate, "delegate");
        if del.chain_id.is_zero() {
            self.push(Finding::new(
                "G10",
                Level::Critical,
                "Delegation valid on every chain",
                format!(
                    "the EIP-7702 authorization has chain id 0, so it hands {who} to {} on every chain",
                    short(del.delegate)
                ),
            ));
        }
        let Some(authority) = del.authority else { return Ok(()) };
        // Would a stranger be able to move the account's funds once it runs the delegate's code?
        let balance = self
            .view
            .provider()
            .get_balance(authority)
            .await
            .map_err(|e| GuardError::Upstream(e.to_string()))?;
        let probe = balance.max(U256::from(10u64).pow(U256::from(18)));
        let calls = vec![
            SimCall {
                from: STRANGER,
                to: Some(authority),
                value: U256::from(1_000_000u64),
                data: Bytes::new(),
                trace: true,
            },
            SimCall {
                from: STRANGER,
                to: Some(authority),
                value: U256::ZERO,
                data: IBatch::executeCall {
                    calls: vec![IBatch::Call { target: STRANGER, value: probe, data: Bytes::new() }],
                }
                .abi_encode()
                .into(),
                trace: true,
            },
        ];
        let req = SimRequest {
            calls,
            code: vec![(authority, delegation_code(del.delegate))],
            balances: vec![(authority, probe), (STRANGER, probe)],
        };
        let results = self.g.simulator.simulate(self.head.realistic(), &req).await?;
        self.simulated = true;
        let forwards = results.first().is_some_and(|r| {
            r.frames.iter().any(|f| f.from == authority && f.to != authority && !f.value.is_zero())
        });
        let sweepable = results
            .get(1)
            .is_some_and(|r| r.success && r.frames.iter().any(|f| f.from == authority && f.to == STRANGER));
        if forwards || sweepable {
            let mut f = Finding::new(
                "G10",
                Level::Critical,
                "Delegation to a sweeper",
                format!(
                    "after this delegation anyone can move the funds of {who}: the delegate {}",
                    short(del.delegate)
                ),
            );
            if forwards {
                f = f.evidence("ETH sent to the account is forwarded elsewhere at once");
            }
            if sweepable {
                f = f.evidence(format!(
                    "a stranger's execute() call moves {} out of the account",
                    fmt_eth(balance)
                ));
            }
            self.push(f.evidence(format!("delegate: {}", del.delegate)));
            if !balance.is_zero() {
                self.assets.push(AssetChange {
                    kind: ChangeKind::Exposed,
                    asset: None,
                    amount: balance,
                    counterparty: None,
                });
            }
        } else if self.trusted(del.delegate) {
            self.push(Finding::new(
                "G10",
                Level::Info,
                "Delegation to a known contract",
                format!("{who} would run the code of {}", self.name_of(del.delegate)),
            ));
        } else {
            self.push(
                Finding::new(
                    "G10",
                    Level::High,
                    "Delegation to an unknown contract",
                    format!(
                        "{who} would run the code of {}, which you have not approved",
                        del.delegate.to_checksum(None)
                    ),
                )
                .evidence(format!("delegate: {}", del.delegate)),
            );
        }
        Ok(())
    }

    // --- simulation -------------------------------------------------------------------------

    /// Simulates `user_calls` (plus follow-ups that measure what approvals expose) and returns the
    /// facts. Runs the calls in a realistic block, then again in a naive one to detect evasion.
    async fn scenario(
        &mut self,
        user_calls: Vec<SimCall>,
        code: Vec<(Address, Bytes)>,
        extra: Vec<SimCall>,
    ) -> Result<Outcome, GuardError> {
        let sim = &self.g.simulator;
        let realistic = self.head.realistic();
        let first = SimRequest { calls: user_calls.clone(), code: code.clone(), balances: vec![] };
        let pass_a = sim.simulate(realistic, &first).await?;
        self.simulated = true;
        // Every token that logged something, and every contract the calls touch.
        let approvals = approvals_of(self.user, &pass_a);
        let mut tokens: BTreeSet<Address> =
            pass_a.iter().flat_map(|r| r.logs.iter().map(|l| l.address)).collect();
        tokens.extend(extra.iter().filter_map(|c| c.to));
        tokens.extend(approvals.iter().filter_map(|a| match a.kind {
            ApprovalKind::Permit2 { token, .. } => Some(token),
            _ => None,
        }));
        let mut token_list = vec![];
        for t in tokens {
            if self.view.account(t).await? == AccountKind::Contract && t != crate::lists::PERMIT2 {
                let probe = self.view.call(t, IToken::balanceOfCall { owner: self.user }.abi_encode()).await;
                if probe.is_some_and(|b| b.len() == 32) {
                    token_list.push(t);
                }
            }
        }
        let nft_tokens: BTreeSet<Address> = pass_a
            .iter()
            .flat_map(|r| r.logs.iter())
            .filter(|l| {
                (l.topics().first() == Some(&TRANSFER) || l.topics().first() == Some(&APPROVAL))
                    && l.topics().len() == 4
                    || l.topics().first() == Some(&APPROVAL_FOR_ALL)
            })
            .map(|l| l.address)
            .collect();
        let mut followups = extra;
        for a in &approvals {
            match a.kind {
                ApprovalKind::Erc20 if !a.amount.is_zero() => {
                    let balance = self.view.balance_of(a.emitter, self.user).await;
                    let amount = a.amount.min(balance.max(U256::from(1u8)));
                    followups.push(SimCall::new(
                        a.spender,
                        a.emitter,
                        IToken::transferFromCall { from: self.user, to: a.spender, amount }
                            .abi_encode()
                            .into(),
                    ));
                }
                ApprovalKind::Nft(id) if !a.spender.is_zero() => {
                    followups.push(SimCall::new(
                        a.spender,
                        a.emitter,
                        IToken::transferFromCall { from: self.user, to: a.spender, amount: id }
                            .abi_encode()
                            .into(),
                    ));
                }
                ApprovalKind::Permit2 { token, .. } if !a.amount.is_zero() => {
                    let balance = self.view.balance_of(token, self.user).await;
                    let amount = a.amount.min(balance).min(U256::from(u128::MAX));
                    followups.push(SimCall::new(
                        a.spender,
                        a.emitter,
                        IPermit2::transferFromCall {
                            from: self.user,
                            to: a.spender,
                            amount: amount.to::<u128>().try_into().unwrap_or_default(),
                            token,
                        }
                        .abi_encode()
                        .into(),
                    ));
                }
                _ => {}
            }
        }
        let reads: Vec<SimCall> = token_list
            .iter()
            .map(|t| {
                SimCall::new(self.user, *t, IToken::balanceOfCall { owner: self.user }.abi_encode().into())
            })
            .collect();
        let mut calls = reads.clone();
        calls.extend(user_calls.iter().cloned());
        calls.extend(reads.iter().cloned());
        calls.extend(followups.iter().cloned());
        calls.extend(reads.iter().cloned());
        let balances = followups.iter().map(|f| (f.from, U256::from(10u64).pow(U256::from(24)))).collect();
        let pass_b = sim.simulate(realistic, &SimRequest { calls, code: code.clone(), balances }).await?;
        let n = reads.len();
        let u = user_calls.len();
        let read = |r: &CallResult| {
            if r.success && r.output.len() == 32 { U256::from_be_slice(&r.output) } else { U256::ZERO }
        };
        let mut out = Outcome {
            results: pass_b[n..n + u].to_vec(),
            followups: pass_b[2 * n + u..2 * n + u + followups.len()].to_vec(),
            ..Default::default()
        };
        for (i, t) in token_list.iter().enumerate() {
            let mut change = TokenChange {
                token: *t,
                nft: nft_tokens.contains(t),
                pre: read(&pass_b[i]),
                post: read(&pass_b[n + u + i]),
                fin: read(&pass_b[2 * n + u + followups.len() + i]),
                ..Default::default()
            };
            for log in out
                .results
                .iter()
                .flat_map(|r| r.logs.iter())
                .filter(|l| l.address == *t && l.topics().first() == Some(&TRANSFER))
            {
                let topics = log.topics();
                if topics.len() < 3 {
                    continue;
                }
                let (from, to) = (topic_address(&topics[1]), topic_address(&topics[2]));
                let amount = if topics.len() == 4 {
                    U256::from(1u8)
                } else {
                    U256::from_be_slice(log.data.data.get(..32).unwrap_or(&[0u8; 32]))
                };
                if from == self.user {
                    change.logged_out += amount;
                    change.to.insert(to);
                    if topics.len() == 4 {
                        change.ids_out.push(U256::from_be_bytes(topics[3].0));
                    }
                }
                if to == self.user {
                    change.logged_in += amount;
                    if topics.len() == 4 {
                        change.ids_in.push(U256::from_be_bytes(topics[3].0));
                    }
                }
            }
            for r in &out.followups {
                for log in r.logs.iter().filter(|l| {
                    l.address == *t && l.topics().first() == Some(&TRANSFER) && l.topics().len() == 4
                }) {
                    if topic_address(&log.topics()[1]) == self.user {
                        change.ids_out.push(U256::from_be_bytes(log.topics()[3].0));
                    }
                }
            }
            out.tokens.push(change);
        }
        out.approvals = approvals_of(self.user, &out.results);
        for (i, r) in out.results.iter().enumerate() {
            out.gas_used += r.gas_used;
            if !r.success && out.reverted.is_none() {
                out.reverted = Some((i, revert_reason(&r.output)));
            }
            for f in &r.frames {
                match f.kind {
                    FrameKind::DelegateCall => out.delegatecalls.push(f.clone()),
                    FrameKind::SelfDestruct => {
                        out.selfdestructs.push(f.clone());
                        native(&mut out.native_out, &mut out.native_in, self.user, f);
                    }
                    FrameKind::Call | FrameKind::Create => {
                        native(&mut out.native_out, &mut out.native_in, self.user, f)
                    }
                }
            }
            for (contract, slot, value) in &r.slots {
                let what = if *slot == crate::sim::WATCHED_SLOTS[0] {
                    "implementation"
                } else if *slot == crate::sim::WATCHED_SLOTS[1] {
                    "admin"
                } else {
                    "beacon"
                };
                out.owner_changes.push((*contract, what, Address::from_word(*value)));
            }
            for log in &r.logs {
                let t = log.topics();
                match t.first() {
                    Some(&OWNERSHIP_TRANSFERRED) if t.len() == 3 => {
                        out.owner_changes.push((log.address, "ownership", topic_address(&t[2])))
                    }
                    Some(&UPGRADED) if t.len() == 2 => {
                        out.owner_changes.push((log.address, "implementation", topic_address(&t[1])))
                    }
                    Some(&ADMIN_CHANGED) if log.data.data.len() == 64 => {
                        out.owner_changes.push((
                            log.address,
                            "admin",
                            Address::from_slice(&log.data.data[44..64]),
                        ));
                    }
                    _ => {}
                }
            }
        }
        out.owner_changes.sort();
        out.owner_changes.dedup();
        for r in &out.followups {
            for f in &r.frames {
                if f.from == self.user && f.to != self.user {
                    *out.native_exposed.entry(f.to).or_default() += f.value;
                }
            }
        }
        self.record_assets(&out);
        // G18: run the same calls as a naive simulator would (zero fees, zero coinbase) and compare.
        let naive = sim.simulate(self.head.naive(), &first).await?;
        let (before, after) = (flows(self.user, &pass_a), flows(self.user, &naive));
        if before != after {
            out.diverged = before.symmetric_difference(&after).cloned().collect();
        }
        Ok(out)
    }

    fn record_assets(&mut self, o: &Outcome) {
        let mut push = |kind, asset, amount: U256, counterparty| {
            if !amount.is_zero() {
                self.assets.push(AssetChange { kind, asset, amount, counterparty });
            }
        };
        for (to, v) in &o.native_out {
            push(ChangeKind::Lose, None, *v, Some(*to));
        }
        for (from, v) in &o.native_in {
            push(ChangeKind::Receive, None, *v, Some(*from));
        }
        for (to, v) in &o.native_exposed {
            push(ChangeKind::Exposed, None, *v, Some(*to));
        }
        for t in &o.tokens {
            push(ChangeKind::Lose, Some(t.token), t.lost(), t.to.iter().next().copied());
            push(ChangeKind::Receive, Some(t.token), t.gained(), None);
            let taker = o
                .approvals
                .iter()
                .find(|a| {
                    a.emitter == t.token
                        || a.kind
                            == (ApprovalKind::Permit2 {
                                token: t.token,
                                expiration: match a.kind {
                                    ApprovalKind::Permit2 { expiration, .. } => expiration,
                                    _ => 0,
                                },
                            })
                })
                .map(|a| a.spender);
            push(ChangeKind::Exposed, Some(t.token), t.exposed(), taker);
        }
    }

    async fn rules_on_outcome(
        &mut self,
        o: &Outcome,
        decoded: &[Decoded],
        batch: bool,
        raw_calldata: &str,
    ) -> Result<(), GuardError> {
        // What happens, in words.
        for (to, v) in &o.native_out {
            self.effects.push(format!("you send {} to {}", fmt_eth(*v), self.name_of(*to)));
        }
        for (from, v) in &o.native_in {
            self.effects.push(format!("you receive {} from {}", fmt_eth(*v), self.name_of(*from)));
        }
        let mut metas = BTreeMap::new();
        for t in &o.tokens {
            metas.insert(t.token, self.view.token(t.token).await);
        }
        for t in &o.tokens {
            let m = &metas[&t.token];
            let amount = |v: U256| {
                if t.nft {
                    format!("{v} {} NFT{}", m.symbol, if v == U256::from(1u8) { "" } else { "s" })
                } else {
                    fmt_amount(v, m.decimals, &m.symbol)
                }
            };
            if !t.lost().is_zero() {
                let to: Vec<String> = t.to.iter().map(|a| self.name_of(*a)).collect();
                self.effects.push(format!(
                    "you lose {} (to {})",
                    amount(t.lost()),
                    if to.is_empty() { "unknown".into() } else { to.join(", ") }
                ));
            }
            if !t.gained().is_zero() {
                self.effects.push(format!("you receive {}", amount(t.gained())));
            }
            let logged_net = t.logged_in.checked_sub(t.logged_out);
            let real_net = t.post.checked_sub(t.pre);
            if !t.nft && (t.logged_in != t.logged_out || t.pre != t.post) && logged_net != real_net {
                self.effects.push(format!(
                    "the Transfer events of {} do not match its balances; the balances are what counts",
                    m.symbol
                ));
            }
        }
        if let Some((i, reason)) = &o.reverted {
            self.push(Finding::new(
                "G18",
                Level::Info,
                "Would fail",
                format!(
                    "call {} would revert{}",
                    i + 1,
                    if reason.is_empty() { String::new() } else { format!(": {reason}") }
                ),
            ));
        }
        if !o.diverged.is_empty() {
            let mut f = Finding::new(
                "G18",
                Level::High,
                "Behaves differently in a real block",
                "the result changes when the block looks real (fees, coinbase, time): the contract is hiding what it does from simulators",
            );
            for line in &o.diverged {
                f = f.evidence(line.clone());
            }
            self.push(f);
        }
        // Approvals.
        let top_level: BTreeSet<Address> = decoded.iter().filter_map(|d| d.to).collect();
        let live: Vec<&ApprovalFact> = o
            .approvals
            .iter()
            .filter(|a| {
                !(matches!(a.kind, ApprovalKind::All(false))
                    || a.amount.is_zero() && a.kind == ApprovalKind::Erc20)
            })
            .collect();
        for a in &o.approvals {
            self.approval(a, o, &metas).await?;
        }
        if batch && !live.is_empty() {
            let hidden: Vec<&&ApprovalFact> =
                live.iter().filter(|a| !top_level.contains(&a.spender)).collect();
            if live.len() > 1 || !hidden.is_empty() {
                let mut f = Finding::new(
                    "G11",
                    Level::High,
                    "Approval hidden in a batch",
                    format!(
                        "this batch also grants {} approval{} you may not have asked for",
                        live.len(),
                        if live.len() == 1 { "" } else { "s" }
                    ),
                );
                for a in &live {
                    f = f.evidence(format!("approval on {} to {}", a.emitter, a.spender));
                }
                self.push(f);
            }
        }
        let revoke = decoded.iter().flat_map(|d| d.flatten()).any(|c| {
            (c.name == "approve" && c.uint("amount").is_some_and(|a| a.is_zero()))
                || (c.name == "setApprovalForAll" && c.bool("approved") == Some(false))
        });
        if revoke && o.gas_used > HEAVY_REVOKE_GAS {
            self.push(Finding::new(
                "G20",
                Level::Medium,
                "Revoke that burns gas",
                format!(
                    "this revoke would use {} gas; an honest revoke needs well under 100,000",
                    o.gas_used
                ),
            ));
        }
        // Control changes seen in the logs.
        for (contract, what, new) in &o.owner_changes {
            if !self
                .findings
                .iter()
                .any(|f| f.id == "G12" && f.evidence.iter().any(|e| e.contains(&new.to_string())))
            {
                self.owner_change(*contract, what, *new);
            }
        }
        // Delegatecalls to code named in the calldata, selfdestructs, ETH forwarded to a third party.
        for f in &o.delegatecalls {
            let chosen = raw_calldata.contains(&hex::encode(f.to));
            let implementation = self.is_implementation_of(f.from, f.to).await;
            if chosen && !implementation {
                self.push(
                    Finding::new("G15", Level::High, "Delegatecall to code you chose", format!("{} runs the code of {} in its own context, and that address comes from this transaction's data", short(f.from), short(f.to)))
                        .evidence(format!("delegatecall {} → {}", f.from, f.to)),
                );
            }
        }
        for f in &o.selfdestructs {
            self.push(
                Finding::new(
                    "G15",
                    Level::High,
                    "Self-destructing contract",
                    format!(
                        "{} self-destructs and sends {} to {}",
                        short(f.from),
                        fmt_eth(f.value),
                        short(f.to)
                    ),
                )
                .evidence(format!("selfdestruct {} → {}", f.from, f.to)),
            );
        }
        let sent: U256 = decoded.iter().map(|d| d.value).sum();
        if !sent.is_zero() {
            let user = self.user;
            let forwarded: Vec<Frame> = o
                .results
                .iter()
                .flat_map(|r| r.frames.iter())
                .filter(|f| {
                    matches!(f.kind, FrameKind::Call | FrameKind::SelfDestruct)
                        && f.from != user
                        && f.to != user
                        && !f.value.is_zero()
                })
                .cloned()
                .collect();
            {
                for f in &forwarded {
                    if !top_level.contains(&f.to)
                        && self.view.account(f.to).await?.is_eoa()
                        && !self.trusted(f.to)
                    {
                        self.push(
                            Finding::new("G15", Level::Critical, "Your ETH is forwarded to a third party", format!("the {} you send ends up with {}, an account that is not the contract you call", fmt_eth(f.value), f.to.to_checksum(None)))
                                .evidence(format!("{} → {}: {}", f.from, f.to, fmt_eth(f.value))),
                        );
                    }
                }
            }
        }
        // Trade for nothing, fake tokens.
        let transfers_only = decoded.iter().all(|d| {
            d.flatten().iter().all(|c| {
                !c.inner.is_empty()
                    || matches!(
                        c.name.as_str(),
                        "transfer of ETH"
                            | "transfer"
                            | "transferFrom"
                            | "safeTransferFrom"
                            | "safeBatchTransferFrom"
                            | "approve"
                            | "increaseAllowance"
                            | "setApprovalForAll"
                    )
            })
        });
        let lost_any = !o.native_out.is_empty() || o.tokens.iter().any(|t| !t.lost().is_zero());
        let gained_any = !o.native_in.is_empty() || o.tokens.iter().any(|t| !t.gained().is_zero());
        if !transfers_only && lost_any && !gained_any && o.reverted.is_none() {
            let names: Vec<String> = decoded.iter().map(|d| d.name.clone()).collect();
            self.push(Finding::new(
                "G17",
                Level::High,
                "You give and get nothing back",
                format!("{} takes your assets and gives you nothing in return", names.join(", ")),
            ));
        }
        for t in o.tokens.iter().filter(|t| !t.gained().is_zero() && !t.nft) {
            let m = &metas[&t.token];
            if self.g.data.tokens.get(self.head.chain_id, t.token).is_some() || self.trusted(t.token) {
                continue;
            }
            if let Some(real) = self.g.data.tokens.imitated(&m.symbol, &m.name) {
                self.push(
                    Finding::new(
                        "G17",
                        Level::High,
                        "Fake token",
                        format!(
                            "the {} you receive is not the listed {} ({}) but a copy at {}",
                            m.symbol,
                            real.symbol,
                            real.name,
                            t.token.to_checksum(None)
                        ),
                    )
                    .evidence(format!("received token: {} claims symbol {:?}", t.token, m.symbol))
                    .evidence(format!("listed {}: chain {} {}", real.symbol, real.chain_id, real.address)),
                );
            }
        }
        Ok(())
    }

    async fn is_implementation_of(&self, proxy: Address, code: Address) -> bool {
        let slot = self
            .view
            .provider()
            .get_storage_at(proxy, U256::from_be_bytes(IMPLEMENTATION_SLOT.0))
            .await
            .unwrap_or_default();
        Address::from_word(B256::from(slot)) == code
    }

    async fn approval(
        &mut self,
        a: &ApprovalFact,
        o: &Outcome,
        metas: &BTreeMap<Address, crate::chain::TokenMeta>,
    ) -> Result<(), GuardError> {
        let token = match a.kind {
            ApprovalKind::Permit2 { token, .. } => token,
            _ => a.emitter,
        };
        let meta = match metas.get(&token) {
            Some(m) => m.clone(),
            None => self.view.token(token).await,
        };
        let change = o.tokens.iter().find(|t| t.token == token);
        let balance = change.map_or(U256::ZERO, |t| t.post);
        let exposed = change.map_or(U256::ZERO, TokenChange::exposed);
        let spender = a.spender;
        self.blocked(spender, "spender");
        let kind = self.view.account(spender).await?;
        let trusted = self.trusted(spender);
        let what = match a.kind {
            ApprovalKind::All(true) => format!("all your {} NFTs", meta.symbol),
            ApprovalKind::All(false) => {
                self.effects.push(format!(
                    "revokes {}'s access to your {} NFTs",
                    self.name_of(spender),
                    meta.symbol
                ));
                return Ok(());
            }
            ApprovalKind::Nft(id) => format!("{} NFT #{id}", meta.symbol),
            _ if a.amount.is_zero() => {
                self.effects.push(format!(
                    "revokes {}'s allowance on {}",
                    self.name_of(spender),
                    meta.symbol
                ));
                return Ok(());
            }
            _ => fmt_amount(a.amount, meta.decimals, &meta.symbol),
        };
        self.effects.push(format!("lets {} spend {what}", self.name_of(spender)));
        let exposure = if a.kind == ApprovalKind::All(true) {
            format!("all {balance} of your {} NFTs", meta.symbol)
        } else if change.is_some_and(|t| t.nft) {
            format!("{} NFT{}", meta.symbol, if exposed > U256::from(1u8) { "s" } else { "" })
        } else {
            fmt_amount(exposed, meta.decimals, &meta.symbol)
        };
        if !exposed.is_zero() || a.kind == ApprovalKind::All(true) {
            self.effects.push(format!("{} could then take {exposure}", self.name_of(spender)));
        }
        let loss = format!("{} could take {exposure}", spender.to_checksum(None));
        if kind.is_eoa() {
            let delegated = match kind {
                AccountKind::Delegated(d) => format!(" (an EOA delegated to {})", d.to_checksum(None)),
                _ => String::new(),
            };
            self.push(
                Finding::new(
                    "G02",
                    Level::High,
                    "Approval to a personal account",
                    format!(
                        "{} is a personal account{delegated}, not a contract: {loss}",
                        spender.to_checksum(None)
                    ),
                )
                .evidence(format!("spender: {spender}"))
                .evidence(format!("token: {token}")),
            );
        }
        match a.kind {
            ApprovalKind::All(true) => {
                let level = if trusted { Level::Medium } else { Level::High };
                self.push(
                    Finding::new(
                        "G04",
                        level,
                        "Approval of a whole collection",
                        format!(
                            "{} could move every {} NFT you hold, now and later ({balance} today)",
                            self.name_of(spender),
                            meta.symbol
                        ),
                    )
                    .evidence(format!("operator: {spender}"))
                    .evidence(format!("collection: {token}")),
                );
            }
            ApprovalKind::Erc20 | ApprovalKind::Permit2 { .. } => {
                let unlimited = a.amount >= (U256::from(1u8) << 160) - U256::from(1u8)
                    || (!balance.is_zero() && a.amount >= balance.saturating_mul(U256::from(10u8)));
                if unlimited {
                    let level = if trusted { Level::Medium } else { Level::High };
                    self.push(
                        Finding::new(
                            "G01",
                            level,
                            "Unlimited approval",
                            format!(
                                "{} may spend {} without limit: {loss}",
                                self.name_of(spender),
                                meta.symbol
                            ),
                        )
                        .evidence(format!("spender: {spender}"))
                        .evidence(format!("allowance: {}", a.amount)),
                    );
                }
                if let ApprovalKind::Permit2 { expiration, .. } = a.kind
                    && expiration > self.head.timestamp + LONG_LIVED_SECS
                {
                    self.push(Finding::new(
                        "G19",
                        Level::Medium,
                        "Long-lived permission",
                        format!(
                            "the Permit2 allowance to {} lasts until {}",
                            self.name_of(spender),
                            when(expiration)
                        ),
                    ));
                }
            }
            _ => {}
        }
        if kind == AccountKind::Contract && !trusted {
            match self.view.contract_age(self.g.store.as_deref(), &self.head, spender).await? {
                Some(age) if age < FRESH_CONTRACT_SECS => self.push(
                    Finding::new(
                        "G03",
                        Level::Medium,
                        "Approval to a new contract",
                        format!(
                            "{} was deployed {} ago and is not one you know",
                            spender.to_checksum(None),
                            fmt_age(age)
                        ),
                    )
                    .evidence(format!("spender: {spender}")),
                ),
                _ if !self.lists.history.contains_key(&spender) => self.push(
                    Finding::new(
                        "G03",
                        Level::Low,
                        "Approval to an unfamiliar contract",
                        format!("you have not used {} before", spender.to_checksum(None)),
                    )
                    .evidence(format!("spender: {spender}")),
                ),
                _ => {}
            }
        }
        Ok(())
    }

    // --- typed data -------------------------------------------------------------------------

    async fn typed(&mut self, data: &TypedData, origin: Option<&str>) -> Result<(), GuardError> {
        let domain = &data.domain;
        let name = domain.name.as_deref().unwrap_or_default().to_owned();
        let verifying = domain.verifying_contract;
        let chain = domain.chain_id;
        let msg = &data.message;
        let primary = data.primary_type.as_str();
        self.effects.push(format!(
            "signs {primary} for {:?}{}",
            name,
            verifying.map_or(String::new(), |v| format!(" at {}", self.name_of(v)))
        ));
        if let Some(v) = verifying {
            self.blocked(v, "contract");
        }
        let asset_type = matches!(
            primary,
            "Permit"
                | "PermitSingle"
                | "PermitBatch"
                | "PermitTransferFrom"
                | "PermitBatchTransferFrom"
                | "PermitWitnessTransferFrom"
                | "OrderComponents"
        );
        match chain {
            Some(c) if c != U256::from(self.head.chain_id) => self.push(Finding::new(
                "G14",
                if asset_type { Level::High } else { Level::Medium },
                "Signature for another chain",
                format!("the signature is for chain {c} but your node is on chain {}", self.head.chain_id),
            )),
            None if asset_type => self.push(Finding::new(
                "G14",
                Level::High,
                "Signature valid on any chain",
                "the typed data moves assets but names no chain, so it can be replayed elsewhere",
            )),
            _ => {}
        }
        match primary {
            "Permit" if msg.get("spender").is_some() => self.permit(data).await,
            "PermitSingle" | "PermitBatch" => self.permit2_allowance(data).await,
            "PermitTransferFrom" | "PermitBatchTransferFrom" | "PermitWitnessTransferFrom" => {
                self.permit2_transfer(data).await
            }
            "OrderComponents" => self.seaport(data).await,
            "Order" if name == "Blur Exchange" => {
                self.blur_order(data).await;
                Ok(())
            }
            "Root" if name == "Blur Exchange" => {
                self.push(
                    Finding::new("G07", Level::High, "Blind bulk listing", "this signs a merkle root of Blur orders that you cannot inspect: it can list any of your NFTs at any price")
                        .evidence(format!("root: {}", data.message.get("root").and_then(Value::as_str).unwrap_or("?"))),
                );
                Ok(())
            }
            _ => {
                let _ = origin;
                let known = verifying.is_some_and(|v| self.trusted(v));
                if !known {
                    self.push(Finding::new("G08", Level::Medium, "Unknown typed data", format!("the guard does not know what {primary:?} for {name:?} does; signing it may authorise anything")));
                }
                Ok(())
            }
        }
    }

    async fn permit(&mut self, data: &TypedData) -> Result<(), GuardError> {
        let msg = &data.message;
        let token = data
            .domain
            .verifying_contract
            .ok_or_else(|| GuardError::BadRequest("Permit without verifyingContract".into()))?;
        let spender =
            addr(&msg["spender"]).ok_or_else(|| GuardError::BadRequest("Permit without spender".into()))?;
        let owner = addr(msg.get("owner").or(msg.get("holder")).unwrap_or(&Value::Null)).unwrap_or(self.user);
        if owner != self.user {
            self.push(Finding::new(
                "G05",
                Level::Medium,
                "Permit for another owner",
                format!("the permit names owner {owner}, not the signing account"),
            ));
        }
        // EIP-2612 (value, deadline) or DAI (allowed, expiry).
        let value = match msg.get("value") {
            Some(v) => num(v).unwrap_or_default(),
            None => {
                if msg.get("allowed").and_then(Value::as_bool) == Some(true) {
                    U256::MAX
                } else {
                    U256::ZERO
                }
            }
        };
        let deadline = msg.get("deadline").or(msg.get("expiry")).and_then(num).unwrap_or_default();
        let calls = vec![SimCall {
            trace: true,
            ..SimCall::new(
                self.user,
                token,
                IToken::approveCall { spender, amount: value }.abi_encode().into(),
            )
        }];
        let outcome = self.scenario(calls, vec![], vec![]).await?;
        let meta = self.view.token(token).await;
        let change = outcome.tokens.iter().find(|t| t.token == token).cloned().unwrap_or_default();
        let kind = self.view.account(spender).await?;
        let trusted = self.trusted(spender);
        let exposed = change.exposed();
        let loss = format!(
            "this signature lets {} take {}",
            spender.to_checksum(None),
            fmt_amount(exposed, meta.decimals, &meta.symbol)
        );
        self.effects.push(format!(
            "lets {} spend {} without a transaction",
            self.name_of(spender),
            fmt_amount(value, meta.decimals, &meta.symbol)
        ));
        if !exposed.is_zero() {
            self.effects.push(format!(
                "{} could then take {}",
                self.name_of(spender),
                fmt_amount(exposed, meta.decimals, &meta.symbol)
            ));
        }
        let level = if kind.is_eoa() || (!trusted && !change.post.is_zero() && value >= change.post) {
            Level::Critical
        } else if trusted {
            Level::Medium
        } else {
            Level::High
        };
        self.push(
            Finding::new("G05", level, "Permit signature", loss)
                .evidence(format!("token: {token}"))
                .evidence(format!(
                    "spender: {spender}{}",
                    if kind.is_eoa() { " (a personal account)" } else { "" }
                ))
                .evidence(format!("value: {value}")),
        );
        if kind.is_eoa() {
            self.push(
                Finding::new(
                    "G02",
                    Level::Critical,
                    "Permit to a personal account",
                    format!("{} is a personal account, not a contract", spender.to_checksum(None)),
                )
                .evidence(format!("spender: {spender}")),
            );
        }
        self.long_lived(deadline, "permit");
        Ok(())
    }

    fn long_lived(&mut self, deadline: U256, what: &str) {
        if deadline > U256::from(self.head.timestamp + LONG_LIVED_SECS) {
            let until = if deadline >= U256::from(u64::MAX) {
                "forever".to_owned()
            } else {
                format!("until {}", when(deadline.to::<u64>()))
            };
            self.push(Finding::new(
                "G19",
                Level::Medium,
                "Long-lived permission",
                format!("the {what} stays valid {until}"),
            ));
        }
    }

    async fn permit2_allowance(&mut self, data: &TypedData) -> Result<(), GuardError> {
        let msg = &data.message;
        let permit2 = data.domain.verifying_contract.unwrap_or(crate::lists::PERMIT2);
        let spender = addr(&msg["spender"])
            .ok_or_else(|| GuardError::BadRequest("Permit2 permit without spender".into()))?;
        let details: Vec<Value> = match &msg["details"] {
            Value::Array(items) => items.clone(),
            single @ Value::Object(_) => vec![single.clone()],
            _ => return Err(GuardError::BadRequest("Permit2 permit without details".into())),
        };
        let mut calls = vec![];
        let mut tokens = vec![];
        for d in &details {
            let token = addr(&d["token"])
                .ok_or_else(|| GuardError::BadRequest("Permit2 details without token".into()))?;
            let amount = num(&d["amount"]).unwrap_or_default();
            let expiration = num(&d["expiration"]).unwrap_or_default();
            tokens.push((token, amount, expiration));
            let amount160 = alloy::primitives::Uint::<160, 3>::from(
                amount.min((U256::from(1u8) << 160) - U256::from(1u8)),
            );
            let exp48 = alloy::primitives::Uint::<48, 1>::from(
                expiration.min(U256::from((1u64 << 48) - 1)).to::<u64>(),
            );
            calls.push(SimCall {
                trace: true,
                ..SimCall::new(
                    self.user,
                    permit2,
                    IPermit2::approveCall { token, spender, amount: amount160, expiration: exp48 }
                        .abi_encode()
                        .into(),
                )
            });
        }
        let outcome = self.scenario(calls, vec![], vec![]).await?;
        let kind = self.view.account(spender).await?;
        let trusted = self.trusted(spender);
        let mut losses = vec![];
        for (token, _, _) in &tokens {
            let meta = self.view.token(*token).await;
            let exposed =
                outcome.tokens.iter().find(|t| t.token == *token).map_or(U256::ZERO, TokenChange::exposed);
            losses.push(fmt_amount(exposed, meta.decimals, &meta.symbol));
        }
        let level = if tokens.len() > 1 || kind.is_eoa() {
            Level::Critical
        } else if trusted {
            Level::Medium
        } else {
            Level::High
        };
        let mut f = Finding::new(
            "G06",
            level,
            "Permit2 signature",
            format!("this signature lets {} take {}", spender.to_checksum(None), losses.join(" and ")),
        )
        .evidence(format!("spender: {spender}{}", if kind.is_eoa() { " (a personal account)" } else { "" }));
        for (token, amount, _) in &tokens {
            f = f.evidence(format!("token {token}: amount {amount}"));
        }
        self.push(f);
        self.effects.push(format!(
            "lets {} move {} through Permit2",
            self.name_of(spender),
            losses.join(" and ")
        ));
        for (_, _, expiration) in &tokens {
            self.long_lived(*expiration, "Permit2 allowance");
        }
        if let Some(deadline) = msg.get("sigDeadline").and_then(num) {
            self.long_lived(deadline, "signature");
        }
        Ok(())
    }

    async fn permit2_transfer(&mut self, data: &TypedData) -> Result<(), GuardError> {
        let msg = &data.message;
        let spender = addr(&msg["spender"])
            .ok_or_else(|| GuardError::BadRequest("Permit2 transfer without spender".into()))?;
        let permitted: Vec<Value> = match &msg["permitted"] {
            Value::Array(items) => items.clone(),
            single @ Value::Object(_) => vec![single.clone()],
            _ => vec![],
        };
        let kind = self.view.account(spender).await?;
        let mut losses = vec![];
        for p in &permitted {
            let Some(token) = addr(&p["token"]) else { continue };
            let amount = num(&p["amount"]).unwrap_or_default();
            let meta = self.view.token(token).await;
            let balance = self.view.balance_of(token, self.user).await;
            let allowance = self
                .view
                .call(
                    token,
                    IToken::allowanceCall {
                        owner: self.user,
                        spender: data.domain.verifying_contract.unwrap_or(crate::lists::PERMIT2),
                    }
                    .abi_encode(),
                )
                .await
                .and_then(|b| IToken::allowanceCall::abi_decode_returns(&b).ok())
                .unwrap_or_default();
            losses.push(fmt_amount(amount.min(balance).min(allowance), meta.decimals, &meta.symbol));
        }
        let level = if permitted.len() > 1 || kind.is_eoa() {
            Level::Critical
        } else if self.trusted(spender) {
            Level::Medium
        } else {
            Level::High
        };
        self.push(
            Finding::new(
                "G06",
                level,
                "Permit2 transfer signature",
                format!(
                    "this signature lets {} take {} in one go",
                    spender.to_checksum(None),
                    losses.join(" and ")
                ),
            )
            .evidence(format!("spender: {spender}")),
        );
        if let Some(deadline) = msg.get("deadline").and_then(num) {
            self.long_lived(deadline, "signature");
        }
        Ok(())
    }

    async fn seaport(&mut self, data: &TypedData) -> Result<(), GuardError> {
        let msg = &data.message;
        let market = data
            .domain
            .verifying_contract
            .ok_or_else(|| GuardError::BadRequest("order without verifyingContract".into()))?;
        let bad = |what: &str| GuardError::BadRequest(format!("malformed order: {what}"));
        let offerer = addr(&msg["offerer"]).ok_or_else(|| bad("offerer"))?;
        let items = |key: &str| msg.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
        let offer: Vec<OfferItem> = items("offer")
            .iter()
            .map(|i| OfferItem {
                itemType: num(&i["itemType"]).unwrap_or_default().to::<u8>(),
                token: addr(&i["token"]).unwrap_or_default(),
                identifierOrCriteria: num(&i["identifierOrCriteria"]).unwrap_or_default(),
                startAmount: num(&i["startAmount"]).unwrap_or_default(),
                endAmount: num(&i["endAmount"]).unwrap_or_default(),
            })
            .collect();
        let consideration: Vec<ConsiderationItem> = items("consideration")
            .iter()
            .map(|i| ConsiderationItem {
                itemType: num(&i["itemType"]).unwrap_or_default().to::<u8>(),
                token: addr(&i["token"]).unwrap_or_default(),
                identifierOrCriteria: num(&i["identifierOrCriteria"]).unwrap_or_default(),
                startAmount: num(&i["startAmount"]).unwrap_or_default(),
                endAmount: num(&i["endAmount"]).unwrap_or_default(),
                recipient: addr(&i["recipient"]).unwrap_or_default(),
            })
            .collect();
        let word = |k: &str| {
            msg.get(k).and_then(Value::as_str).and_then(|s| s.parse::<B256>().ok()).unwrap_or_default()
        };
        let parameters = OrderParameters {
            offerer,
            zone: addr(&msg["zone"]).unwrap_or_default(),
            offer: offer.clone(),
            consideration: consideration.clone(),
            orderType: num(&msg["orderType"]).unwrap_or_default().to::<u8>(),
            startTime: num(&msg["startTime"]).unwrap_or_default(),
            endTime: num(&msg["endTime"]).unwrap_or_default(),
            zoneHash: word("zoneHash"),
            salt: num(&msg["salt"]).unwrap_or_default(),
            conduitKey: word("conduitKey"),
            totalOriginalConsiderationItems: U256::from(consideration.len()),
        };
        let order = Order { parameters, signature: Bytes::new() };
        let to_user: U256 = consideration
            .iter()
            .filter(|c| c.recipient == self.user && c.itemType <= 1)
            .map(|c| c.endAmount.min(c.startAmount))
            .sum();
        let to_others: U256 = consideration
            .iter()
            .filter(|c| c.recipient != self.user && c.itemType <= 1)
            .map(|c| c.endAmount.max(c.startAmount))
            .sum();
        let pay: U256 =
            consideration.iter().filter(|c| c.itemType == 0).map(|c| c.endAmount.max(c.startAmount)).sum();
        for o in &offer {
            let meta = self.view.token(o.token).await;
            let what = if o.itemType >= 2 {
                format!("{} NFT #{}", meta.symbol, o.identifierOrCriteria)
            } else {
                fmt_amount(o.startAmount, meta.decimals, &meta.symbol)
            };
            self.effects.push(format!("offers {what}"));
        }
        for c in &consideration {
            self.effects.push(format!(
                "asks {} for {}",
                if c.itemType == 0 {
                    fmt_eth(c.startAmount)
                } else {
                    format!("{} of {}", c.startAmount, short(c.token))
                },
                self.name_of(c.recipient)
            ));
        }
        // Simulate: the offerer validates the order, then a stranger fills it.
        let validate = SimCall {
            trace: true,
            ..SimCall::new(
                offerer,
                market,
                ISeaport::validateCall { orders: vec![order.clone()] }.abi_encode().into(),
            )
        };
        let fill = SimCall {
            from: STRANGER,
            to: Some(market),
            value: pay,
            data: ISeaport::fulfillOrderCall { order, fulfillerConduitKey: B256::ZERO }.abi_encode().into(),
            trace: false,
        };
        let mut extra = vec![fill];
        extra.extend(offer.iter().map(|o| {
            SimCall::new(offerer, o.token, IToken::balanceOfCall { owner: offerer }.abi_encode().into())
        }));
        let outcome = self.scenario(vec![validate], vec![], extra).await?;
        let nft_lost: U256 = outcome
            .tokens
            .iter()
            .filter(|t| offer.iter().any(|o| o.token == t.token))
            .map(TokenChange::exposed)
            .sum();
        let received: U256 = outcome
            .followups
            .first()
            .map_or(U256::ZERO, |r| r.frames.iter().filter(|f| f.to == self.user).map(|f| f.value).sum());
        let filled = outcome.followups.first().is_some_and(|r| r.success);
        let dust = U256::from(10u64).pow(U256::from(14));
        if offerer == self.user && !offer.is_empty() && to_user <= dust {
            self.push(
                Finding::new(
                    "G07",
                    Level::Critical,
                    "Order that gives your assets away",
                    format!(
                        "this order hands over {} item{} and pays you {} in return",
                        offer.len(),
                        if offer.len() == 1 { "" } else { "s" },
                        fmt_eth(to_user)
                    ),
                )
                .evidence(format!("paid to you: {}", fmt_eth(to_user)))
                .evidence(format!("paid to others: {}", fmt_eth(to_others)))
                .evidence(format!(
                    "simulated fill by a stranger: {}; you lose {nft_lost} item(s) and receive {}",
                    if filled { "succeeds" } else { "fails" },
                    fmt_eth(received)
                )),
            );
        } else if to_others > to_user {
            self.push(Finding::new(
                "G07",
                Level::High,
                "Most proceeds go to others",
                format!("the order pays {} to others and {} to you", fmt_eth(to_others), fmt_eth(to_user)),
            ));
        } else {
            self.push(
                Finding::new(
                    "G07",
                    Level::Info,
                    "Listing",
                    format!("a listing that pays you {}", fmt_eth(to_user)),
                )
                .evidence(format!("simulated fill: you receive {}", fmt_eth(received))),
            );
        }
        if !parameters_zone_is_open(msg) {
            self.push(Finding::new(
                "G07",
                Level::Low,
                "Restricted order",
                "the order names a zone that decides who may fill it",
            ));
        }
        let end = num(&msg["endTime"]).unwrap_or_default();
        self.long_lived(end, "order");
        Ok(())
    }

    /// A Blur `Order` (decoded only: Blur's exchange is not simulated).
    async fn blur_order(&mut self, data: &TypedData) {
        let msg = &data.message;
        let trader = addr(&msg["trader"]).unwrap_or_default();
        let sell = num(&msg["side"]).unwrap_or_default() == U256::from(1u8);
        let collection = addr(&msg["collection"]).unwrap_or_default();
        let id = num(&msg["tokenId"]).unwrap_or_default();
        let price = num(&msg["price"]).unwrap_or_default();
        let fee_bps: U256 =
            msg["fees"].as_array().into_iter().flatten().filter_map(|f| num(&f["rate"])).sum();
        let meta = self.view.token(collection).await;
        let item = format!(
            "{} NFT #{id}",
            if meta.symbol.is_empty() { short(collection) } else { meta.symbol.clone() }
        );
        self.effects.push(format!(
            "{} {item} for {}",
            if sell { "lists" } else { "bids on" },
            fmt_eth(price)
        ));
        if trader == self.user && sell {
            let dust = U256::from(10u64).pow(U256::from(14));
            if price <= dust {
                self.push(
                    Finding::new(
                        "G07",
                        Level::Critical,
                        "Order that gives your assets away",
                        format!("this Blur order sells your {item} for {}", fmt_eth(price)),
                    )
                    .evidence(format!("collection: {collection}"))
                    .evidence(format!("price: {price} wei")),
                );
            } else if fee_bps > U256::from(5000u16) {
                self.push(Finding::new(
                    "G07",
                    Level::High,
                    "Most proceeds go to others",
                    format!("the order's fees take {}% of the price", fee_bps / U256::from(100u8)),
                ));
            } else {
                self.push(Finding::new(
                    "G07",
                    Level::Info,
                    "Listing",
                    format!("a Blur listing of your {item} for {}", fmt_eth(price)),
                ));
            }
        }
        if let Some(end) = msg.get("expirationTime").and_then(num) {
            self.long_lived(end, "order");
        }
    }

    // --- messages ---------------------------------------------------------------------------

    fn personal(&mut self, message: &[u8], origin: Option<&str>) {
        let Ok(text) = std::str::from_utf8(message) else {
            let level = if message.len() == 32 { Level::High } else { Level::Medium };
            self.push(
                Finding::new("G08", level, "Blind signature", format!("the message is {} bytes of binary data, not text; a 32-byte hash can authorise a Safe transaction or worse", message.len()))
                    .evidence(format!("0x{}", hex::encode(&message[..message.len().min(64)]))),
            );
            return;
        };
        if let Some(siwe) = Siwe::parse(text) {
            self.effects.push(format!(
                "signs in to {:?} as {}",
                siwe.domain,
                self.name_of(siwe.address.unwrap_or_default())
            ));
            if siwe.address != Some(self.user) {
                self.push(Finding::new(
                    "G08",
                    Level::High,
                    "Sign-in for another account",
                    format!(
                        "the sign-in message names {:?}, not the signing account",
                        siwe.address.map(|a| a.to_string()).unwrap_or_default()
                    ),
                ));
            }
            if siwe.chain_id.is_some_and(|c| c != self.head.chain_id) {
                self.push(Finding::new(
                    "G14",
                    Level::High,
                    "Sign-in for another chain",
                    format!(
                        "the sign-in message is for chain {} but your node is on chain {}",
                        siwe.chain_id.unwrap_or_default(),
                        self.head.chain_id
                    ),
                ));
            }
            if let Some(origin) = origin {
                let host = crate::lists::host_of(origin);
                let claimed = crate::lists::host_of(&siwe.domain);
                if host != claimed {
                    self.push(
                        Finding::new(
                            "G08",
                            Level::High,
                            "Sign-in for another site",
                            format!("the page at {host} asks you to sign in to {claimed}"),
                        )
                        .evidence(format!("origin: {origin:?}"))
                        .evidence(format!("message domain: {:?}", siwe.domain)),
                    );
                }
            }
            return;
        }
        let shown: String = text.chars().take(80).collect();
        self.effects.push(format!("signs the text {shown:?}"));
    }
}

/// An EIP-4361 sign-in message, as far as the guard needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Siwe {
    domain: String,
    address: Option<Address>,
    chain_id: Option<u64>,
}

impl Siwe {
    fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        let first = lines.next()?;
        let domain =
            first.strip_suffix(" wants you to sign in with your Ethereum account:")?.trim().to_owned();
        let address = lines.next().and_then(|l| l.trim().parse().ok());
        let chain_id =
            text.lines().find_map(|l| l.strip_prefix("Chain ID:")).and_then(|v| v.trim().parse().ok());
        Some(Self { domain, address, chain_id })
    }
}

fn parameters_zone_is_open(msg: &Value) -> bool {
    addr(&msg["zone"]).is_none_or(|z| z.is_zero())
}

fn delegation_code(delegate: Address) -> Bytes {
    [&[0xef, 0x01, 0x00][..], delegate.as_slice()].concat().into()
}

fn native(out: &mut BTreeMap<Address, U256>, into: &mut BTreeMap<Address, U256>, user: Address, f: &Frame) {
    if f.value.is_zero() || f.from == f.to {
        return;
    }
    if f.from == user {
        *out.entry(f.to).or_default() += f.value;
    }
    if f.to == user {
        *into.entry(f.from).or_default() += f.value;
    }
}

/// What moved to or from the user, per asset, for comparing two runs.
fn flows(user: Address, results: &[CallResult]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, r) in results.iter().enumerate() {
        out.insert(format!("call {} {}", i + 1, if r.success { "succeeds" } else { "reverts" }));
        for f in &r.frames {
            if f.from == user || f.to == user {
                out.insert(format!(
                    "call {}: {} ETH moves from {} to {}",
                    i + 1,
                    fmt_eth(f.value),
                    f.from,
                    f.to
                ));
            }
        }
        for l in &r.logs {
            let t = l.topics();
            if t.len() >= 3
                && (t[0] == TRANSFER || t[0] == APPROVAL || t[0] == APPROVAL_FOR_ALL)
                && (topic_address(&t[1]) == user || topic_address(&t[2]) == user)
            {
                out.insert(format!(
                    "call {}: {} {} → {} on {} ({})",
                    i + 1,
                    if t[0] == TRANSFER { "transfer" } else { "approval" },
                    topic_address(&t[1]),
                    topic_address(&t[2]),
                    l.address,
                    hex::encode(&l.data.data)
                ));
            }
        }
    }
    out
}

fn approvals_of(user: Address, results: &[CallResult]) -> Vec<ApprovalFact> {
    let mut out = vec![];
    for log in results.iter().flat_map(|r| r.logs.iter()) {
        let t = log.topics();
        let data = &log.data.data;
        match (t.first(), t.len()) {
            (Some(&APPROVAL), 3) if topic_address(&t[1]) == user => out.push(ApprovalFact {
                emitter: log.address,
                spender: topic_address(&t[2]),
                amount: U256::from_be_slice(data.get(..32).unwrap_or(&[0u8; 32])),
                kind: ApprovalKind::Erc20,
            }),
            (Some(&APPROVAL), 4) if topic_address(&t[1]) == user => out.push(ApprovalFact {
                emitter: log.address,
                spender: topic_address(&t[2]),
                amount: U256::from(1u8),
                kind: ApprovalKind::Nft(U256::from_be_bytes(t[3].0)),
            }),
            (Some(&APPROVAL_FOR_ALL), 3) if topic_address(&t[1]) == user => out.push(ApprovalFact {
                emitter: log.address,
                spender: topic_address(&t[2]),
                amount: U256::ZERO,
                kind: ApprovalKind::All(data.get(31) == Some(&1)),
            }),
            (Some(&PERMIT2_APPROVAL), 4) if topic_address(&t[1]) == user && data.len() >= 64 => {
                out.push(ApprovalFact {
                    emitter: log.address,
                    spender: topic_address(&t[3]),
                    amount: U256::from_be_slice(&data[..32]),
                    kind: ApprovalKind::Permit2 {
                        token: topic_address(&t[2]),
                        expiration: U256::from_be_slice(&data[32..64]).saturating_to(),
                    },
                })
            }
            _ => {}
        }
    }
    out
}

fn revert_reason(output: &[u8]) -> String {
    if output.len() > 4
        && output[..4] == [0x08, 0xc3, 0x79, 0xa0]
        && let Ok(s) = String::abi_decode(&output[4..])
    {
        return s.chars().filter(|c| !c.is_control()).take(120).collect();
    }
    // The custom errors of OpenZeppelin's tokens, the most common reverts a user meets.
    let word =
        |i: usize| output.get(4 + 32 * i..4 + 32 * (i + 1)).map(U256::from_be_slice).unwrap_or_default();
    match output.get(..4) {
        Some([0xe4, 0x50, 0xd3, 0x8c]) => {
            return format!("insufficient token balance (has {}, needs {})", word(1), word(2));
        }
        Some([0xfb, 0x8f, 0x41, 0xb2]) => {
            return format!("insufficient allowance (has {}, needs {})", word(1), word(2));
        }
        _ => {}
    }
    if output.is_empty() {
        String::new()
    } else {
        format!("0x{}", hex::encode(&output[..output.len().min(36)]))
    }
}

fn fmt_age(secs: u64) -> String {
    match secs {
        s if s < 3600 => format!("{} minutes", s / 60),
        s if s < 172_800 => format!("{} hours", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

fn when(unix: u64) -> String {
    if unix >= (1 << 40) {
        return "practically forever".into();
    }
    let days = unix / 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_messages_are_parsed() {
        let text = "app.example.org wants you to sign in with your Ethereum account:\n0x00000000000000000000000000000000000000aa\n\nSign in\n\nURI: https://app.example.org\nVersion: 1\nChain ID: 31337\nNonce: 12345678\nIssued At: 2026-11-22T00:00:00Z";
        let siwe = Siwe::parse(text).unwrap();
        assert_eq!(siwe.domain, "app.example.org");
        assert_eq!(siwe.chain_id, Some(31337));
        assert_eq!(siwe.address, Some(Address::with_last_byte(0xaa)));
        assert!(Siwe::parse("hello").is_none());
    }

    #[test]
    fn dates_and_ages_read_well() {
        assert_eq!(when(0), "1970-01-01");
        assert_eq!(when(1_795_305_600), "2026-11-22");
        assert_eq!(fmt_age(90_000), "25 hours");
        assert_eq!(fmt_age(400_000), "4 days");
    }

    #[test]
    fn revert_reasons_are_decoded() {
        let mut data = vec![0x08, 0xc3, 0x79, 0xa0];
        data.extend(String::from("nope").abi_encode());
        assert_eq!(revert_reason(&data), "nope");
        assert_eq!(revert_reason(&[]), "");
    }
}
