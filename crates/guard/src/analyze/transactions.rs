//! Transactions and batches: static checks on the decoded calls, EIP-7702 delegations, and the
//! rules over what the simulation found.

use super::*;

impl Analysis<'_> {
    // --- transactions -----------------------------------------------------------------------

    pub(super) async fn transactions(
        &mut self,
        calls: &[Call],
        chain_id: Option<u64>,
        unprotected: bool,
        delegations: &[Delegation],
        gas_limit: Option<u64>,
        fees: Option<Fees>,
    ) -> Result<(), GuardError> {
        if let Some(id) = chain_id
            && id != self.head.chain_id
        {
            self.push(
                Finding::new(
                    Rule::WrongChain,
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
                Rule::ReplayableTransaction,
                "a legacy transaction without a chain id can be replayed on every chain",
            ));
        }
        let decoded: Vec<Decoded> =
            calls.iter().map(|c| decode::decode(c.to, c.value, &c.data)).collect::<Result<_, _>>()?;
        self.recipients = calls.iter().filter_map(|c| c.to).collect();
        for d in &decoded {
            self.recipients
                .extend(d.flatten().iter().filter(|x| x.name == "transfer").filter_map(|x| x.address("to")));
        }
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
                Rule::GasLimitFarAboveUse,
                format!(
                    "the gas limit {limit} is more than ten times the {} the simulation used",
                    outcome.gas_used
                ),
            ));
        }
        if let Some(fees) = fees {
            self.fees(fees, gas_limit, outcome.gas_used).await?;
        }
        Ok(())
    }

    /// Fees are a loss too: what the transaction would pay, and the part of its priority fee the
    /// network does not need, against the sender's ETH balance (G20).
    pub(super) async fn fees(
        &mut self,
        fees: Fees,
        gas_limit: Option<u64>,
        gas_used: u64,
    ) -> Result<(), GuardError> {
        let provider = self.view.provider();
        let balance =
            provider.get_balance(self.user).await.map_err(|e| GuardError::upstream("the balance", e))?;
        // What the node suggests as a priority fee; a node that does not say gets 1 gwei.
        let network_tip = provider.get_max_priority_fee_per_gas().await.unwrap_or(1_000_000_000);
        let base = u128::from(self.head.basefee);
        let (price, tip) = (fees.price(base), fees.tip(base));
        let expected_gas = gas_used.max(21_000).min(gas_limit.unwrap_or(u64::MAX));
        let most_gas = gas_limit.unwrap_or(expected_gas);
        let expected = U256::from(expected_gas) * U256::from(price);
        let most = U256::from(most_gas) * U256::from(price);
        // The tip beyond twice what the network asks buys nothing: it is a gift to the builder.
        let excess = U256::from(most_gas) * U256::from(tip.saturating_sub(network_tip.saturating_mul(2)));
        self.effects.push(format!(
            "you pay about {} in fees (at most {}), of which {} is a tip to the block builder",
            fmt_eth(expected),
            fmt_eth(most),
            fmt_eth(U256::from(expected_gas) * U256::from(tip))
        ));
        if !expected.is_zero() {
            self.assets.push(AssetChange {
                kind: ChangeKind::Lose,
                asset: None,
                amount: expected,
                counterparty: None,
            });
        }
        if balance.is_zero() {
            return Ok(());
        }
        let percent = |part: U256| part.saturating_mul(U256::from(100u8)) / balance;
        let gwei = |wei: u128| {
            let g = wei as f64 / 1e9;
            if g >= 1_000_000.0 { format!("{:.0} gwei", g) } else { format!("{g} gwei") }
        };
        let evidence = |f: Finding| {
            f.evidence(format!(
                "priority fee: {} per gas (the node suggests {})",
                gwei(tip),
                gwei(network_tip)
            ))
            .evidence(format!("max fee: {} per gas, gas limit {most_gas}", gwei(fees.max_fee_per_gas)))
            .evidence(format!("your balance: {}", fmt_eth(balance)))
        };
        let level = if excess.saturating_mul(U256::from(FEE_HIGH_SHARE)) >= balance {
            Some(Level::High)
        } else if excess.saturating_mul(U256::from(FEE_MEDIUM_SHARE)) >= balance {
            Some(Level::Medium)
        } else {
            None
        };
        if let Some(level) = level {
            self.push(evidence(Finding::at(Rule::FeeThatBurnsYourBalance, level, format!(
                    "the priority fee is {} per gas where the network asks {}: the block builder would get up to {}, {}% of your {}",
                    gwei(tip),
                    gwei(network_tip),
                    fmt_eth(U256::from(most_gas) * U256::from(tip)),
                    percent(excess),
                    fmt_eth(balance)
                ),
            )));
        } else if most.saturating_mul(U256::from(FEE_HIGH_SHARE)) >= balance {
            self.push(evidence(Finding::new(
                Rule::FeesAreALargeShareOfYourBalance,
                format!(
                    "the fees may take up to {}, {}% of your {}",
                    fmt_eth(most),
                    percent(most),
                    fmt_eth(balance)
                ),
            )));
        }
        Ok(())
    }

    pub(super) async fn static_call_checks(&mut self, d: &Decoded) -> Result<(), GuardError> {
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
                                Rule::TokensSentToTheirOwnContract,
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
                        self.push(Finding::new(Rule::TokensSentToATokenContract, format!("the recipient {} is itself a token contract, which cannot send them back", short(to))).evidence(format!("recipient: {to}")));
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
                            self.push(Finding::new(Rule::NftSentToAContractThatCannotHandleIt, format!("{} does not accept NFTs (onERC721Received), so NFT #{id} would be stuck there", short(to))).evidence(format!("recipient: {to}")));
                        }
                    }
                }
                "" if call.name == "transfer of ETH" => {
                    self.recipient(target).await?;
                    if !call.value.is_zero() && self.view.account(target).await? == AccountKind::Contract {
                        let code = self.view.code(target).await?;
                        if ![0xf1u8, 0xf2, 0xf4, 0xff].iter().any(|op| decode::has_opcode(&code, *op)) {
                            self.push(Finding::new(Rule::EthSentToAContractThatCannotSendItOn, format!("{} has no instruction that moves ETH out, so the {} would likely be stuck", short(target), fmt_eth(call.value))).evidence(format!("contract: {target}")));
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
                            Rule::DataSentToAnAccountWithoutCode,
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

    pub(super) async fn is_erc20(&self, token: Address) -> bool {
        self.view.token(token).await.decimals.is_some()
    }

    pub(super) async fn recipient(&mut self, to: Address) -> Result<(), GuardError> {
        self.blocked(to, "recipient");
        if BURN_ADDRESSES.contains(&to) {
            self.push(Finding::new(
                Rule::SentToABurnAddress,
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
                    Rule::LookAlikeAddress,
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
                Rule::FirstTransferToThisAddress,
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
    pub(super) async fn planted_transfers(&self, to: Address) -> usize {
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

    pub(super) fn owner_change(&mut self, contract: Address, what: &'static str, new: Address) {
        if what == "ownership" && new.is_zero() {
            self.push(Finding::new(
                Rule::OwnershipRenounced,
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
                    Rule::ControlHandedOver,
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
                    Rule::ControlHandedToAnUnknownParty,
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

    pub(super) async fn delegation(&mut self, del: &Delegation) -> Result<(), GuardError> {
        let who = del.authority.map_or("an account".into(), |a| self.name_of(a));
        self.effects.push(format!("delegates {who} to the contract {}", self.name_of(del.delegate)));
        self.blocked(del.delegate, "delegate");
        if del.chain_id.is_zero() {
            self.push(Finding::new(
                Rule::DelegationValidOnEveryChain,
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
            .map_err(|e| GuardError::upstream("the authority's balance", e))?;
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
                Rule::DelegationToASweeper,
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
                Rule::DelegationToAKnownContract,
                format!("{who} would run the code of {}", self.name_of(del.delegate)),
            ));
        } else {
            self.push(
                Finding::new(
                    Rule::DelegationToAnUnknownContract,
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

    pub(super) async fn rules_on_outcome(
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
        let gets_something = !o.native_in.is_empty()
            || o.tokens.iter().any(|t| !t.gained().is_zero() && !impostors.contains_key(&t.token));
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
        Ok(())
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
                        Finding::at(
                            Rule::UnlimitedApproval,
                            level,
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
        Ok(())
    }
}
