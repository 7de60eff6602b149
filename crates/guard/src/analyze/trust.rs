//! What makes a counterparty trusted: the user's lists and the built-in names, and, for a
//! contract the user never listed, their own history with it and its age.

use super::*;
use alloy::network::TransactionResponse;

/// How the user stands with a spender, operator or delegate.
#[derive(Debug, Clone, Copy)]
pub(super) struct Standing {
    /// Built in, the node's own, or on the allow list or in the address book.
    pub(super) known: bool,
    /// The user has dealt with it before: a send the proxy forwarded, or a transaction of the
    /// user's own on chain that approved or paid it.
    pub(super) used: bool,
    /// Seconds since its code appeared (`None` when the node keeps no history that old, or it
    /// was not looked up because the account is known or has no code).
    pub(super) age: Option<u64>,
    /// What the account is.
    pub(super) kind: AccountKind,
}

impl Standing {
    /// A contract the user has used before and that is not fresh: as good as a listed one.
    pub(super) fn familiar(&self) -> bool {
        self.kind == AccountKind::Contract
            && self.used
            && self.age.is_none_or(|age| age >= FRESH_CONTRACT_SECS)
    }

    /// Known or familiar.
    pub(super) fn trusted(&self) -> bool {
        self.known || self.familiar()
    }

    /// Deployed less than [`FRESH_CONTRACT_SECS`] ago.
    pub(super) fn fresh(&self) -> bool {
        self.age.is_some_and(|age| age < FRESH_CONTRACT_SECS)
    }
}

/// How many of the user's matching logs are checked for the transaction that made them.
const HISTORY_LOGS_CHECKED: usize = 8;
/// How far back the chain is searched for the user's own dealings with a counterparty.
const HISTORY_BLOCKS: u64 = 50_000;

impl Analysis<'_> {
    /// How the user stands with `a`.
    pub(super) async fn standing(&mut self, a: Address) -> Result<Standing, GuardError> {
        let kind = self.view.account(a).await?;
        let known = self.trusted(a);
        let used = self.used_before(a).await;
        let age = if kind == AccountKind::Contract && !known {
            self.view.contract_age(self.g.store.as_deref(), &self.head, a).await?
        } else {
            None
        };
        Ok(Standing { known, used, age, kind })
    }

    /// Whether the user has dealt with `a` before: the send history the proxy keeps, or an
    /// `Approval` or `Transfer` from the user to `a` made by a transaction the user sent. Events
    /// alone prove nothing (any contract can emit one naming the user, as address poisoners do),
    /// so each is traced back to its transaction's signer.
    pub(super) async fn used_before(&self, a: Address) -> bool {
        if self.lists.history.contains_key(&a) {
            return true;
        }
        let filter = alloy::rpc::types::Filter::new()
            .event_signature(vec![APPROVAL, TRANSFER])
            .topic1(self.user.into_word())
            .topic2(a.into_word())
            .from_block(self.head.number.saturating_sub(HISTORY_BLOCKS))
            .to_block(self.head.number);
        let wait = std::time::Duration::from_secs(5);
        let Ok(Ok(logs)) = tokio::time::timeout(wait, self.view.provider().get_logs(&filter)).await else {
            return false;
        };
        let mut hashes: Vec<B256> = logs.iter().rev().filter_map(|l| l.transaction_hash).collect();
        hashes.dedup();
        for hash in hashes.into_iter().take(HISTORY_LOGS_CHECKED) {
            let tx = tokio::time::timeout(wait, self.view.provider().get_transaction_by_hash(hash)).await;
            if let Ok(Ok(Some(tx))) = tx
                && tx.from() == self.user
            {
                return true;
            }
        }
        false
    }
}
