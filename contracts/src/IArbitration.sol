// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IArbitrableV2
/// @notice The arbitrable side of the Kleros v2 arbitration standard: a contract that asks an
/// `IArbitratorV2` to decide a dispute and acts on the ruling. Signatures are the standard's, so
/// any v2 arbitrator can decide a dispute of an agora contract.
interface IArbitrableV2 {
    /// @notice A dispute was raised with `arbitrator`; `externalDisputeID` is the arbitrable's own id.
    event DisputeRequest(
        IArbitratorV2 indexed _arbitrator,
        uint256 indexed _arbitrableDisputeID,
        uint256 _externalDisputeID,
        uint256 _templateId,
        string _templateUri
    );

    /// @notice The arbitrator ruled.
    event Ruling(IArbitratorV2 indexed _arbitrator, uint256 indexed _disputeID, uint256 _ruling);

    /// @notice Gives the ruling of a dispute; only the arbitrator may call it. Ruling 0 means the
    /// arbitrator refused to (or could not) decide.
    function rule(uint256 _disputeID, uint256 _ruling) external;
}

/// @title IArbitratorV2
/// @notice The arbitrator side of the Kleros v2 arbitration standard (appeals are not part of it).
interface IArbitratorV2 {
    event DisputeCreation(uint256 indexed _disputeID, IArbitrableV2 indexed _arbitrable);
    event Ruling(IArbitrableV2 indexed _arbitrable, uint256 indexed _disputeID, uint256 _ruling);
    event AcceptedFeeToken(IERC20 indexed _token, bool indexed _accepted);
    event NewCurrencyRate(IERC20 indexed _feeToken, uint64 _rateInEth, uint8 _rateDecimals);

    function createDispute(uint256 _numberOfChoices, bytes calldata _extraData)
        external
        payable
        returns (uint256 disputeID);

    function createDispute(
        uint256 _numberOfChoices,
        bytes calldata _extraData,
        IERC20 _feeToken,
        uint256 _feeAmount
    ) external returns (uint256 disputeID);

    function arbitrationCost(bytes calldata _extraData) external view returns (uint256 cost);

    function arbitrationCost(bytes calldata _extraData, IERC20 _feeToken) external view returns (uint256 cost);

    function currentRuling(uint256 _disputeID)
        external
        view
        returns (uint256 ruling, bool tied, bool overridden);
}

/// @title IACPHook
/// @notice ERC-8183's hook interface: called by the job escrow before and after each hookable action.
interface IACPHook {
    function beforeAction(uint256 jobId, bytes4 selector, bytes calldata data) external;
    function afterAction(uint256 jobId, bytes4 selector, bytes calldata data) external;
}
