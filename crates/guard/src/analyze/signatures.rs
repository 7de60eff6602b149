//! Signature requests: EIP-712 typed data (permits, Permit2, marketplace orders) simulated
//! through their on-chain equivalent, and messages (sign-in, blind signatures).

use super::{trust::Standing, *};

impl Analysis<'_> {
    // --- typed data -------------------------------------------------------------------------

    pub(super) async fn typed(&mut self, data: &TypedData, origin: Option<&str>) -> Result<(), GuardError> {
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
            Some(c) if c != U256::from(self.head.chain_id) => self.push(Finding::at(
                Rule::SignatureForAnotherChain,
                if asset_type { Level::High } else { Level::Medium },
                format!("the signature is for chain {c} but your node is on chain {}", self.head.chain_id),
            )),
            None if asset_type => self.push(Finding::new(
                Rule::SignatureValidOnAnyChain,
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
                    Finding::new(Rule::BlindBulkListing, "this signs a merkle root of Blur orders that you cannot inspect: it can list any of your NFTs at any price")
                        .evidence(format!("root: {}", data.message.get("root").and_then(Value::as_str).unwrap_or("?"))),
                );
                Ok(())
            }
            _ => {
                let _ = origin;
                let known = verifying.is_some_and(|v| self.trusted(v));
                if !known {
                    self.push(Finding::new(Rule::UnknownTypedData, format!("the guard does not know what {primary:?} for {name:?} does; signing it may authorise anything")));
                }
                Ok(())
            }
        }
    }

    pub(super) async fn permit(&mut self, data: &TypedData) -> Result<(), GuardError> {
        let msg = &data.message;
        let token = data
            .domain
            .verifying_contract
            .ok_or_else(|| GuardError::BadRequest(RequestError::new("Permit without verifyingContract")))?;
        let spender = addr(&msg["spender"])
            .ok_or_else(|| GuardError::BadRequest(RequestError::new("Permit without spender")))?;
        let owner = addr(msg.get("owner").or(msg.get("holder")).unwrap_or(&Value::Null)).unwrap_or(self.user);
        if owner != self.user {
            self.push(Finding::new(
                Rule::PermitForAnotherOwner,
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
        let standing = self.standing(spender).await?;
        let kind = standing.kind;
        let trusted = standing.trusted();
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
        let ordinary = self.ordinary_permission(&standing, value <= change.post, deadline);
        let level = if kind.is_eoa() {
            Level::Critical
        } else if ordinary {
            Level::Low
        } else if trusted {
            Level::Medium
        } else if !change.post.is_zero() && value >= change.post {
            Level::Critical
        } else {
            Level::High
        };
        self.push(
            Finding::at(Rule::PermitSignature, level, loss)
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
                    Rule::PermitToAPersonalAccount,
                    format!("{} is a personal account, not a contract", spender.to_checksum(None)),
                )
                .evidence(format!("spender: {spender}")),
            );
        }
        self.long_lived(deadline, "permit");
        Ok(())
    }

    /// The ordinary gasless approval: an exact amount (no more than the user holds, not an
    /// "unlimited" one), ending within [`SHORT_LIVED_SECS`], to a contract the user has used before
    /// and that is not fresh. Such a permission is low, whatever lists the spender is on.
    pub(super) fn ordinary_permission(&self, standing: &Standing, exact: bool, ends: U256) -> bool {
        standing.familiar() && exact && ends <= U256::from(self.head.timestamp + SHORT_LIVED_SECS)
    }

    pub(super) fn long_lived(&mut self, deadline: U256, what: &str) {
        if deadline > U256::from(self.head.timestamp + LONG_LIVED_SECS) {
            let until = if deadline >= U256::from(u64::MAX) {
                "forever".to_owned()
            } else {
                format!("until {}", when(deadline.to::<u64>()))
            };
            self.push(Finding::new(Rule::LongLivedPermission, format!("the {what} stays valid {until}")));
        }
    }

    pub(super) async fn permit2_allowance(&mut self, data: &TypedData) -> Result<(), GuardError> {
        let msg = &data.message;
        let permit2 = data.domain.verifying_contract.unwrap_or(crate::lists::PERMIT2);
        let spender = addr(&msg["spender"])
            .ok_or_else(|| GuardError::BadRequest(RequestError::new("Permit2 permit without spender")))?;
        let details: Vec<Value> = match &msg["details"] {
            Value::Array(items) => items.clone(),
            single @ Value::Object(_) => vec![single.clone()],
            _ => return Err(GuardError::BadRequest(RequestError::new("Permit2 permit without details"))),
        };
        let mut calls = vec![];
        let mut tokens = vec![];
        for d in &details {
            let token = addr(&d["token"])
                .ok_or_else(|| GuardError::BadRequest(RequestError::new("Permit2 details without token")))?;
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
        let standing = self.standing(spender).await?;
        let kind = standing.kind;
        let trusted = standing.trusted();
        let mut losses = vec![];
        let mut exact = true;
        for (token, amount, _) in &tokens {
            let meta = self.view.token(*token).await;
            let change = outcome.tokens.iter().find(|t| t.token == *token);
            exact &= change.is_some_and(|c| *amount <= c.post);
            losses.push(fmt_amount(
                change.map_or(U256::ZERO, TokenChange::exposed),
                meta.decimals,
                &meta.symbol,
            ));
        }
        // The permission ends when both the allowance and the signature's own deadline have ended.
        let ends = tokens
            .iter()
            .map(|(_, _, expiration)| *expiration)
            .chain(msg.get("sigDeadline").and_then(num))
            .max()
            .unwrap_or(U256::MAX);
        let level = if kind.is_eoa() {
            Level::Critical
        } else if self.ordinary_permission(&standing, exact, ends) {
            Level::Low
        } else if tokens.len() > 1 {
            Level::Critical
        } else if trusted {
            Level::Medium
        } else {
            Level::High
        };
        let mut f = Finding::at(
            Rule::Permit2Signature,
            level,
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

    pub(super) async fn permit2_transfer(&mut self, data: &TypedData) -> Result<(), GuardError> {
        let msg = &data.message;
        let spender = addr(&msg["spender"])
            .ok_or_else(|| GuardError::BadRequest(RequestError::new("Permit2 transfer without spender")))?;
        let permitted: Vec<Value> = match &msg["permitted"] {
            Value::Array(items) => items.clone(),
            single @ Value::Object(_) => vec![single.clone()],
            _ => vec![],
        };
        let standing = self.standing(spender).await?;
        let kind = standing.kind;
        let mut losses = vec![];
        let mut exact = !permitted.is_empty();
        for p in &permitted {
            let Some(token) = addr(&p["token"]) else { continue };
            let amount = num(&p["amount"]).unwrap_or_default();
            let meta = self.view.token(token).await;
            let balance = self.view.balance_of(token, self.user).await;
            exact &= amount <= balance;
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
        let ends = msg.get("deadline").and_then(num).unwrap_or(U256::MAX);
        let level = if kind.is_eoa() {
            Level::Critical
        } else if self.ordinary_permission(&standing, exact, ends) {
            Level::Low
        } else if permitted.len() > 1 {
            Level::Critical
        } else if standing.trusted() {
            Level::Medium
        } else {
            Level::High
        };
        self.push(
            Finding::at(
                Rule::Permit2TransferSignature,
                level,
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

    pub(super) fn personal(&mut self, message: &[u8], origin: Option<&str>) {
        let Ok(text) = std::str::from_utf8(message) else {
            let level = if message.len() == 32 { Level::High } else { Level::Medium };
            self.push(
                Finding::at(Rule::BlindSignature, level, format!("the message is {} bytes of binary data, not text; a 32-byte hash can authorise a Safe transaction or worse", message.len()))
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
                    Rule::SignInForAnotherAccount,
                    format!(
                        "the sign-in message names {:?}, not the signing account",
                        siwe.address.map(|a| a.to_string()).unwrap_or_default()
                    ),
                ));
            }
            if siwe.chain_id.is_some_and(|c| c != self.head.chain_id) {
                self.push(Finding::new(
                    Rule::SignInForAnotherChain,
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
                            Rule::SignInForAnotherSite,
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
pub(super) struct Siwe {
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
}
