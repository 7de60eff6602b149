//! Field elements of BN254's scalar field, as the contract and the wire carry them.

use alloy::primitives::{Address, B256, U256, keccak256};
use ark_ff::{BigInteger, PrimeField};
use rln::prelude::Fr;

/// The order of BN254's scalar field: every public value of a proof is below it.
pub const FIELD_ORDER: U256 =
    U256::from_limbs([0x43e1f593f0000001, 0x2833e84879b97091, 0xb85045b68181585d, 0x30644e72e131a029]);

/// A field element as a 256-bit integer (what Solidity sees).
pub fn to_u256(value: &Fr) -> U256 {
    U256::from_le_slice(&value.into_bigint().to_bytes_le())
}

/// A 256-bit integer as a field element, or `None` when it is not below [`FIELD_ORDER`]
/// (a value the contract would refuse too).
pub fn from_u256(value: U256) -> Option<Fr> {
    (value < FIELD_ORDER).then(|| Fr::from_le_bytes_mod_order(&value.to_le_bytes::<32>()))
}

/// `keccak256(bytes) mod r`, the contract's `uint256(keccak256(...)) % R`.
pub fn keccak_to_field(bytes: &[u8]) -> Fr {
    Fr::from_be_bytes_mod_order(keccak256(bytes).as_slice())
}

/// The hex form the wire uses: `0x` and 64 digits.
pub fn to_hex(value: &Fr) -> String {
    B256::from(to_u256(value)).to_string()
}

/// Parses [`to_hex`]'s form (any 0x-prefixed 256-bit number below the field order).
pub fn from_hex(text: &str) -> Option<Fr> {
    let digits = text.strip_prefix("0x")?;
    if digits.is_empty() || digits.len() > 64 {
        return None;
    }
    from_u256(U256::from_str_radix(digits, 16).ok()?)
}

/// `abi.encode(a, b)` of two words.
pub(crate) fn encode_words(words: &[U256]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes::<32>()).collect()
}

/// An address as an ABI word.
pub(crate) fn address_word(address: Address) -> U256 {
    U256::from_be_slice(address.into_word().as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_order_is_bn254s() {
        let minus_one = -Fr::from(1u64);
        assert_eq!(to_u256(&minus_one) + U256::from(1), FIELD_ORDER);
        assert_eq!(from_u256(FIELD_ORDER), None);
        assert_eq!(from_u256(FIELD_ORDER - U256::from(1)), Some(minus_one));
        assert_eq!(from_hex(&to_hex(&Fr::from(77u64))), Some(Fr::from(77u64)));
        assert_eq!(from_hex("0x"), None);
        assert_eq!(from_hex("12"), None);
    }
}
