//! Calldata decoding: a curated table of the functions that move or expose assets, and the batch
//! containers whose inner calls are decoded in turn.

use alloy::{
    dyn_abi::{DynSolValue, JsonAbiExt},
    json_abi::Function,
    primitives::{Address, Bytes, FixedBytes, U256, hex},
};
use std::{collections::HashMap, sync::OnceLock};

/// The functions the guard knows, in Solidity's human-readable form.
const FUNCTIONS: &[&str] = &[
    // ERC-20 and EIP-2612
    "function transfer(address to, uint256 amount)",
    "function transferFrom(address from, address to, uint256 amount)",
    "function approve(address spender, uint256 amount)",
    "function increaseAllowance(address spender, uint256 addedValue)",
    "function decreaseAllowance(address spender, uint256 subtractedValue)",
    "function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)",
    // ERC-721 / ERC-1155
    "function setApprovalForAll(address operator, bool approved)",
    "function safeTransferFrom(address from, address to, uint256 tokenId)",
    "function safeTransferFrom(address from, address to, uint256 tokenId, bytes data)",
    "function safeTransferFrom(address from, address to, uint256 id, uint256 amount, bytes data)",
    "function safeBatchTransferFrom(address from, address to, uint256[] ids, uint256[] amounts, bytes data)",
    // Permit2
    "function approve(address token, address spender, uint160 amount, uint48 expiration)",
    "function lockdown((address,address)[] approvals)",
    // Batch containers
    "function aggregate((address,bytes)[] calls)",
    "function aggregate3((address,bool,bytes)[] calls)",
    "function aggregate3Value((address,bool,uint256,bytes)[] calls)",
    "function multicall(bytes[] data)",
    "function multicall(uint256 deadline, bytes[] data)",
    "function multiSend(bytes transactions)",
    "function execute((address,uint256,bytes)[] calls)",
    "function execute(bytes32 mode, bytes executionData)",
    // Ownership and proxies
    "function upgradeTo(address newImplementation)",
    "function upgradeToAndCall(address newImplementation, bytes data)",
    "function changeAdmin(address newAdmin)",
    "function transferOwnership(address newOwner)",
    "function renounceOwnership()",
    "function addOwnerWithThreshold(address owner, uint256 threshold)",
    "function swapOwner(address prevOwner, address oldOwner, address newOwner)",
    "function changeThreshold(uint256 threshold)",
    "function enableModule(address module)",
    "function setGuard(address guard)",
    "function setFallbackHandler(address handler)",
    // Marketplaces
    "function validate(((address,address,(uint8,address,uint256,uint256,uint256)[],(uint8,address,uint256,uint256,uint256,address)[],uint8,uint256,uint256,bytes32,uint256,bytes32,uint256),bytes)[] orders)",
    // Common entry points of drainer pages
    "function claim()",
    "function mint()",
    "function swap()",
    "function deposit()",
    "function withdraw(uint256 amount)",
];

/// The deepest nesting of batch containers that is decoded; deeper requests are refused.
pub const MAX_DEPTH: usize = 8;

fn table() -> &'static HashMap<FixedBytes<4>, Function> {
    static TABLE: OnceLock<HashMap<FixedBytes<4>, Function>> = OnceLock::new();
    TABLE.get_or_init(|| {
        FUNCTIONS
            .iter()
            .map(|sig| {
                #[allow(clippy::expect_used)]
                let f =
                    Function::parse(sig).unwrap_or_else(|e| panic!("the curated table parses: {sig}: {e}"));
                (f.selector(), f)
            })
            .collect()
    })
}

/// A decoded call and the calls it contains.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The callee.
    pub to: Option<Address>,
    /// Wei sent.
    pub value: U256,
    /// The function name (`approve`), or `unknown 0x12345678`, or `transfer of ETH`.
    pub name: String,
    /// The canonical signature when known.
    pub signature: Option<String>,
    /// Named arguments.
    pub args: Vec<(String, DynSolValue)>,
    /// Calls inside a batch container.
    pub inner: Vec<Decoded>,
}

/// Decoding failed in a way that should stop the analysis.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Batches nested too deep.
    #[error("batch calls nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

impl Decoded {
    /// An argument by name.
    pub fn arg(&self, name: &str) -> Option<&DynSolValue> {
        self.args.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// An address argument.
    pub fn address(&self, name: &str) -> Option<Address> {
        self.arg(name).and_then(DynSolValue::as_address)
    }

    /// A number argument.
    pub fn uint(&self, name: &str) -> Option<U256> {
        self.arg(name).and_then(|v| v.as_uint()).map(|(u, _)| u)
    }

    /// A bool argument.
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.arg(name).and_then(DynSolValue::as_bool)
    }

    /// This call and every call inside it, depth first.
    pub fn flatten(&self) -> Vec<&Decoded> {
        let mut out = vec![self];
        for inner in &self.inner {
            out.extend(inner.flatten());
        }
        out
    }

    /// `name(arg: value, …)` for a report.
    pub fn describe(&self) -> String {
        let args: Vec<String> = self.args.iter().map(|(n, v)| format!("{n}: {}", show(v))).collect();
        format!("{}({})", self.name, args.join(", "))
    }
}

/// A value for a report (addresses checksummed, numbers in decimal, long bytes cut).
pub fn show(v: &DynSolValue) -> String {
    match v {
        DynSolValue::Address(a) => a.to_checksum(None),
        DynSolValue::Uint(u, _) => u.to_string(),
        DynSolValue::Int(i, _) => i.to_string(),
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::Bytes(b) if b.len() > 36 => format!("0x{}… ({} bytes)", hex::encode(&b[..32]), b.len()),
        DynSolValue::Bytes(b) => format!("0x{}", hex::encode(b)),
        DynSolValue::FixedBytes(w, n) => format!("0x{}", hex::encode(&w[..*n])),
        DynSolValue::String(s) => format!("{s:?}"),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) | DynSolValue::Tuple(items) => {
            if items.len() > 8 {
                format!("[{} items]", items.len())
            } else {
                format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(", "))
            }
        }
        other => format!("{other:?}"),
    }
}

/// Decodes a call, recursing into batch containers.
pub fn decode(to: Option<Address>, value: U256, data: &[u8]) -> Result<Decoded, DecodeError> {
    decode_at(to, value, data, 0)
}

fn decode_at(to: Option<Address>, value: U256, data: &[u8], depth: usize) -> Result<Decoded, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    let mut decoded =
        Decoded { to, value, name: String::new(), signature: None, args: vec![], inner: vec![] };
    if to.is_none() {
        decoded.name = "deploy a contract".into();
        return Ok(decoded);
    }
    if data.is_empty() {
        decoded.name = "transfer of ETH".into();
        return Ok(decoded);
    }
    if data.len() < 4 {
        decoded.name = format!("unknown data 0x{}", hex::encode(data));
        return Ok(decoded);
    }
    let selector = FixedBytes::<4>::from_slice(&data[..4]);
    let Some(f) = table().get(&selector) else {
        decoded.name = format!("unknown 0x{}", hex::encode(selector));
        return Ok(decoded);
    };
    let Ok(values) = f.abi_decode_input(&data[4..]) else {
        decoded.name = format!("{} (malformed arguments)", f.name);
        decoded.signature = Some(f.signature());
        return Ok(decoded);
    };
    decoded.name = f.name.clone();
    decoded.signature = Some(f.signature());
    decoded.args = f.inputs.iter().map(|p| p.name.clone()).zip(values).collect();
    decoded.inner = inner_calls(&decoded, to, depth)?;
    Ok(decoded)
}

fn inner_calls(outer: &Decoded, to: Option<Address>, depth: usize) -> Result<Vec<Decoded>, DecodeError> {
    let sig = outer.signature.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    let tuples = |name: &str| {
        outer.arg(name).and_then(|v| v.as_array()).map(<[DynSolValue]>::to_vec).unwrap_or_default()
    };
    match sig {
        s if s.starts_with("aggregate(")
            || s.starts_with("aggregate3(")
            || s.starts_with("aggregate3Value(")
            || s.starts_with("execute((") =>
        {
            for call in tuples("calls") {
                let Some(fields) = call.as_tuple() else { continue };
                let target = fields.first().and_then(DynSolValue::as_address);
                let value = if s.starts_with("aggregate3Value(") || s.starts_with("execute((") {
                    fields
                        .get(if s.starts_with("execute((") { 1 } else { 2 })
                        .and_then(|v| v.as_uint())
                        .map(|(u, _)| u)
                        .unwrap_or_default()
                } else {
                    U256::ZERO
                };
                let data = fields.last().and_then(DynSolValue::as_bytes).unwrap_or_default();
                out.push(decode_at(target, value, data, depth + 1)?);
            }
        }
        s if s.starts_with("multicall(") => {
            for data in tuples("data") {
                out.push(decode_at(to, U256::ZERO, data.as_bytes().unwrap_or_default(), depth + 1)?);
            }
        }
        "multiSend(bytes)" => {
            // Packed: operation (1) · to (20) · value (32) · data length (32) · data.
            let packed = outer.arg("transactions").and_then(DynSolValue::as_bytes).unwrap_or_default();
            let mut rest = packed;
            while rest.len() >= 85 {
                let target = Address::from_slice(&rest[1..21]);
                let value = U256::from_be_slice(&rest[21..53]);
                let len = U256::from_be_slice(&rest[53..85]).saturating_to::<usize>();
                let Some(data) = rest.get(85..85 + len) else { break };
                out.push(decode_at(Some(target), value, data, depth + 1)?);
                rest = &rest[85 + len..];
            }
        }
        "execute(bytes32,bytes)" => {
            // ERC-7821 batch mode: executionData = abi.encode(Call[]).
            let data = outer.arg("executionData").and_then(DynSolValue::as_bytes).unwrap_or_default();
            let ty: alloy::dyn_abi::DynSolType =
                "(address,uint256,bytes)[]".parse().unwrap_or(alloy::dyn_abi::DynSolType::Bool);
            if let Ok(DynSolValue::Array(calls)) = ty.abi_decode(data) {
                for call in calls {
                    let Some(f) = call.as_tuple() else { continue };
                    let target = f.first().and_then(DynSolValue::as_address);
                    let value = f.get(1).and_then(|v| v.as_uint()).map(|(u, _)| u).unwrap_or_default();
                    out.push(decode_at(
                        target,
                        value,
                        f.get(2).and_then(DynSolValue::as_bytes).unwrap_or_default(),
                        depth + 1,
                    )?);
                }
            }
        }
        _ => {}
    }
    Ok(out)
}

/// Encodes a call to `signature` (from the curated table) with `args`, for follow-up simulations.
pub fn encode(signature: &str, args: &[DynSolValue]) -> Bytes {
    let f = table().values().find(|f| f.signature() == signature);
    match f {
        Some(f) => f.abi_encode_input(args).map(Bytes::from).unwrap_or_default(),
        None => Bytes::new(),
    }
}

/// Whether `code` (runtime bytecode) contains `opcode`, skipping PUSH data.
pub fn has_opcode(code: &[u8], opcode: u8) -> bool {
    let mut i = 0;
    while i < code.len() {
        let op = code[i];
        if op == opcode {
            return true;
        }
        i += 1 + if (0x60..=0x7f).contains(&op) { (op - 0x5f) as usize } else { 0 };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{sol, sol_types::SolCall};

    sol! {
        struct Call3 { address target; bool allowFailure; bytes callData; }
        function approve(address spender, uint256 amount);
        function aggregate3(Call3[] calls);
    }

    #[test]
    fn every_selector_in_the_table_is_distinct_and_matches_known_values() {
        assert_eq!(table().len(), FUNCTIONS.len());
        let sel = |s: &str| table().values().find(|f| f.signature() == s).map(|f| hex::encode(f.selector()));
        assert_eq!(sel("approve(address,uint256)").as_deref(), Some("095ea7b3"));
        assert_eq!(sel("approve(address,address,uint160,uint48)").as_deref(), Some("87517c45"));
        assert_eq!(sel("aggregate3((address,bool,bytes)[])").as_deref(), Some("82ad56cb"));
        assert_eq!(sel("multiSend(bytes)").as_deref(), Some("8d80ff0a"));
        assert_eq!(sel("execute(bytes32,bytes)").as_deref(), Some("e9ae5c53"));
        assert_eq!(sel("upgradeToAndCall(address,bytes)").as_deref(), Some("4f1ef286"));
        assert_eq!(sel("setApprovalForAll(address,bool)").as_deref(), Some("a22cb465"));
    }

    #[test]
    fn an_approval_hidden_in_a_multicall_is_decoded() {
        let spender = Address::repeat_byte(0xaa);
        let inner = approveCall { spender, amount: U256::MAX }.abi_encode();
        let outer = aggregate3Call {
            calls: vec![Call3 {
                target: Address::repeat_byte(1),
                allowFailure: false,
                callData: inner.into(),
            }],
        }
        .abi_encode();
        let d = decode(Some(Address::repeat_byte(2)), U256::ZERO, &outer).unwrap();
        assert_eq!(d.name, "aggregate3");
        assert_eq!(d.inner.len(), 1);
        assert_eq!(d.inner[0].name, "approve");
        assert_eq!(d.inner[0].address("spender"), Some(spender));
        assert_eq!(d.flatten().len(), 2);
    }

    #[test]
    fn deep_nesting_is_refused_and_garbage_is_unknown() {
        let mut data = approveCall { spender: Address::ZERO, amount: U256::ZERO }.abi_encode();
        for _ in 0..=MAX_DEPTH {
            data = aggregate3Call {
                calls: vec![Call3 { target: Address::ZERO, allowFailure: false, callData: data.into() }],
            }
            .abi_encode();
        }
        assert!(matches!(decode(Some(Address::ZERO), U256::ZERO, &data), Err(DecodeError::TooDeep)));
        let d = decode(Some(Address::ZERO), U256::ZERO, &[0xde, 0xad, 0xbe, 0xef, 1]).unwrap();
        assert_eq!(d.name, "unknown 0xdeadbeef");
        let d = decode(Some(Address::ZERO), U256::ZERO, &hex::decode("095ea7b300").unwrap()).unwrap();
        assert!(d.name.contains("malformed"));
    }

    proptest::proptest! {
        /// Untrusted calldata never panics the decoder, whatever its bytes.
        #[test]
        fn arbitrary_calldata_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600), selector in 0usize..FUNCTIONS.len()) {
            let _ = decode(Some(Address::ZERO), U256::ZERO, &data);
            // The same bytes behind every known selector: arguments that do not decode are named,
            // not fatal.
            let f = table().values().nth(selector).map(|f| f.selector()).unwrap_or_default();
            let prefixed: Vec<u8> = f.iter().copied().chain(data.iter().copied()).collect();
            let _ = decode(Some(Address::ZERO), U256::ZERO, &prefixed);
        }

        /// An approval survives any depth of `aggregate3` nesting up to the limit, with its
        /// spender and amount intact; one level more is refused.
        #[test]
        fn approvals_survive_nesting(spender in proptest::prelude::any::<[u8; 20]>(), amount in proptest::prelude::any::<[u8; 32]>(), depth in 0usize..=MAX_DEPTH) {
            let spender = Address::from(spender);
            let amount = U256::from_be_bytes(amount);
            let mut data = approveCall { spender, amount }.abi_encode();
            for _ in 0..depth {
                data = aggregate3Call { calls: vec![Call3 { target: Address::ZERO, allowFailure: true, callData: data.into() }] }.abi_encode();
            }
            let d = decode(Some(Address::ZERO), U256::ZERO, &data).unwrap();
            let approve = d.flatten().into_iter().find(|c| c.name == "approve").cloned().unwrap();
            proptest::prop_assert_eq!(approve.address("spender"), Some(spender));
            proptest::prop_assert_eq!(approve.uint("amount"), Some(amount));
            if depth == MAX_DEPTH {
                let deeper = aggregate3Call { calls: vec![Call3 { target: Address::ZERO, allowFailure: true, callData: data.into() }] }.abi_encode();
                proptest::prop_assert!(decode(Some(Address::ZERO), U256::ZERO, &deeper).is_err());
            }
        }

        /// Safe `multiSend` packing: every packed call comes back with its target, value and data.
        #[test]
        fn multisend_packing_round_trips(calls in proptest::collection::vec((proptest::prelude::any::<[u8; 20]>(), proptest::prelude::any::<u64>(), proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)), 0..6)) {
            let mut packed = Vec::new();
            for (to, value, data) in &calls {
                packed.push(0u8);
                packed.extend_from_slice(to);
                packed.extend_from_slice(&U256::from(*value).to_be_bytes::<32>());
                packed.extend_from_slice(&U256::from(data.len()).to_be_bytes::<32>());
                packed.extend_from_slice(data);
            }
            let outer = encode("multiSend(bytes)", &[DynSolValue::Bytes(packed)]);
            let d = decode(Some(Address::ZERO), U256::ZERO, &outer).unwrap();
            proptest::prop_assert_eq!(d.inner.len(), calls.len());
            for (inner, (to, value, _)) in d.inner.iter().zip(&calls) {
                proptest::prop_assert_eq!(inner.to, Some(Address::from(*to)));
                proptest::prop_assert_eq!(inner.value, U256::from(*value));
            }
        }
    }

    #[test]
    fn opcodes_inside_push_data_are_skipped() {
        // PUSH1 0xff, then STOP: no SELFDESTRUCT.
        assert!(!has_opcode(&[0x60, 0xff, 0x00], 0xff));
        assert!(has_opcode(&[0x60, 0x00, 0xff], 0xff));
    }
}
