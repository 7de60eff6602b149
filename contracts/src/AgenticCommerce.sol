// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IACPHook} from "./IArbitration.sol";

/// @title AgenticCommerce
/// @notice ERC-8183 job escrow, as its normative text specifies it: a client creates a job
/// naming a provider (or sets one later), client or provider set the budget, the client funds
/// it with `fund(jobId, expectedBudget, ·)` (which reverts if the budget changed since the
/// client read it: front-running protection), the provider submits a deliverable, and the
/// job's evaluator alone completes (paying the provider) or rejects (refunding the client).
/// After `expiredAt` anyone may refund a Funded or Submitted job to its client.
///
/// States: Open → Funded → Submitted → Completed | Rejected | Expired; also Open → Rejected
/// (client), Funded → Rejected (evaluator), Funded → Expired. No other transition exists.
///
/// Hooks: a job may name a hook (ERC-8183's `IACPHook`), called before and after `setProvider`,
/// `setBudget`, `fund`, `submit`, `complete` and `reject` with the data encodings of the
/// standard, each call capped at `HOOK_GAS`; a hook's revert reverts the action (its revert
/// data is passed through). `claimRefund` never calls the hook, so an expired job's refund
/// cannot be blocked. No platform fee is charged.
///
/// @dev One ERC-20 for the whole contract, which must move exactly the amounts asked (no
/// fee-on-transfer, no rebasing). The contract holds the sum of the budgets of Funded and
/// Submitted jobs, and nothing else.
contract AgenticCommerce is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The gas each hook call may use.
    uint256 public constant HOOK_GAS = 1_000_000;

    enum Status {
        Open,
        Funded,
        Submitted,
        Completed,
        Rejected,
        Expired
    }

    struct Job {
        address client;
        address provider;
        address evaluator;
        address hook;
        uint256 budget;
        uint256 expiredAt;
        Status status;
        string description;
    }

    /// @notice The payment token of every job.
    IERC20 public immutable token;
    /// @notice How many jobs were created; ids run from 1.
    uint256 public jobCount;
    mapping(uint256 jobId => Job) private _jobs;

    event JobCreated(
        uint256 indexed jobId,
        address indexed client,
        address indexed provider,
        address evaluator,
        uint256 expiredAt
    );
    event ProviderSet(uint256 indexed jobId, address indexed provider);
    event BudgetSet(uint256 indexed jobId, uint256 amount);
    event JobFunded(uint256 indexed jobId, address indexed client, uint256 amount);
    event JobSubmitted(uint256 indexed jobId, address indexed provider, bytes32 deliverable);
    event JobCompleted(uint256 indexed jobId, address indexed evaluator, bytes32 reason);
    event JobRejected(uint256 indexed jobId, address indexed rejector, bytes32 reason);
    event JobExpired(uint256 indexed jobId);
    event PaymentReleased(uint256 indexed jobId, address indexed provider, uint256 amount);
    event Refunded(uint256 indexed jobId, address indexed client, uint256 amount);

    error NoSuchJob(uint256 jobId);
    error WrongStatus(uint256 jobId, Status status);
    error Unauthorized(uint256 jobId, address caller);
    error ZeroEvaluator();
    error ExpiryNotInFuture(uint256 expiredAt);
    error ProviderAlreadySet(uint256 jobId, address provider);
    error ZeroProvider();
    error ZeroBudget(uint256 jobId);
    error ProviderNotSet(uint256 jobId);
    error BudgetMismatch(uint256 jobId, uint256 budget, uint256 expectedBudget);
    error NotExpired(uint256 jobId, uint256 expiredAt);
    error HookNotContract(address hook);

    constructor(IERC20 token_) {
        token = token_;
    }

    /// @notice A job, whole.
    function getJob(uint256 jobId) external view returns (Job memory) {
        return _job(jobId);
    }

    /// @notice Creates an Open job with the caller as client. `provider` may be zero (set it
    /// later with `setProvider`); `hook` may be zero (no hook).
    function createJob(
        address provider,
        address evaluator,
        uint256 expiredAt,
        string calldata description,
        address hook
    ) external returns (uint256 jobId) {
        if (evaluator == address(0)) revert ZeroEvaluator();
        if (expiredAt <= block.timestamp) revert ExpiryNotInFuture(expiredAt);
        if (hook != address(0) && hook.code.length == 0) revert HookNotContract(hook);
        jobId = ++jobCount;
        Job storage job = _jobs[jobId];
        job.client = msg.sender;
        job.provider = provider;
        job.evaluator = evaluator;
        job.hook = hook;
        job.expiredAt = expiredAt;
        job.description = description;
        emit JobCreated(jobId, msg.sender, provider, evaluator, expiredAt);
    }

    /// @notice The client names the provider of a job created without one.
    function setProvider(uint256 jobId, address provider, bytes calldata optParams) external {
        Job storage job = _job(jobId);
        _only(jobId, job.client);
        _status(jobId, job, Status.Open);
        if (job.provider != address(0)) revert ProviderAlreadySet(jobId, job.provider);
        if (provider == address(0)) revert ZeroProvider();
        bytes memory data = abi.encode(provider, optParams);
        _before(jobId, job, this.setProvider.selector, data);
        job.provider = provider;
        emit ProviderSet(jobId, provider);
        _after(jobId, job, this.setProvider.selector, data);
    }

    /// @notice Client or provider propose the price of an Open job.
    function setBudget(uint256 jobId, uint256 amount, bytes calldata optParams) external {
        Job storage job = _job(jobId);
        if (msg.sender != job.client && (msg.sender != job.provider || job.provider == address(0))) {
            revert Unauthorized(jobId, msg.sender);
        }
        _status(jobId, job, Status.Open);
        bytes memory data = abi.encode(amount, optParams);
        _before(jobId, job, this.setBudget.selector, data);
        job.budget = amount;
        emit BudgetSet(jobId, amount);
        _after(jobId, job, this.setBudget.selector, data);
    }

    /// @notice The client escrows the budget, which must still be `expectedBudget`.
    function fund(uint256 jobId, uint256 expectedBudget, bytes calldata optParams) external nonReentrant {
        Job storage job = _job(jobId);
        _only(jobId, job.client);
        _status(jobId, job, Status.Open);
        if (job.budget == 0) revert ZeroBudget(jobId);
        if (job.provider == address(0)) revert ProviderNotSet(jobId);
        if (job.budget != expectedBudget) revert BudgetMismatch(jobId, job.budget, expectedBudget);
        if (job.expiredAt <= block.timestamp) revert ExpiryNotInFuture(job.expiredAt);
        _before(jobId, job, this.fund.selector, optParams);
        job.status = Status.Funded;
        token.safeTransferFrom(msg.sender, address(this), job.budget);
        emit JobFunded(jobId, msg.sender, job.budget);
        _after(jobId, job, this.fund.selector, optParams);
    }

    /// @notice The provider hands in its work: `deliverable` commits to it.
    function submit(uint256 jobId, bytes32 deliverable, bytes calldata optParams) external nonReentrant {
        Job storage job = _job(jobId);
        _only(jobId, job.provider);
        _status(jobId, job, Status.Funded);
        bytes memory data = abi.encode(deliverable, optParams);
        _before(jobId, job, this.submit.selector, data);
        job.status = Status.Submitted;
        emit JobSubmitted(jobId, msg.sender, deliverable);
        _after(jobId, job, this.submit.selector, data);
    }

    /// @notice The evaluator accepts the submitted work: the escrow goes to the provider.
    function complete(uint256 jobId, bytes32 reason, bytes calldata optParams) external nonReentrant {
        Job storage job = _job(jobId);
        _only(jobId, job.evaluator);
        _status(jobId, job, Status.Submitted);
        bytes memory data = abi.encode(reason, optParams);
        _before(jobId, job, this.complete.selector, data);
        job.status = Status.Completed;
        emit JobCompleted(jobId, msg.sender, reason);
        token.safeTransfer(job.provider, job.budget);
        emit PaymentReleased(jobId, job.provider, job.budget);
        _after(jobId, job, this.complete.selector, data);
    }

    /// @notice The client rejects an Open job, or the evaluator a Funded or Submitted one (the
    /// escrow goes back to the client).
    function reject(uint256 jobId, bytes32 reason, bytes calldata optParams) external nonReentrant {
        Job storage job = _job(jobId);
        Status status = job.status;
        if (status == Status.Open) {
            _only(jobId, job.client);
        } else if (status == Status.Funded || status == Status.Submitted) {
            _only(jobId, job.evaluator);
        } else {
            revert WrongStatus(jobId, status);
        }
        bytes memory data = abi.encode(reason, optParams);
        _before(jobId, job, this.reject.selector, data);
        job.status = Status.Rejected;
        emit JobRejected(jobId, msg.sender, reason);
        if (status != Status.Open) {
            token.safeTransfer(job.client, job.budget);
            emit Refunded(jobId, job.client, job.budget);
        }
        _after(jobId, job, this.reject.selector, data);
    }

    /// @notice After expiry, anyone may refund a Funded or Submitted job to its client. Never hooked.
    function claimRefund(uint256 jobId) external nonReentrant {
        Job storage job = _job(jobId);
        if (job.status != Status.Funded && job.status != Status.Submitted) {
            revert WrongStatus(jobId, job.status);
        }
        if (block.timestamp < job.expiredAt) revert NotExpired(jobId, job.expiredAt);
        job.status = Status.Expired;
        emit JobExpired(jobId);
        token.safeTransfer(job.client, job.budget);
        emit Refunded(jobId, job.client, job.budget);
    }

    function _job(uint256 jobId) private view returns (Job storage job) {
        job = _jobs[jobId];
        if (job.client == address(0)) revert NoSuchJob(jobId);
    }

    function _only(uint256 jobId, address who) private view {
        if (msg.sender != who) revert Unauthorized(jobId, msg.sender);
    }

    function _status(uint256 jobId, Job storage job, Status expected) private view {
        if (job.status != expected) revert WrongStatus(jobId, job.status);
    }

    function _before(uint256 jobId, Job storage job, bytes4 selector, bytes memory data) private {
        if (job.hook != address(0)) {
            _callHook(job.hook, abi.encodeCall(IACPHook.beforeAction, (jobId, selector, data)));
        }
    }

    function _after(uint256 jobId, Job storage job, bytes4 selector, bytes memory data) private {
        if (job.hook != address(0)) {
            _callHook(job.hook, abi.encodeCall(IACPHook.afterAction, (jobId, selector, data)));
        }
    }

    function _callHook(address hook, bytes memory call) private {
        (bool ok, bytes memory returned) = hook.call{gas: HOOK_GAS}(call);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(returned, 0x20), mload(returned))
            }
        }
    }
}
