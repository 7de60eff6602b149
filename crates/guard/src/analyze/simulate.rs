//! Running a scenario: the calls in a realistic block, the follow-ups that measure what an
//! approval exposes, balance reads before and after, and the naive-block re-run.

use super::*;

impl Analysis<'_> {
    // --- simulation -------------------------------------------------------------------------

    /// Simulates `user_calls` (plus follow-ups that measure what approvals expose) and returns the
    /// facts. Runs the calls in a realistic block, then again in a naive one to detect evasion.
    pub(super) async fn scenario(
        &mut self,
        user_calls: Vec<SimCall>,
        code: Vec<(Address, Bytes)>,
        extra: Vec<SimCall>,
    ) -> Result<Outcome, GuardError> {
        let g = self.g;
        let sim = &g.simulator;
        let realistic = self.head.realistic();
        let first = SimRequest { calls: user_calls.clone(), code: code.clone(), balances: vec![] };
        let pass_a = sim.simulate(realistic, &first).await?;
        self.simulated = true;
        let approvals = approvals_of(self.user, &pass_a);
        let token_list = self.balance_tokens(&pass_a, &extra, &approvals).await?;
        let nft_tokens = nft_tokens(&pass_a);
        let followups = self.followups(extra, &approvals).await;
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
            let balances =
                [read(&pass_b[i]), read(&pass_b[n + u + i]), read(&pass_b[2 * n + u + followups.len() + i])];
            let change = token_change(self.user, *t, nft_tokens.contains(t), balances, &out);
            out.tokens.push(change);
        }
        out.approvals = approvals_of(self.user, &out.results);
        summarize_results(self.user, &mut out);
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
        out.diverged = divergence(&flows(self.user, &pass_a), &flows(self.user, &naive));
        Ok(out)
    }

    /// Every token that logged something, and every contract the calls touch, that answers
    /// `balanceOf(user)`: the balances a scenario reads before and after.
    async fn balance_tokens(
        &mut self,
        pass_a: &[CallResult],
        extra: &[SimCall],
        approvals: &[ApprovalFact],
    ) -> Result<Vec<Address>, GuardError> {
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
        Ok(token_list)
    }

    /// Follow-up calls that measure what each approval exposes: the spender pulling what it may.
    async fn followups(&mut self, extra: Vec<SimCall>, approvals: &[ApprovalFact]) -> Vec<SimCall> {
        let mut followups = extra;
        for a in approvals {
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
        followups
    }

    pub(super) fn record_assets(&mut self, o: &Outcome) {
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
}

/// What moved to or from the user, per asset, for comparing two runs.
/// What moved to or from the user in each call, keyed by (call, what, from, to, asset), with the
/// amount; `succeeds`/`reverts` entries carry zero.
pub(super) fn flows(user: Address, results: &[CallResult]) -> BTreeMap<String, U256> {
    let mut out = BTreeMap::new();
    for (i, r) in results.iter().enumerate() {
        out.insert(format!("call {} {}", i + 1, if r.success { "succeeds" } else { "reverts" }), U256::ZERO);
        for f in r.frames.iter().filter(|f| f.from == user || f.to == user) {
            *out.entry(format!("call {}: ETH from {} to {}", i + 1, f.from, f.to)).or_default() += f.value;
        }
        for l in &r.logs {
            let t = l.topics();
            if t.len() >= 3
                && (t[0] == TRANSFER || t[0] == APPROVAL || t[0] == APPROVAL_FOR_ALL)
                && (topic_address(&t[1]) == user || topic_address(&t[2]) == user)
            {
                let kind = if t[0] == TRANSFER { "transfer" } else { "approval" };
                let key = format!(
                    "call {}: {kind} of {} from {} to {}",
                    i + 1,
                    l.address,
                    topic_address(&t[1]),
                    topic_address(&t[2])
                );
                let amount = match t.get(3) {
                    Some(id) => U256::from_be_bytes(id.0),
                    None => U256::from_be_slice(l.data.data.get(..32).unwrap_or(&[0u8; 32])),
                };
                *out.entry(key).or_default() += amount;
            }
        }
    }
    out
}

/// How two runs' flows differ: a flow present in one run only, or an amount that moved by more
/// than 1% (time-dependent contracts, such as interest accrual, move amounts a little between
/// blocks; a contract that hides from simulators changes who gets what).
pub(super) fn divergence(a: &BTreeMap<String, U256>, b: &BTreeMap<String, U256>) -> Vec<String> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        match (a.get(key), b.get(key)) {
            (Some(x), Some(y)) => {
                let (lo, hi) = if x <= y { (*x, *y) } else { (*y, *x) };
                if (hi - lo).saturating_mul(U256::from(100u8)) > hi {
                    out.push(format!("{key}: {x} in a real block, {y} in a simulator's"));
                }
            }
            (Some(_), None) => out.push(format!("{key}: only in a real block")),
            (None, Some(_)) => out.push(format!("{key}: only in a simulator's block")),
            (None, None) => {}
        }
    }
    out
}

pub(super) fn approvals_of(user: Address, results: &[CallResult]) -> Vec<ApprovalFact> {
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

/// Tokens whose logs in `pass` are NFT transfers or approvals.
fn nft_tokens(pass: &[CallResult]) -> BTreeSet<Address> {
    pass.iter()
        .flat_map(|r| r.logs.iter())
        .filter(|l| {
            (l.topics().first() == Some(&TRANSFER) || l.topics().first() == Some(&APPROVAL))
                && l.topics().len() == 4
                || l.topics().first() == Some(&APPROVAL_FOR_ALL)
        })
        .map(|l| l.address)
        .collect()
}

/// How `user`'s balance of token `t` moved: balances read before, after the calls and after the
/// follow-ups, and the transfers logged in and out.
fn token_change(user: Address, t: Address, nft: bool, balances: [U256; 3], out: &Outcome) -> TokenChange {
    let [pre, post, fin] = balances;
    let mut change = TokenChange { token: t, nft, pre, post, fin, ..Default::default() };
    for log in out
        .results
        .iter()
        .flat_map(|r| r.logs.iter())
        .filter(|l| l.address == t && l.topics().first() == Some(&TRANSFER))
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
        if from == user {
            change.logged_out += amount;
            change.to.insert(to);
            if topics.len() == 4 {
                change.ids_out.push(U256::from_be_bytes(topics[3].0));
            }
        }
        if to == user {
            change.logged_in += amount;
            if topics.len() == 4 {
                change.ids_in.push(U256::from_be_bytes(topics[3].0));
            }
        }
    }
    for r in &out.followups {
        for log in r
            .logs
            .iter()
            .filter(|l| l.address == t && l.topics().first() == Some(&TRANSFER) && l.topics().len() == 4)
        {
            if topic_address(&log.topics()[1]) == user {
                change.ids_out.push(U256::from_be_bytes(log.topics()[3].0));
            }
        }
    }
    change
}

/// Gas, the first revert, frames (delegatecalls, self-destructs, native value) and ownership or
/// proxy changes of the user's calls.
fn summarize_results(user: Address, out: &mut Outcome) {
    let results = std::mem::take(&mut out.results);
    for (i, r) in results.iter().enumerate() {
        out.gas_used += r.gas_used;
        if !r.success && out.reverted.is_none() {
            out.reverted = Some((i, revert_reason(&r.output)));
        }
        for f in &r.frames {
            match f.kind {
                FrameKind::DelegateCall => out.delegatecalls.push(f.clone()),
                FrameKind::SelfDestruct => {
                    out.selfdestructs.push(f.clone());
                    native(&mut out.native_out, &mut out.native_in, user, f);
                }
                FrameKind::Call | FrameKind::Create => {
                    native(&mut out.native_out, &mut out.native_in, user, f)
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
    out.results = results;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_drift_is_tolerated_and_a_changed_recipient_is_not() {
        let map = |entries: &[(&str, u64)]| -> BTreeMap<String, U256> {
            entries.iter().map(|(k, v)| ((*k).to_owned(), U256::from(*v))).collect()
        };
        let real = map(&[("call 1 succeeds", 0), ("call 1: ETH from you to vault", 1_000)]);
        // Interest accrued over 12 seconds: 0.5% more.
        assert!(
            divergence(&real, &map(&[("call 1 succeeds", 0), ("call 1: ETH from you to vault", 1_005)]))
                .is_empty()
        );
        // A tenth taken in a real block only.
        assert_eq!(
            divergence(&real, &map(&[("call 1 succeeds", 0), ("call 1: ETH from you to vault", 1_100)]))
                .len(),
            1
        );
        // The money goes elsewhere in a real block.
        let elsewhere = map(&[("call 1 succeeds", 0), ("call 1: ETH from you to attacker", 1_000)]);
        assert_eq!(divergence(&elsewhere, &real).len(), 2);
    }
}
