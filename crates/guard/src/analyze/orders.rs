//! Marketplace orders (Seaport, Blur): what the order gives away, who is paid, and whether
//! anyone may fill it.

use super::*;

impl Analysis<'_> {
    pub(super) async fn seaport(&mut self, data: &TypedData) -> Result<(), GuardError> {
        let msg = &data.message;
        let market = data
            .domain
            .verifying_contract
            .ok_or_else(|| GuardError::BadRequest(RequestError::new("order without verifyingContract")))?;
        let bad = |what: &str| GuardError::BadRequest(RequestError::new(format!("malformed order: {what}")));
        let offerer = addr(&msg["offerer"]).ok_or_else(|| bad("offerer"))?;
        let (offer, consideration, parameters) = seaport_parameters(msg, offerer);
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
        self.describe_order(&offer, &consideration).await;
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
        self.judge_order(offerer, &offer, (to_user, to_others), (filled, nft_lost, received));
        if !parameters_zone_is_open(msg) {
            self.push(Finding::new(
                Rule::RestrictedOrder,
                "the order names a zone that decides who may fill it",
            ));
        }
        let end = num(&msg["endTime"]).unwrap_or_default();
        self.long_lived(end, "order");
        Ok(())
    }

    /// The effects in words: what the order offers and what it asks, for whom.
    async fn describe_order(&mut self, offer: &[OfferItem], consideration: &[ConsiderationItem]) {
        for o in offer {
            let meta = self.view.token(o.token).await;
            let what = if o.itemType >= 2 {
                format!("{} NFT #{}", meta.symbol, o.identifierOrCriteria)
            } else {
                fmt_amount(o.startAmount, meta.decimals, &meta.symbol)
            };
            self.effects.push(format!("offers {what}"));
        }
        for c in consideration {
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
    }

    /// The order's findings: a giveaway, proceeds to others, or a plain listing.
    fn judge_order(
        &mut self,
        offerer: Address,
        offer: &[OfferItem],
        (to_user, to_others): (U256, U256),
        (filled, nft_lost, received): (bool, U256, U256),
    ) {
        let dust = U256::from(10u64).pow(U256::from(14));
        if offerer == self.user && !offer.is_empty() && to_user <= dust {
            self.push(
                Finding::new(
                    Rule::OrderThatGivesYourAssetsAway,
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
                Rule::MostProceedsGoToOthers,
                format!("the order pays {} to others and {} to you", fmt_eth(to_others), fmt_eth(to_user)),
            ));
        } else {
            self.push(
                Finding::new(Rule::Listing, format!("a listing that pays you {}", fmt_eth(to_user)))
                    .evidence(format!("simulated fill: you receive {}", fmt_eth(received))),
            );
        }
    }

    /// A Blur `Order` (decoded only: Blur's exchange is not simulated).
    pub(super) async fn blur_order(&mut self, data: &TypedData) {
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
                        Rule::OrderThatGivesYourAssetsAway,
                        format!("this Blur order sells your {item} for {}", fmt_eth(price)),
                    )
                    .evidence(format!("collection: {collection}"))
                    .evidence(format!("price: {price} wei")),
                );
            } else if fee_bps > U256::from(5000u16) {
                self.push(Finding::new(
                    Rule::MostProceedsGoToOthers,
                    format!("the order's fees take {}% of the price", fee_bps / U256::from(100u8)),
                ));
            } else {
                self.push(Finding::new(
                    Rule::Listing,
                    format!("a Blur listing of your {item} for {}", fmt_eth(price)),
                ));
            }
        }
        if let Some(end) = msg.get("expirationTime").and_then(num) {
            self.long_lived(end, "order");
        }
    }

    // --- messages ---------------------------------------------------------------------------
}

pub(super) fn parameters_zone_is_open(msg: &Value) -> bool {
    addr(&msg["zone"]).is_none_or(|z| z.is_zero())
}

/// A Seaport order's offer, consideration and parameters from its typed-data message.
fn seaport_parameters(
    msg: &Value,
    offerer: Address,
) -> (Vec<OfferItem>, Vec<ConsiderationItem>, OrderParameters) {
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
    let word =
        |k: &str| msg.get(k).and_then(Value::as_str).and_then(|s| s.parse::<B256>().ok()).unwrap_or_default();
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
    (offer, consideration, parameters)
}
