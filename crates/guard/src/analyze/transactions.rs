//! Transactions and batches: static checks on the decoded calls, fees and EIP-7702 delegations
//! (the rules over what the simulation found are in `outcome`).

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
}
