//! The rule table: every finding the guard can give, with its stable id, its one title and
//! the level it has unless the analysis has a reason to raise or lower it.
//!
//! An id (`G01` … `G20`) names a family of checks (approvals, permits, chains…); each
//! [`Rule`] is one check of a family with a fixed title. The variable part of a finding
//! (amounts, addresses, hosts) goes in its message and evidence, never in its title.

use crate::verdict::Level;

/// One check the guard makes. Build a [`crate::Finding`] from it with [`crate::Finding::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// G01: "Unlimited approval" (high unless raised or lowered).
    UnlimitedApproval,
    /// G02: "Approval to a personal account" (high unless raised or lowered).
    ApprovalToAPersonalAccount,
    /// G02: "Permit to a personal account" (critical unless raised or lowered).
    PermitToAPersonalAccount,
    /// G03: "Approval to a new contract" (medium unless raised or lowered).
    ApprovalToANewContract,
    /// G03: "Approval to an unfamiliar contract" (low unless raised or lowered).
    ApprovalToAnUnfamiliarContract,
    /// G04: "Approval of a whole collection" (high unless raised or lowered).
    ApprovalOfAWholeCollection,
    /// G05: "Permit for another owner" (medium unless raised or lowered).
    PermitForAnotherOwner,
    /// G05: "Permit signature" (high unless raised or lowered).
    PermitSignature,
    /// G06: "Permit2 signature" (high unless raised or lowered).
    Permit2Signature,
    /// G06: "Permit2 transfer signature" (high unless raised or lowered).
    Permit2TransferSignature,
    /// G07: "Blind bulk listing" (high unless raised or lowered).
    BlindBulkListing,
    /// G07: "Listing" (info unless raised or lowered).
    Listing,
    /// G07: "Most proceeds go to others" (high unless raised or lowered).
    MostProceedsGoToOthers,
    /// G07: "Order that gives your assets away" (critical unless raised or lowered).
    OrderThatGivesYourAssetsAway,
    /// G07: "Restricted order" (low unless raised or lowered).
    RestrictedOrder,
    /// G08: "Blind signature" (critical unless raised or lowered).
    BlindSignature,
    /// G08: "Sign-in for another account" (high unless raised or lowered).
    SignInForAnotherAccount,
    /// G08: "Sign-in for another site" (high unless raised or lowered).
    SignInForAnotherSite,
    /// G08: "Unknown typed data" (medium unless raised or lowered).
    UnknownTypedData,
    /// G09: "First transfer to this address" (medium unless raised or lowered).
    FirstTransferToThisAddress,
    /// G09: "Look-alike address" (critical unless raised or lowered).
    LookAlikeAddress,
    /// G10: "Delegation to a known contract" (info unless raised or lowered).
    DelegationToAKnownContract,
    /// G10: "Delegation to a sweeper" (critical unless raised or lowered).
    DelegationToASweeper,
    /// G10: "Delegation to an unknown contract" (high unless raised or lowered).
    DelegationToAnUnknownContract,
    /// G10: "Delegation valid on every chain" (critical unless raised or lowered).
    DelegationValidOnEveryChain,
    /// G11: "Approval hidden in a batch" (high unless raised or lowered).
    ApprovalHiddenInABatch,
    /// G12: "Control handed over" (medium unless raised or lowered).
    ControlHandedOver,
    /// G12: "Control handed to an unknown party" (critical unless raised or lowered).
    ControlHandedToAnUnknownParty,
    /// G12: "Ownership renounced" (high unless raised or lowered).
    OwnershipRenounced,
    /// G13: "Data sent to an account without code" (medium unless raised or lowered).
    DataSentToAnAccountWithoutCode,
    /// G13: "ETH sent to a contract that cannot send it on" (medium unless raised or lowered).
    EthSentToAContractThatCannotSendItOn,
    /// G13: "NFT sent to a contract that cannot handle it" (high unless raised or lowered).
    NftSentToAContractThatCannotHandleIt,
    /// G13: "Sent to a burn address" (high unless raised or lowered).
    SentToABurnAddress,
    /// G13: "Tokens sent to a token contract" (high unless raised or lowered).
    TokensSentToATokenContract,
    /// G13: "Tokens sent to their own contract" (high unless raised or lowered).
    TokensSentToTheirOwnContract,
    /// G14: "Replayable transaction" (high unless raised or lowered).
    ReplayableTransaction,
    /// G14: "Sign-in for another chain" (high unless raised or lowered).
    SignInForAnotherChain,
    /// G14: "Signature for another chain" (high unless raised or lowered).
    SignatureForAnotherChain,
    /// G14: "Signature valid on any chain" (high unless raised or lowered).
    SignatureValidOnAnyChain,
    /// G14: "Wrong chain" (critical unless raised or lowered).
    WrongChain,
    /// G15: "Delegatecall to code you chose" (high unless raised or lowered).
    DelegatecallToCodeYouChose,
    /// G15: "Self-destructing contract" (high unless raised or lowered).
    SelfDestructingContract,
    /// G15: "Your ETH is forwarded to a third party" (critical unless raised or lowered).
    YourEthIsForwardedToAThirdParty,
    /// G16: "Blocked counterparty" (critical unless raised or lowered).
    BlockedCounterparty,
    /// G16: "Blocked site" (critical unless raised or lowered).
    BlockedSite,
    /// G16: "Internationalised domain" (medium unless raised or lowered).
    InternationalisedDomain,
    /// G16: "Known phishing site" (critical unless raised or lowered).
    KnownPhishingSite,
    /// G16: "Look-alike site" (high unless raised or lowered).
    LookAlikeSite,
    /// G17: "Fake token" (high unless raised or lowered).
    FakeToken,
    /// G17: "You give and get nothing back" (high unless raised or lowered).
    YouGiveAndGetNothingBack,
    /// G18: "Behaves differently in a real block" (high unless raised or lowered).
    BehavesDifferentlyInARealBlock,
    /// G18: "Would fail" (info unless raised or lowered).
    WouldFail,
    /// G19: "Long-lived permission" (medium unless raised or lowered).
    LongLivedPermission,
    /// G20: "Fee that burns your balance" (high unless raised or lowered).
    FeeThatBurnsYourBalance,
    /// G20: "Fees are a large share of your balance" (low unless raised or lowered).
    FeesAreALargeShareOfYourBalance,
    /// G20: "Gas limit far above use" (low unless raised or lowered).
    GasLimitFarAboveUse,
    /// G20: "Revoke that burns gas" (medium unless raised or lowered).
    RevokeThatBurnsGas,
}

impl Rule {
    /// Every rule, in id order.
    pub const ALL: [Self; 57] = [
        Self::UnlimitedApproval,
        Self::ApprovalToAPersonalAccount,
        Self::PermitToAPersonalAccount,
        Self::ApprovalToANewContract,
        Self::ApprovalToAnUnfamiliarContract,
        Self::ApprovalOfAWholeCollection,
        Self::PermitForAnotherOwner,
        Self::PermitSignature,
        Self::Permit2Signature,
        Self::Permit2TransferSignature,
        Self::BlindBulkListing,
        Self::Listing,
        Self::MostProceedsGoToOthers,
        Self::OrderThatGivesYourAssetsAway,
        Self::RestrictedOrder,
        Self::BlindSignature,
        Self::SignInForAnotherAccount,
        Self::SignInForAnotherSite,
        Self::UnknownTypedData,
        Self::FirstTransferToThisAddress,
        Self::LookAlikeAddress,
        Self::DelegationToAKnownContract,
        Self::DelegationToASweeper,
        Self::DelegationToAnUnknownContract,
        Self::DelegationValidOnEveryChain,
        Self::ApprovalHiddenInABatch,
        Self::ControlHandedOver,
        Self::ControlHandedToAnUnknownParty,
        Self::OwnershipRenounced,
        Self::DataSentToAnAccountWithoutCode,
        Self::EthSentToAContractThatCannotSendItOn,
        Self::NftSentToAContractThatCannotHandleIt,
        Self::SentToABurnAddress,
        Self::TokensSentToATokenContract,
        Self::TokensSentToTheirOwnContract,
        Self::ReplayableTransaction,
        Self::SignInForAnotherChain,
        Self::SignatureForAnotherChain,
        Self::SignatureValidOnAnyChain,
        Self::WrongChain,
        Self::DelegatecallToCodeYouChose,
        Self::SelfDestructingContract,
        Self::YourEthIsForwardedToAThirdParty,
        Self::BlockedCounterparty,
        Self::BlockedSite,
        Self::InternationalisedDomain,
        Self::KnownPhishingSite,
        Self::LookAlikeSite,
        Self::FakeToken,
        Self::YouGiveAndGetNothingBack,
        Self::BehavesDifferentlyInARealBlock,
        Self::WouldFail,
        Self::LongLivedPermission,
        Self::FeeThatBurnsYourBalance,
        Self::FeesAreALargeShareOfYourBalance,
        Self::GasLimitFarAboveUse,
        Self::RevokeThatBurnsGas,
    ];

    /// The stable id shown to users and sent on the wire (`G01` … `G20`).
    pub const fn id(self) -> &'static str {
        match self {
            Self::UnlimitedApproval => "G01",
            Self::ApprovalToAPersonalAccount | Self::PermitToAPersonalAccount => "G02",
            Self::ApprovalToANewContract | Self::ApprovalToAnUnfamiliarContract => "G03",
            Self::ApprovalOfAWholeCollection => "G04",
            Self::PermitForAnotherOwner | Self::PermitSignature => "G05",
            Self::Permit2Signature | Self::Permit2TransferSignature => "G06",
            Self::BlindBulkListing
            | Self::Listing
            | Self::MostProceedsGoToOthers
            | Self::OrderThatGivesYourAssetsAway
            | Self::RestrictedOrder => "G07",
            Self::BlindSignature
            | Self::SignInForAnotherAccount
            | Self::SignInForAnotherSite
            | Self::UnknownTypedData => "G08",
            Self::FirstTransferToThisAddress | Self::LookAlikeAddress => "G09",
            Self::DelegationToAKnownContract
            | Self::DelegationToASweeper
            | Self::DelegationToAnUnknownContract
            | Self::DelegationValidOnEveryChain => "G10",
            Self::ApprovalHiddenInABatch => "G11",
            Self::ControlHandedOver | Self::ControlHandedToAnUnknownParty | Self::OwnershipRenounced => "G12",
            Self::DataSentToAnAccountWithoutCode
            | Self::EthSentToAContractThatCannotSendItOn
            | Self::NftSentToAContractThatCannotHandleIt
            | Self::SentToABurnAddress
            | Self::TokensSentToATokenContract
            | Self::TokensSentToTheirOwnContract => "G13",
            Self::ReplayableTransaction
            | Self::SignInForAnotherChain
            | Self::SignatureForAnotherChain
            | Self::SignatureValidOnAnyChain
            | Self::WrongChain => "G14",
            Self::DelegatecallToCodeYouChose
            | Self::SelfDestructingContract
            | Self::YourEthIsForwardedToAThirdParty => "G15",
            Self::BlockedCounterparty
            | Self::BlockedSite
            | Self::InternationalisedDomain
            | Self::KnownPhishingSite
            | Self::LookAlikeSite => "G16",
            Self::FakeToken | Self::YouGiveAndGetNothingBack => "G17",
            Self::BehavesDifferentlyInARealBlock | Self::WouldFail => "G18",
            Self::LongLivedPermission => "G19",
            Self::FeeThatBurnsYourBalance
            | Self::FeesAreALargeShareOfYourBalance
            | Self::GasLimitFarAboveUse
            | Self::RevokeThatBurnsGas => "G20",
        }
    }

    /// The short title, the same for every finding of this rule.
    pub const fn title(self) -> &'static str {
        match self {
            Self::UnlimitedApproval => "Unlimited approval",
            Self::ApprovalToAPersonalAccount => "Approval to a personal account",
            Self::PermitToAPersonalAccount => "Permit to a personal account",
            Self::ApprovalToANewContract => "Approval to a new contract",
            Self::ApprovalToAnUnfamiliarContract => "Approval to an unfamiliar contract",
            Self::ApprovalOfAWholeCollection => "Approval of a whole collection",
            Self::PermitForAnotherOwner => "Permit for another owner",
            Self::PermitSignature => "Permit signature",
            Self::Permit2Signature => "Permit2 signature",
            Self::Permit2TransferSignature => "Permit2 transfer signature",
            Self::BlindBulkListing => "Blind bulk listing",
            Self::Listing => "Listing",
            Self::MostProceedsGoToOthers => "Most proceeds go to others",
            Self::OrderThatGivesYourAssetsAway => "Order that gives your assets away",
            Self::RestrictedOrder => "Restricted order",
            Self::BlindSignature => "Blind signature",
            Self::SignInForAnotherAccount => "Sign-in for another account",
            Self::SignInForAnotherSite => "Sign-in for another site",
            Self::UnknownTypedData => "Unknown typed data",
            Self::FirstTransferToThisAddress => "First transfer to this address",
            Self::LookAlikeAddress => "Look-alike address",
            Self::DelegationToAKnownContract => "Delegation to a known contract",
            Self::DelegationToASweeper => "Delegation to a sweeper",
            Self::DelegationToAnUnknownContract => "Delegation to an unknown contract",
            Self::DelegationValidOnEveryChain => "Delegation valid on every chain",
            Self::ApprovalHiddenInABatch => "Approval hidden in a batch",
            Self::ControlHandedOver => "Control handed over",
            Self::ControlHandedToAnUnknownParty => "Control handed to an unknown party",
            Self::OwnershipRenounced => "Ownership renounced",
            Self::DataSentToAnAccountWithoutCode => "Data sent to an account without code",
            Self::EthSentToAContractThatCannotSendItOn => "ETH sent to a contract that cannot send it on",
            Self::NftSentToAContractThatCannotHandleIt => "NFT sent to a contract that cannot handle it",
            Self::SentToABurnAddress => "Sent to a burn address",
            Self::TokensSentToATokenContract => "Tokens sent to a token contract",
            Self::TokensSentToTheirOwnContract => "Tokens sent to their own contract",
            Self::ReplayableTransaction => "Replayable transaction",
            Self::SignInForAnotherChain => "Sign-in for another chain",
            Self::SignatureForAnotherChain => "Signature for another chain",
            Self::SignatureValidOnAnyChain => "Signature valid on any chain",
            Self::WrongChain => "Wrong chain",
            Self::DelegatecallToCodeYouChose => "Delegatecall to code you chose",
            Self::SelfDestructingContract => "Self-destructing contract",
            Self::YourEthIsForwardedToAThirdParty => "Your ETH is forwarded to a third party",
            Self::BlockedCounterparty => "Blocked counterparty",
            Self::BlockedSite => "Blocked site",
            Self::InternationalisedDomain => "Internationalised domain",
            Self::KnownPhishingSite => "Known phishing site",
            Self::LookAlikeSite => "Look-alike site",
            Self::FakeToken => "Fake token",
            Self::YouGiveAndGetNothingBack => "You give and get nothing back",
            Self::BehavesDifferentlyInARealBlock => "Behaves differently in a real block",
            Self::WouldFail => "Would fail",
            Self::LongLivedPermission => "Long-lived permission",
            Self::FeeThatBurnsYourBalance => "Fee that burns your balance",
            Self::FeesAreALargeShareOfYourBalance => "Fees are a large share of your balance",
            Self::GasLimitFarAboveUse => "Gas limit far above use",
            Self::RevokeThatBurnsGas => "Revoke that burns gas",
        }
    }

    /// The level a finding of this rule has unless the analysis sets another.
    pub const fn default_level(self) -> Level {
        match self {
            Self::Listing | Self::DelegationToAKnownContract | Self::WouldFail => Level::Info,
            Self::ApprovalToAnUnfamiliarContract
            | Self::RestrictedOrder
            | Self::FeesAreALargeShareOfYourBalance
            | Self::GasLimitFarAboveUse => Level::Low,
            Self::ApprovalToANewContract
            | Self::PermitForAnotherOwner
            | Self::UnknownTypedData
            | Self::FirstTransferToThisAddress
            | Self::ControlHandedOver
            | Self::DataSentToAnAccountWithoutCode
            | Self::EthSentToAContractThatCannotSendItOn
            | Self::InternationalisedDomain
            | Self::LongLivedPermission
            | Self::RevokeThatBurnsGas => Level::Medium,
            Self::UnlimitedApproval
            | Self::ApprovalToAPersonalAccount
            | Self::ApprovalOfAWholeCollection
            | Self::PermitSignature
            | Self::Permit2Signature
            | Self::Permit2TransferSignature
            | Self::BlindBulkListing
            | Self::MostProceedsGoToOthers
            | Self::SignInForAnotherAccount
            | Self::SignInForAnotherSite
            | Self::DelegationToAnUnknownContract
            | Self::ApprovalHiddenInABatch
            | Self::OwnershipRenounced
            | Self::NftSentToAContractThatCannotHandleIt
            | Self::SentToABurnAddress
            | Self::TokensSentToATokenContract
            | Self::TokensSentToTheirOwnContract
            | Self::ReplayableTransaction
            | Self::SignInForAnotherChain
            | Self::SignatureForAnotherChain
            | Self::SignatureValidOnAnyChain
            | Self::DelegatecallToCodeYouChose
            | Self::SelfDestructingContract
            | Self::LookAlikeSite
            | Self::FakeToken
            | Self::YouGiveAndGetNothingBack
            | Self::BehavesDifferentlyInARealBlock
            | Self::FeeThatBurnsYourBalance => Level::High,
            Self::PermitToAPersonalAccount
            | Self::OrderThatGivesYourAssetsAway
            | Self::BlindSignature
            | Self::LookAlikeAddress
            | Self::DelegationToASweeper
            | Self::DelegationValidOnEveryChain
            | Self::ControlHandedToAnUnknownParty
            | Self::WrongChain
            | Self::YourEthIsForwardedToAThirdParty
            | Self::BlockedCounterparty
            | Self::BlockedSite
            | Self::KnownPhishingSite => Level::Critical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_the_twenty_families_and_titles_are_unique() {
        let ids: HashSet<_> = Rule::ALL.iter().map(|r| r.id()).collect();
        let expected: HashSet<_> = (1..=20).map(|n| format!("G{n:02}")).collect();
        assert_eq!(ids, expected.iter().map(String::as_str).collect());
        let titles: HashSet<_> = Rule::ALL.iter().map(|r| r.title()).collect();
        assert_eq!(titles.len(), Rule::ALL.len(), "two rules share a title");
    }
}
