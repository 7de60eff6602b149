//! The rules over what the simulation found (balance changes, frames, approvals) and the
//! approval checks they share with the static pass.

use super::*;
use crate::chain::TokenMeta;

impl Analysis<'_> {
    /// The rules over a simulated outcome: effects in words, then each family of checks.
    pub(super) async fn rules_on_outcome(
        &mut self,
        o: &Outcome,
        decoded: &[Decoded],
        batch: bool,
        raw_calldata: &str,
    ) -> Result<(), GuardError> {
        let metas = self.describe_outcome(o).await;
        self.failure_rules(o);
        let top_level: BTreeSet<Address> = decoded.iter().filter_map(|d| d.to).collect();
        self.approval_rules(o, decoded, batch, &metas, &top_level).await?;
        self.frame_rules(o, raw_calldata).await;
        let impostors = self.fake_tokens(o, &metas);
        let gets_something = !o.native_in.is_empty()
            || o.tokens.iter().any(|t| !t.gained().is_zero() && !impostors.contains_key(&t.token));
        self.forwarded_eth(o, decoded, &top_level, gets_something).await?;
        self.nothing_back(o, decoded, gets_something, &impostors);
        Ok(())
    }

    /// What happens, in words; returns the metadata of every token that moved.
    async fn describe_outcome(&mut self, o: &Outcome) -> BTreeMap<Address, TokenMeta> {
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
        metas
    }

    /// G18: the call reverts, or behaves differently in a realistic block.
    fn failure_rules(&mut self, o: &Outcome) {
        if let Some((i, reason)) = &o.reverted {
            self.push(Finding::new(
                Rule::WouldFail,
                format!(
                    "call {} would revert{}",
                    i + 1,
                    if reason.is_empty() { String::new() } else { format!(": {reason}") }
                ),
            ));
        }
        if !o.diverged.is_empty() {
            let mut f = Finding::new(
                Rule::BehavesDifferentlyInARealBlock,
                "the result changes when the block looks real (fees, coinbase, time): the contract is hiding what it does from simulators",
            );
            for line in &o.diverged {
                f = f.evidence(line.clone());
            }
            self.push(f);
        }
    }

    /// G01–G04, G11, G20: every approval the outcome grants, approvals hidden in a batch, revokes
    /// that burn gas.
    async fn approval_rules(
        &mut self,
        o: &Outcome,
        decoded: &[Decoded],
        batch: bool,
        metas: &BTreeMap<Address, TokenMeta>,
        top_level: &BTreeSet<Address>,
    ) -> Result<(), GuardError> {
        // Approvals.
        let live: Vec<&ApprovalFact> = o
            .approvals
            .iter()
            .filter(|a| {
                !(matches!(a.kind, ApprovalKind::All(false))
                    || a.amount.is_zero() && a.kind == ApprovalKind::Erc20)
            })
            .collect();
        for a in &o.approvals {
            self.approval(a, o, metas).await?;
        }
        if batch && !live.is_empty() {
            let hidden: Vec<&&ApprovalFact> =
                live.iter().filter(|a| !top_level.contains(&a.spender)).collect();
            if live.len() > 1 || !hidden.is_empty() {
                let mut f = Finding::new(
                    Rule::ApprovalHiddenInABatch,
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
                Rule::RevokeThatBurnsGas,
                format!(
                    "this revoke would use {} gas; an honest revoke needs well under 100,000",
                    o.gas_used
                ),
            ));
        }
        Ok(())
    }

    /// G12, G15: control changes seen in the logs, delegatecalls to code named in the calldata,
    /// selfdestructs.
    async fn frame_rules(&mut self, o: &Outcome, raw_calldata: &str) {
        // Control changes seen in the logs.
        for (contract, what, new) in &o.owner_changes {
            if !self.findings.iter().any(|f| {
                f.id == Rule::ControlHandedOver.id()
                    && f.evidence.iter().any(|e| e.contains(&new.to_string()))
            }) {
                self.owner_change(*contract, what, *new);
            }
        }
        // Delegatecalls to code named in the calldata, selfdestructs, ETH forwarded to a third party.
        for f in &o.delegatecalls {
            let chosen = raw_calldata.contains(&hex::encode(f.to));
            let implementation = self.is_implementation_of(f.from, f.to).await;
            if chosen && !implementation {
                self.push(
                    Finding::new(Rule::DelegatecallToCodeYouChose, format!("{} runs the code of {} in its own context, and that address comes from this transaction's data", short(f.from), short(f.to)))
                        .evidence(format!("delegatecall {} → {}", f.from, f.to)),
                );
            }
        }
        for f in &o.selfdestructs {
            self.push(
                Finding::new(
                    Rule::SelfDestructingContract,
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
    }

    /// G17: tokens received that copy a listed token; returns them (address → symbol).
    fn fake_tokens(
        &mut self,
        o: &Outcome,
        metas: &BTreeMap<Address, TokenMeta>,
    ) -> BTreeMap<Address, String> {
        // Tokens received that copy a listed token's symbol or name are worth nothing: receiving
        // one is not receiving something back.
        let mut impostors: BTreeMap<Address, String> = BTreeMap::new();
        for t in o.tokens.iter().filter(|t| !t.gained().is_zero() && !t.nft) {
            let m = &metas[&t.token];
            if self.g.data.tokens.genuine(self.head.chain_id, t.token, &m.symbol) || self.trusted(t.token) {
                continue;
            }
            if let Some(real) = self.g.data.tokens.imitated(&m.symbol, &m.name) {
                impostors.insert(t.token, format!("{:?}", m.symbol));
                self.push(
                    Finding::new(
                        Rule::FakeToken,
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
        impostors
    }

    /// G15: ETH sent that passes through to a personal account when nothing comes back.
    async fn forwarded_eth(
        &mut self,
        o: &Outcome,
        decoded: &[Decoded],
        top_level: &BTreeSet<Address>,
        gets_something: bool,
    ) -> Result<(), GuardError> {
        let sent: U256 = decoded.iter().map(|d| d.value).sum();
        // ETH that passes through a contract to someone else is a payment when something comes
        // back (a purchase pays the seller); with nothing back it is the fake-claim drainer.
        let trusted_targets = top_level.iter().all(|t| self.trusted(*t));
        if !sent.is_zero() && !gets_something && !trusted_targets {
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
                            Finding::new(Rule::YourEthIsForwardedToAThirdParty, format!("the {} you send ends up with {}, an account that is not the contract you call", fmt_eth(f.value), f.to.to_checksum(None)))
                                .evidence(format!("{} → {}: {}", f.from, f.to, fmt_eth(f.value))),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// G17: a call that promises something back takes the user's assets and gives nothing (or
    /// only look-alike tokens).
    fn nothing_back(
        &mut self,
        o: &Outcome,
        decoded: &[Decoded],
        gets_something: bool,
        impostors: &BTreeMap<Address, String>,
    ) {
        // Trade for nothing.
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
        // A loss counts when it goes to someone the user does not know: a payment to a contact in
        // the address book (or to a listed contract) is one the user means to make.
        let to_stranger = |a: &Address| !self.trusted(*a);
        let lost_to_strangers = o.native_out.keys().any(to_stranger)
            || o.tokens
                .iter()
                .any(|t| !t.lost().is_zero() && (t.to.is_empty() || t.to.iter().any(to_stranger)));
        // Only calls that promise something back (a claim, a mint, a swap, or code the guard cannot
        // name) on contracts the user does not know: a deposit into a known contract is not a
        // trade for nothing.
        let promises = decoded.iter().flat_map(|d| d.flatten()).any(|c| {
            let name = c.name.to_ascii_lowercase();
            let untrusted = c.to.is_some_and(|t| !self.trusted(t));
            untrusted
                && (name.starts_with("unknown")
                    || ["claim", "mint", "swap", "buy", "purchase", "redeem", "exchange", "trade", "airdrop"]
                        .iter()
                        .any(|w| name.contains(w)))
        });
        if !transfers_only && promises && lost_to_strangers && !gets_something && o.reverted.is_none() {
            let names: Vec<String> = decoded.iter().map(|d| d.name.clone()).collect();
            let back = if impostors.is_empty() {
                "gives you nothing in return".to_owned()
            } else {
                format!(
                    "gives you only {}, a look-alike of a listed token, in return: what you give is not compensated",
                    impostors.values().cloned().collect::<Vec<_>>().join(", ")
                )
            };
            self.push(Finding::new(
                Rule::YouGiveAndGetNothingBack,
                format!("{} takes your assets and {back}", names.join(", ")),
            ));
        }
    }

    pub(super) async fn is_implementation_of(&self, proxy: Address, code: Address) -> bool {
        let slot = self
            .view
            .provider()
            .get_storage_at(proxy, U256::from_be_bytes(IMPLEMENTATION_SLOT.0))
            .await
            .unwrap_or_default();
        Address::from_word(B256::from(slot)) == code
    }

    pub(super) async fn approval(
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
        let standing = self.standing(spender).await?;
        let kind = standing.kind;
        let trusted = standing.trusted();
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
                    Rule::ApprovalToAPersonalAccount,
                    format!(
                        "{} is a personal account{delegated}, not a contract: {loss}",
                        spender.to_checksum(None)
                    ),
                )
                .evidence(format!("spender: {spender}"))
                .evidence(format!("token: {token}")),
            );
        }
        self.approval_scope(a, token, &meta.symbol, balance, trusted, &loss);
        self.spender_standing(spender, &standing);
        Ok(())
    }

    /// How much an approval lets go: a whole collection, an unlimited allowance, a long-lived
    /// Permit2 allowance.
    fn approval_scope(
        &mut self,
        a: &ApprovalFact,
        token: Address,
        symbol: &str,
        balance: U256,
        trusted: bool,
        loss: &str,
    ) {
        let spender = a.spender;
        match a.kind {
            ApprovalKind::All(true) => {
                let level = if trusted { Level::Medium } else { Level::High };
                self.push(
                    Finding::at(
                        Rule::ApprovalOfAWholeCollection,
                        level,
                        format!(
                            "{} could move every {} NFT you hold, now and later ({balance} today)",
                            self.name_of(spender),
                            symbol
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
                        Finding::at(
                            Rule::UnlimitedApproval,
                            level,
                            format!("{} may spend {} without limit: {loss}", self.name_of(spender), symbol),
                        )
                        .evidence(format!("spender: {spender}"))
                        .evidence(format!("allowance: {}", a.amount)),
                    );
                }
                if let ApprovalKind::Permit2 { expiration, .. } = a.kind
                    && expiration > self.head.timestamp + LONG_LIVED_SECS
                {
                    self.push(Finding::new(
                        Rule::LongLivedPermission,
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
    }

    /// Who the spender is: a contract deployed moments ago, or one the user never used.
    fn spender_standing(&mut self, spender: Address, standing: &super::trust::Standing) {
        let (kind, trusted) = (standing.kind, standing.trusted());
        if kind == AccountKind::Contract && !trusted {
            if standing.fresh() {
                self.push(
                    Finding::new(
                        Rule::ApprovalToANewContract,
                        format!(
                            "{} was deployed {} ago and is not one you know",
                            spender.to_checksum(None),
                            fmt_age(standing.age.unwrap_or_default())
                        ),
                    )
                    .evidence(format!("spender: {spender}")),
                );
            } else if !standing.used {
                self.push(
                    Finding::new(
                        Rule::ApprovalToAnUnfamiliarContract,
                        format!("you have not used {} before", spender.to_checksum(None)),
                    )
                    .evidence(format!("spender: {spender}")),
                );
            }
        }
    }
}
