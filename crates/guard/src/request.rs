//! Wallet requests (JSON-RPC method + params) parsed into what the guard analyses.

use crate::GuardError;
use alloy::{
    consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable},
    dyn_abi::TypedData,
    eips::{Decodable2718, eip7702::SignedAuthorization},
    primitives::{Address, B256, Bytes, U256, hex},
};
use serde::Deserialize;
use serde_json::Value;

/// The methods the guard intercepts; everything else is passed through.
pub const GUARDED_METHODS: &[&str] = &[
    "eth_sendTransaction",
    "eth_sendRawTransaction",
    "wallet_sendCalls",
    "eth_signTypedData_v4",
    "eth_signTypedData",
    "personal_sign",
    "eth_sign",
];

/// The largest calldata the guard analyses (larger requests are refused, not forwarded).
pub const MAX_CALLDATA: usize = 128 * 1024;
/// The most calls a batch may hold.
pub const MAX_CALLS: usize = 64;

/// Whether the guard checks `method`.
pub fn is_guarded(method: &str) -> bool {
    GUARDED_METHODS.contains(&method)
}

/// One call of a transaction or a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The callee; `None` deploys a contract.
    pub to: Option<Address>,
    /// Wei sent along.
    pub value: U256,
    /// Calldata.
    pub data: Bytes,
}

/// An EIP-7702 authorization found in a request, with the account that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// The account whose code would point at `delegate`.
    pub authority: Option<Address>,
    /// The contract the account would run.
    pub delegate: Address,
    /// The chain id the authorization is valid on (0 = every chain).
    pub chain_id: U256,
    /// The account nonce it is bound to.
    pub nonce: u64,
}

/// What a request asks the user to do.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send one transaction or a batch of calls from `from`.
    Transactions {
        /// The sender.
        from: Address,
        /// The calls, in order.
        calls: Vec<Call>,
        /// The chain id the request names, if any.
        chain_id: Option<u64>,
        /// A signed legacy transaction without a chain id (replayable on every chain).
        unprotected: bool,
        /// EIP-7702 authorizations carried by a type-4 transaction.
        delegations: Vec<Delegation>,
        /// The gas limit the request sets.
        gas_limit: Option<u64>,
    },
    /// Sign EIP-712 typed data.
    TypedData {
        /// The signing account.
        signer: Address,
        /// The typed data.
        data: Box<TypedData>,
    },
    /// Sign a message with the EIP-191 prefix.
    PersonalSign {
        /// The signing account.
        signer: Address,
        /// The raw message bytes.
        message: Bytes,
    },
    /// Sign a raw 32-byte hash (no prefix).
    EthSign {
        /// The signing account.
        signer: Address,
        /// The hash.
        hash: B256,
    },
}

/// A request as a wallet sends it, plus where it came from.
#[derive(Debug, Clone, Deserialize)]
pub struct GuardRequest {
    /// The JSON-RPC method.
    pub method: String,
    /// Its params.
    #[serde(default)]
    pub params: Value,
    /// The origin (domain) of the page that asked, when known.
    #[serde(default)]
    pub origin: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TxJson {
    from: Option<Address>,
    to: Option<Address>,
    #[serde(default)]
    value: Option<U256>,
    #[serde(default, alias = "input")]
    data: Option<Bytes>,
    #[serde(default)]
    gas: Option<alloy::primitives::U64>,
    #[serde(default)]
    chain_id: Option<alloy::primitives::U64>,
    #[serde(default)]
    authorization_list: Vec<SignedAuthorization>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendCalls {
    from: Option<Address>,
    #[serde(default)]
    chain_id: Option<alloy::primitives::U64>,
    calls: Vec<CallJson>,
}

#[derive(Deserialize)]
struct CallJson {
    to: Option<Address>,
    #[serde(default)]
    value: Option<U256>,
    #[serde(default)]
    data: Option<Bytes>,
}

fn bad(method: &str, why: impl std::fmt::Display) -> GuardError {
    GuardError::BadRequest(format!("{method}: {why}"))
}

fn param<'a>(method: &str, params: &'a Value, index: usize) -> Result<&'a Value, GuardError> {
    params
        .as_array()
        .and_then(|p| p.get(index))
        .ok_or_else(|| bad(method, format!("params[{index}] is missing")))
}

fn address_param(method: &str, v: &Value) -> Result<Address, GuardError> {
    v.as_str()
        .ok_or_else(|| bad(method, "expected an address string"))?
        .parse()
        .map_err(|e| bad(method, format!("bad address: {e}")))
}

fn check_calls(method: &str, calls: &[Call]) -> Result<(), GuardError> {
    if calls.is_empty() {
        return Err(bad(method, "no calls"));
    }
    if calls.len() > MAX_CALLS {
        return Err(bad(method, format!("{} calls; at most {MAX_CALLS} are checked", calls.len())));
    }
    if let Some(big) = calls.iter().find(|c| c.data.len() > MAX_CALLDATA) {
        return Err(bad(
            method,
            format!("{} bytes of calldata; at most {MAX_CALLDATA} are checked", big.data.len()),
        ));
    }
    Ok(())
}

fn delegation(auth: &SignedAuthorization) -> Delegation {
    Delegation {
        authority: auth.recover_authority().ok(),
        delegate: auth.address,
        chain_id: auth.chain_id,
        nonce: auth.nonce,
    }
}

impl GuardRequest {
    /// A request for `method` with `params`.
    pub fn new(method: &str, params: Value) -> Self {
        Self { method: method.to_owned(), params, origin: None }
    }

    /// Parses the params. `default_from` names the account when a transaction leaves `from` out.
    pub fn action(&self, default_from: Option<Address>) -> Result<Action, GuardError> {
        let m = self.method.as_str();
        let p = &self.params;
        match m {
            "eth_sendTransaction" => {
                let tx: TxJson = serde_json::from_value(param(m, p, 0)?.clone()).map_err(|e| bad(m, e))?;
                let from = tx.from.or(default_from).ok_or_else(|| bad(m, "the transaction has no `from`"))?;
                let calls = vec![Call {
                    to: tx.to,
                    value: tx.value.unwrap_or_default(),
                    data: tx.data.unwrap_or_default(),
                }];
                check_calls(m, &calls)?;
                Ok(Action::Transactions {
                    from,
                    calls,
                    chain_id: tx.chain_id.map(|c| c.to()),
                    unprotected: false,
                    delegations: tx.authorization_list.iter().map(delegation).collect(),
                    gas_limit: tx.gas.map(|g| g.to()),
                })
            }
            "eth_sendRawTransaction" => {
                let raw = param(m, p, 0)?.as_str().ok_or_else(|| bad(m, "expected hex bytes"))?;
                let bytes = hex::decode(raw).map_err(|e| bad(m, format!("not hex: {e}")))?;
                if bytes.len() > MAX_CALLDATA + 1024 {
                    return Err(bad(
                        m,
                        format!(
                            "{} bytes; at most {MAX_CALLDATA} bytes of calldata are checked",
                            bytes.len()
                        ),
                    ));
                }
                let tx = TxEnvelope::decode_2718(&mut bytes.as_slice())
                    .map_err(|e| bad(m, format!("not a transaction: {e}")))?;
                let from = tx.recover_signer().map_err(|e| bad(m, format!("bad signature: {e}")))?;
                let delegations =
                    tx.authorization_list().map(|l| l.iter().map(delegation).collect()).unwrap_or_default();
                let calls = vec![Call { to: tx.to(), value: tx.value(), data: tx.input().clone() }];
                check_calls(m, &calls)?;
                Ok(Action::Transactions {
                    from,
                    calls,
                    chain_id: tx.chain_id(),
                    unprotected: tx.chain_id().is_none(),
                    delegations,
                    gas_limit: Some(tx.gas_limit()),
                })
            }
            "wallet_sendCalls" => {
                let req: SendCalls =
                    serde_json::from_value(param(m, p, 0)?.clone()).map_err(|e| bad(m, e))?;
                let from = req.from.or(default_from).ok_or_else(|| bad(m, "the batch has no `from`"))?;
                let calls: Vec<Call> = req
                    .calls
                    .into_iter()
                    .map(|c| Call {
                        to: c.to,
                        value: c.value.unwrap_or_default(),
                        data: c.data.unwrap_or_default(),
                    })
                    .collect();
                check_calls(m, &calls)?;
                Ok(Action::Transactions {
                    from,
                    calls,
                    chain_id: req.chain_id.map(|c| c.to()),
                    unprotected: false,
                    delegations: vec![],
                    gas_limit: None,
                })
            }
            "eth_signTypedData_v4" | "eth_signTypedData" => {
                let signer = address_param(m, param(m, p, 0)?)?;
                let raw = param(m, p, 1)?;
                let data: TypedData = match raw {
                    Value::String(s) => {
                        if s.len() > MAX_CALLDATA {
                            return Err(bad(m, "typed data too large"));
                        }
                        serde_json::from_str(s)
                    }
                    other => serde_json::from_value(other.clone()),
                }
                .map_err(|e| bad(m, format!("malformed typed data: {e}")))?;
                // Typed data that cannot be hashed cannot be signed: refuse it here.
                data.eip712_signing_hash().map_err(|e| bad(m, format!("typed data does not encode: {e}")))?;
                Ok(Action::TypedData { signer, data: Box::new(data) })
            }
            "personal_sign" => {
                // MetaMask order is [message, address]; some clients send [address, message].
                let a = param(m, p, 0)?;
                let b = param(m, p, 1)?;
                let (message, signer) = match (address_param(m, b), address_param(m, a)) {
                    (Ok(signer), _) => (a, signer),
                    (Err(_), Ok(signer)) => (b, signer),
                    (Err(e), Err(_)) => return Err(e),
                };
                let text = message.as_str().ok_or_else(|| bad(m, "the message must be a string"))?;
                let message = if text.starts_with("0x") {
                    Bytes::from(hex::decode(text).map_err(|e| bad(m, format!("bad hex message: {e}")))?)
                } else {
                    Bytes::copy_from_slice(text.as_bytes())
                };
                if message.len() > MAX_CALLDATA {
                    return Err(bad(m, "message too large"));
                }
                Ok(Action::PersonalSign { signer, message })
            }
            "eth_sign" => {
                let signer = address_param(m, param(m, p, 0)?)?;
                let raw = param(m, p, 1)?.as_str().ok_or_else(|| bad(m, "expected hex data"))?;
                let bytes = hex::decode(raw).map_err(|e| bad(m, format!("not hex: {e}")))?;
                let hash = if bytes.len() == 32 {
                    B256::from_slice(&bytes)
                } else {
                    alloy::primitives::keccak256(&bytes)
                };
                Ok(Action::EthSign { signer, hash })
            }
            other => Err(GuardError::BadRequest(format!("{other} is not a method the guard checks"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn malformed_requests_get_clear_errors() {
        let cases = [
            ("eth_sendTransaction", json!([])),
            ("eth_sendTransaction", json!([{"to": "0x12"}])),
            ("eth_sendRawTransaction", json!(["0xzz"])),
            ("eth_sendRawTransaction", json!(["0x02f8"])),
            ("eth_signTypedData_v4", json!(["0x0000000000000000000000000000000000000001", "{not json"])),
            (
                "eth_signTypedData_v4",
                json!(["0x0000000000000000000000000000000000000001", {"types": {}, "primaryType": "Nope", "domain": {}, "message": {}}]),
            ),
            ("personal_sign", json!(["hello", "not an address"])),
            (
                "wallet_sendCalls",
                json!([{"from": "0x0000000000000000000000000000000000000001", "calls": []}]),
            ),
            ("eth_chainId", json!([])),
        ];
        for (method, params) in cases {
            let err = GuardRequest::new(method, params.clone()).action(None).expect_err(method);
            assert!(matches!(err, GuardError::BadRequest(_)), "{method} {params}: {err}");
        }
    }

    #[test]
    fn huge_calldata_and_huge_batches_are_refused() {
        let data = format!("0x{}", "00".repeat(MAX_CALLDATA + 1));
        let tx = json!([{"from": "0x0000000000000000000000000000000000000001", "to": "0x0000000000000000000000000000000000000002", "data": data}]);
        assert!(GuardRequest::new("eth_sendTransaction", tx).action(None).is_err());
        let calls: Vec<Value> =
            (0..=MAX_CALLS).map(|_| json!({"to": "0x0000000000000000000000000000000000000002"})).collect();
        let batch = json!([{"from": "0x0000000000000000000000000000000000000001", "calls": calls}]);
        assert!(GuardRequest::new("wallet_sendCalls", batch).action(None).is_err());
    }

    proptest::proptest! {
        /// Arbitrary bytes as a raw transaction, arbitrary text as typed data or as a message:
        /// an error or a request, never a panic.
        #[test]
        fn untrusted_params_never_panic(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), text in ".{0,300}") {
            let who = "0x00000000000000000000000000000000000000aa";
            let _ = GuardRequest::new("eth_sendRawTransaction", json!([format!("0x{}", hex::encode(&raw))])).action(None);
            let _ = GuardRequest::new("eth_signTypedData_v4", json!([who, text.clone()])).action(None);
            let _ = GuardRequest::new("personal_sign", json!([text.clone(), who])).action(None);
            let _ = GuardRequest::new("eth_sign", json!([who, text.clone()])).action(None);
            let _ = GuardRequest::new("wallet_sendCalls", json!([{"from": who, "calls": [{"to": who, "data": text}]}])).action(None);
        }
    }

    #[test]
    fn personal_sign_takes_either_parameter_order() {
        let who = "0x00000000000000000000000000000000000000aa";
        for params in [json!(["0x68656c6c6f", who]), json!([who, "0x68656c6c6f"])] {
            let Action::PersonalSign { signer, message } =
                GuardRequest::new("personal_sign", params).action(None).unwrap()
            else {
                panic!("not a personal_sign")
            };
            assert_eq!(signer, who.parse::<Address>().unwrap());
            assert_eq!(&message[..], b"hello");
        }
    }
}
