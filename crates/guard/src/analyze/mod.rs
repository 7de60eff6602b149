//! The analysis: request → decode → simulate → facts → rules → verdict.

use crate::{
    GuardError, RequestError,
    chain::{AccountKind, ChainView, Head, IBatch, IPermit2, IToken, fmt_amount, fmt_eth},
    decode::{self, Decoded},
    lists::{BURN_ADDRESSES, GuardData, KNOWN_CONTRACTS, ListKind, OriginMatch, UserLists},
    request::{Action, Call, Delegation, Fees, GuardRequest},
    rules::Rule,
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

mod orders;
mod outcome;
mod signatures;
mod simulate;
mod transactions;
mod trust;

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
/// Permissions that end within this are short-lived: with an exact amount, to a contract the user
/// has used before, a permit of this length is the ordinary gasless approval.
pub const SHORT_LIVED_SECS: u64 = 86_400;
/// A priority fee above what the network needs that burns this share of the balance or more is
/// high (1/4), or medium (1/10).
pub const FEE_HIGH_SHARE: u64 = 4;
/// See [`FEE_HIGH_SHARE`].
pub const FEE_MEDIUM_SHARE: u64 = 10;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
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
    provider: alloy::providers::DynProvider,
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
                provider,
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
            Err(_) => Err(GuardError::Timeout { what: "the analysis".into(), after: self.inner.deadline }),
        }
    }

    async fn check_now(&self, request: &GuardRequest) -> Result<Verdict, GuardError> {
        let started = Instant::now();
        let action = request.action(None)?;
        let view = ChainView::new(self.inner.provider.clone());
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
            recipients: vec![],
            simulated: false,
        };
        if let Some(origin) = &request.origin {
            a.origin(origin);
        }
        match action {
            Action::Transactions { from, calls, chain_id, unprotected, delegations, gas_limit, fees } => {
                a.user = from;
                a.transactions(&calls, chain_id, unprotected, &delegations, gas_limit, fees).await?;
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
                    Finding::new(Rule::BlindSignature, "eth_sign signs a raw hash that can be a transaction or an EIP-7702 delegation of your whole account; no legitimate site needs it")
                        .evidence(format!("hash {hash}")),
                );
            }
        }
        let simulator = if a.simulated { self.inner.simulator.name() } else { "none" };
        let assets = std::mem::take(&mut a.assets);
        let mut verdict = Verdict::new(&request.method, a.findings, a.effects, simulator);
        verdict.assets = assets;
        verdict.recipients = a.recipients;
        verdict.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(verdict)
    }

    /// Simulates a transaction or batch and returns its canonical facts (one line each, sorted),
    /// so two simulators can be compared.
    pub async fn facts(&self, request: &GuardRequest) -> Result<Vec<String>, GuardError> {
        let Action::Transactions { from, calls, .. } = request.action(None)? else {
            return Err(GuardError::BadRequest(RequestError::new(
                "facts are computed for transactions only",
            )));
        };
        let view = ChainView::new(self.inner.provider.clone());
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
            recipients: vec![],
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
    /// Who a send pays (see [`Verdict::recipients`]).
    recipients: Vec<Address>,
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
                    Rule::BlockedCounterparty,
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
                Finding::new(Rule::BlockedSite, format!("the site {host} is on your block list"))
                    .evidence(format!("origin: {origin:?}")),
            );
            return;
        }
        match self.g.data.phishing.check(origin) {
            Some(OriginMatch::Blocked(domain)) => self.push(
                Finding::new(Rule::KnownPhishingSite, format!("the site {host} is on the phishing list"))
                    .evidence(format!("listed domain: {domain}")),
            ),
            Some(OriginMatch::LooksLike(target)) => self.push(
                Finding::new(Rule::LookAlikeSite, format!("the site {host} imitates {target}"))
                    .evidence(format!("origin: {origin:?}, imitated: {target}")),
            ),
            None => {}
        }
        if host.starts_with("xn--") || host.contains(".xn--") {
            self.push(Finding::new(
                Rule::InternationalisedDomain,
                format!("the site {host} uses punycode, which can hide look-alike letters"),
            ));
        }
    }

    fn user_call(&self, c: &Call) -> SimCall {
        SimCall { from: self.user, to: c.to, value: c.value, data: c.data.clone(), trace: true }
    }
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
