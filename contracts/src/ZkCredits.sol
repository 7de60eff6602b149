// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IdentityRegistry} from "./IdentityRegistry.sol";
import {IPoseidonT2, IPoseidonT3, IPoseidonT4} from "./Poseidon.sol";
import {RlnVerifier} from "./RlnVerifier.sol";

/// @title ZkCredits
/// @notice Anonymous prepaid call credits sold by ERC-8004 agents, spent with RLN
/// (rate-limiting nullifier) proofs.
///
/// An agent's owner opens a pool: a token, a unit price, a number of calls per deposit, a stake
/// and an exit delay. A buyer deposits `price + stake` with an identity commitment
/// `Poseidon(secret)`; the pool's calls tree gains the leaf `Poseidon(idCommitment, calls)`
/// (RLN's rate commitment), its exit tree the leaf `Poseidon(idCommitment, 1)`, both at the same
/// index, and the payee earns `price` at once. Off chain, each call spends a ticket (message id
/// `0..calls-1`) in the pool's call scope with a proof that *some* leaf of the calls tree is the
/// caller's; spending one ticket twice reveals the secret.
///
/// Whoever learns a member's secret can slash it and take its stake (`commitSlash`, then
/// `slash` in a later block, so nobody who sees the secret in the mempool can take the reward).
/// A member takes its stake back without saying which leaf is its own: `requestExit` with an
/// RLN proof, against the exit tree, in the pool's exit scope, whose signal binds the receiver;
/// after the pool's exit delay, during which a slash cancels the exit, `completeExit` pays it.
///
/// Why exits have their own tree: the RLN circuit only proves `messageId < userMessageLimit`
/// for the limit inside the leaf, and the contract never sees the message id. Against the calls
/// tree (limit `calls`) a member could prove `calls` different exit nullifiers (ids
/// `0..calls-1`) and exit `calls` times, and a slash (which cancels only the id-0 nullifier)
/// would not stop the others. The exit tree's leaves carry the limit 1, so the only provable
/// message id is 0 and each member has exactly one exit nullifier,
/// `Poseidon(Poseidon(secret, exitScope, 0))`: the one `slash` computes and cancels.
///
/// Values computed here are computed bit for bit the same by the Rust side (`agora-credits`):
///   rlnIdentifier = keccak256(abi.encode(chainid, address(this), poolId)) mod R
///   callScope     = Poseidon(0, rlnIdentifier),   exitScope = Poseidon(1, rlnIdentifier)
///   leaf          = Poseidon(idCommitment, calls)      (calls tree)
///   exitLeaf      = Poseidon(idCommitment, 1)          (exit tree)
///   each tree     = depth 20, zero leaf 0, node = Poseidon(left, right)
///   exit signal x = keccak256(abi.encode(poolId, receiver)) mod R
///   exit nullifier of a secret = Poseidon(Poseidon(secret, exitScope, 0))
///
/// Accounting, per pool: the contract holds `earned + stake · (openStakes + pendingExits)` of
/// the pool's token. A pool never pays more stakes than it holds: an exit reserves one of the
/// open stakes, a slash takes an open one or the one its pending exit reserved. With one exit
/// nullifier per member these books are defence in depth: they would keep the pool solvent even
/// if a member could exit twice, at the expense of the other members.
///
/// @dev Tokens must move exactly the amounts asked (no fee-on-transfer, no rebasing): a deposit
/// that does not leave exactly `price + stake` more with this contract reverts.
/// Poseidon is called in three standalone contracts (poseidon-solidity's libraries, deployed
/// as they are), and the verifier is a separate contract; all are set once, at construction.
contract ZkCredits is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The order of BN254's scalar field (RLN's field).
    uint256 public constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice The depth of every pool's two trees: 2^20 deposits.
    uint256 public constant DEPTH = 20;
    /// @notice How many recent roots of each tree a proof may be made against.
    uint256 public constant ROOT_HISTORY = 64;
    /// @notice The most calls one deposit can buy (the circuits range-check ticket numbers in 16 bits).
    uint32 public constant MAX_CALLS = 65_536;
    /// @notice The shortest and longest exit delay a pool may have.
    uint64 public constant MIN_EXIT_DELAY = 1 hours;
    uint64 public constant MAX_EXIT_DELAY = 30 days;
    /// @notice The largest unit price and stake a pool may have, so that no sum overflows.
    uint256 public constant MAX_AMOUNT = type(uint128).max;
    /// @notice The root of an empty tree (every leaf 0).
    uint256 public constant EMPTY_ROOT =
        15019797232609675441998260052101280400536945603062888308240081994073687793470;

    /// @notice The state of a leaf in its pool.
    enum LeafState {
        None,
        Active,
        Slashed
    }

    /// @notice The state of an exit nullifier in its pool.
    enum ExitState {
        None,
        Pending,
        Paid,
        Cancelled
    }

    /// @notice A pool's terms and books.
    struct Pool {
        /// The ERC-8004 agent selling the calls.
        uint256 agentId;
        /// Who created the pool and receives its earnings.
        address payee;
        /// Calls one deposit buys (the leaf's RLN message limit).
        uint32 calls;
        /// Seconds between an exit's request and its payment.
        uint64 exitDelay;
        /// The ERC-20 token deposits are paid in.
        address token;
        /// Deposits whose stake is still held and not reserved by an exit (not slashed, not
        /// exiting).
        uint32 openStakes;
        /// Exits requested and not yet paid or cancelled (each holds one stake).
        uint32 pendingExits;
        /// The price of one call.
        uint256 unitPrice;
        /// The price of one deposit's calls: `unitPrice * calls`.
        uint256 price;
        /// The stake each deposit locks beside the price.
        uint256 stake;
        /// RLN's application identifier of the pool.
        uint256 rlnIdentifier;
        /// The external nullifier of call tickets: `Poseidon(0, rlnIdentifier)`.
        uint256 callScope;
        /// The external nullifier of the exit ticket: `Poseidon(1, rlnIdentifier)`.
        uint256 exitScope;
        /// Earnings not yet withdrawn by the payee.
        uint256 earned;
    }

    /// @notice An exit, keyed by its nullifier.
    struct Exit {
        /// Who is paid the stake.
        address receiver;
        /// When it may be paid.
        uint64 releaseAt;
        /// None, pending, paid or cancelled.
        ExitState state;
    }

    /// @dev An incremental Merkle tree (its size is its pool's) and its ring of recent roots.
    struct Tree {
        /// `frontier[i]`: the root of the last complete subtree of height `i`.
        uint256[DEPTH] frontier;
        /// `roots[k % ROOT_HISTORY]`: the root after `k` leaves.
        uint256[ROOT_HISTORY] roots;
    }

    /// @dev A pool's two trees, which always hold the same number of leaves: deposit `k` is
    /// leaf `k` of both.
    struct Trees {
        /// Leaves in each tree (deposits into the pool).
        uint256 size;
        /// Leaves `Poseidon(idCommitment, calls)`: what call proofs are made against.
        Tree calls;
        /// Leaves `Poseidon(idCommitment, 1)`: what exit proofs are made against.
        Tree exits;
    }

    /// @notice The ERC-8004 Identity Registry whose agents sell calls.
    IdentityRegistry public immutable identityRegistry;
    /// @notice The Groth16 verifier of the RLN single circuit (exit proofs).
    RlnVerifier public immutable verifier;
    /// @notice Poseidon with one, two and three inputs.
    IPoseidonT2 public immutable poseidonT2;
    IPoseidonT3 public immutable poseidonT3;
    IPoseidonT4 public immutable poseidonT4;

    /// @notice Pools created so far; pool ids run from 1 to this.
    uint256 public poolCount;
    mapping(uint256 poolId => Pool) private _pools;
    mapping(uint256 poolId => Trees) private _trees;
    /// @notice Each leaf's state in each pool.
    mapping(uint256 poolId => mapping(uint256 leaf => LeafState)) public leafState;
    /// @notice Each exit nullifier's exit in each pool.
    mapping(uint256 poolId => mapping(uint256 nullifier => Exit)) public exits;
    /// @notice The block in which each slash commitment was first made (0: never).
    mapping(bytes32 commitment => uint256 blockNumber) public slashCommitments;

    event PoolCreated(
        uint256 indexed poolId,
        uint256 indexed agentId,
        address payee,
        address token,
        uint256 unitPrice,
        uint32 calls,
        uint256 stake,
        uint64 exitDelay
    );
    /// @notice A deposit: `leaf` and `exitLeaf` went in at `index` of the calls tree and the exit
    /// tree, whose roots became `root` and `exitRoot`.
    event Deposited(
        uint256 indexed poolId, uint256 index, uint256 leaf, uint256 root, uint256 exitLeaf, uint256 exitRoot
    );
    event EarningsWithdrawn(uint256 indexed poolId, address to, uint256 amount);
    event SlashCommitted(bytes32 indexed commitment, uint256 blockNumber);
    event Slashed(uint256 indexed poolId, uint256 leaf, address receiver, uint256 stake);
    event ExitRequested(uint256 indexed poolId, uint256 nullifier, address receiver, uint64 releaseAt);
    /// @notice A slash cancelled a pending exit (its stake went to the slasher).
    event ExitCancelled(uint256 indexed poolId, uint256 nullifier);
    event Exited(uint256 indexed poolId, uint256 nullifier, address receiver, uint256 stake);

    /// @notice `createPool` by someone who does not own the agent.
    error NotAgentOwner(address caller, uint256 agentId);
    /// @notice The token is the zero address or has no code.
    error InvalidToken(address token);
    error ZeroPrice();
    error ZeroStake();
    /// @notice A unit price or stake above `MAX_AMOUNT`.
    error AmountTooLarge();
    /// @notice `calls` is 0 or above `MAX_CALLS`.
    error CallsOutOfRange(uint32 calls);
    /// @notice The exit delay is outside [MIN_EXIT_DELAY, MAX_EXIT_DELAY].
    error ExitDelayOutOfRange(uint64 exitDelay);
    error UnknownPool(uint256 poolId);
    /// @notice An identity commitment of 0 or not below `R`.
    error InvalidIdCommitment(uint256 idCommitment);
    /// @notice The leaf was deposited into this pool before.
    error LeafTaken(uint256 leaf);
    /// @notice The pool's trees hold 2^DEPTH leaves.
    error TreeFull();
    /// @notice The token did not leave exactly the deposit's amount with this contract.
    error DepositCollectionFailed();
    error NotPayee(address caller, address payee);
    error ZeroReceiver();
    error NothingEarned();
    /// @notice No commitment of (poolId, secret, receiver, caller) was made.
    error SlashNotCommitted();
    /// @notice The commitment was made in this block; reveal in a later one.
    error SlashRevealTooEarly();
    /// @notice A secret not below `R`.
    error SecretOutOfRange();
    /// @notice The secret's leaf was never deposited into the pool.
    error NotAMember(uint256 leaf);
    error AlreadySlashed(uint256 leaf);
    /// @notice The member already took its stake back.
    error AlreadyExited(uint256 nullifier);
    /// @notice The pool holds no stake that is neither slashed nor exiting.
    error NoOpenStake(uint256 poolId);
    /// @notice The root is none of the recent roots of the tree it must belong to.
    error UnknownRoot(uint256 root);
    /// @notice An exit with this nullifier was requested before (pending or paid).
    error ExitAlreadyRequested(uint256 nullifier);
    /// @notice The nullifier's member was slashed: it cannot exit.
    error ExitNullifierCancelled(uint256 nullifier);
    error InvalidProof();
    error ExitNotPending(uint256 nullifier);
    /// @notice The exit's delay has not passed.
    error ExitNotReleased(uint64 releaseAt);

    /// @param identityRegistry_ The ERC-8004 Identity Registry.
    /// @param verifier_ The RLN single-circuit verifier.
    /// @param poseidonT2_ A deployed poseidon-solidity `PoseidonT2`.
    /// @param poseidonT3_ A deployed poseidon-solidity `PoseidonT3`.
    /// @param poseidonT4_ A deployed poseidon-solidity `PoseidonT4`.
    constructor(
        IdentityRegistry identityRegistry_,
        RlnVerifier verifier_,
        IPoseidonT2 poseidonT2_,
        IPoseidonT3 poseidonT3_,
        IPoseidonT4 poseidonT4_
    ) {
        identityRegistry = identityRegistry_;
        verifier = verifier_;
        poseidonT2 = poseidonT2_;
        poseidonT3 = poseidonT3_;
        poseidonT4 = poseidonT4_;
    }

    // ---------------------------------------------------------------------------------------
    // Pools
    // ---------------------------------------------------------------------------------------

    /// @notice Opens a pool of `agentId` (only the agent's owner may, and becomes its payee):
    /// each deposit pays `unitPrice * calls + stake` of `token` for `calls` calls.
    /// @param agentId The ERC-8004 agent selling the calls.
    /// @param token The ERC-20 token deposits are paid in.
    /// @param unitPrice The price of one call (1 to `MAX_AMOUNT`).
    /// @param calls Calls per deposit (1 to `MAX_CALLS`).
    /// @param stake What each deposit locks, slashed on a double-spend (1 to `MAX_AMOUNT`).
    /// @param exitDelay Seconds between an exit's request and its payment.
    /// @return poolId The new pool's id (ids start at 1).
    function createPool(
        uint256 agentId,
        address token,
        uint256 unitPrice,
        uint32 calls,
        uint256 stake,
        uint64 exitDelay
    ) external returns (uint256 poolId) {
        if (identityRegistry.ownerOf(agentId) != msg.sender) {
            revert NotAgentOwner(msg.sender, agentId);
        }
        if (token == address(0) || token.code.length == 0) revert InvalidToken(token);
        if (unitPrice == 0) revert ZeroPrice();
        if (stake == 0) revert ZeroStake();
        if (unitPrice > MAX_AMOUNT || stake > MAX_AMOUNT) revert AmountTooLarge();
        if (calls == 0 || calls > MAX_CALLS) revert CallsOutOfRange(calls);
        if (exitDelay < MIN_EXIT_DELAY || exitDelay > MAX_EXIT_DELAY) revert ExitDelayOutOfRange(exitDelay);

        poolId = ++poolCount;
        uint256 rlnIdentifier = uint256(keccak256(abi.encode(block.chainid, address(this), poolId))) % R;
        Pool storage p = _pools[poolId];
        p.agentId = agentId;
        p.payee = msg.sender;
        p.calls = calls;
        p.exitDelay = exitDelay;
        p.token = token;
        p.unitPrice = unitPrice;
        p.price = unitPrice * calls;
        p.stake = stake;
        p.rlnIdentifier = rlnIdentifier;
        p.callScope = poseidonT3.hash([uint256(0), rlnIdentifier]);
        p.exitScope = poseidonT3.hash([uint256(1), rlnIdentifier]);
        Trees storage trees = _trees[poolId];
        trees.calls.roots[0] = EMPTY_ROOT;
        trees.exits.roots[0] = EMPTY_ROOT;
        emit PoolCreated(poolId, agentId, msg.sender, token, unitPrice, calls, stake, exitDelay);
    }

    /// @notice Buys the pool's calls for `idCommitment` (`Poseidon(secret)`): pulls `price + stake`
    /// from the caller (approve it first), adds the leaf `Poseidon(idCommitment, calls)` to the
    /// calls tree and the leaf `Poseidon(idCommitment, 1)` to the exit tree.
    /// @param poolId The pool.
    /// @param idCommitment The member's identity commitment, in (0, R).
    /// @return index The leaves' index in the pool's two trees.
    function deposit(uint256 poolId, uint256 idCommitment) external nonReentrant returns (uint256 index) {
        Pool storage p = _pool(poolId);
        if (idCommitment == 0 || idCommitment >= R) revert InvalidIdCommitment(idCommitment);
        uint256 leaf = poseidonT3.hash([idCommitment, uint256(p.calls)]);
        mapping(uint256 => LeafState) storage states = leafState[poolId];
        if (states[leaf] != LeafState.None) revert LeafTaken(leaf);
        states[leaf] = LeafState.Active;

        uint256 exitLeaf = poseidonT3.hash([idCommitment, uint256(1)]);

        Trees storage trees = _trees[poolId];
        index = trees.size;
        if (index >> DEPTH != 0) revert TreeFull();
        uint256[DEPTH] memory zeros = _zeros();
        uint256 root = _insert(trees.calls, index, leaf, zeros);
        uint256 exitRoot = _insert(trees.exits, index, exitLeaf, zeros);
        trees.size = index + 1;
        uint256 price = p.price;
        p.earned += price;
        p.openStakes += 1;

        uint256 amount = price + p.stake;
        IERC20 token = IERC20(p.token);
        uint256 held = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        if (token.balanceOf(address(this)) != held + amount) revert DepositCollectionFailed();
        emit Deposited(poolId, index, leaf, root, exitLeaf, exitRoot);
    }

    /// @notice Sends everything the pool earned and was not withdrawn to `to`; only the payee.
    /// @param poolId The pool.
    /// @param to Who receives the earnings.
    function withdrawEarnings(uint256 poolId, address to) external nonReentrant {
        Pool storage p = _pool(poolId);
        if (msg.sender != p.payee) revert NotPayee(msg.sender, p.payee);
        if (to == address(0)) revert ZeroReceiver();
        uint256 amount = p.earned;
        if (amount == 0) revert NothingEarned();
        p.earned = 0;
        emit EarningsWithdrawn(poolId, to, amount);
        IERC20(p.token).safeTransfer(to, amount);
    }

    // ---------------------------------------------------------------------------------------
    // Slashing
    // ---------------------------------------------------------------------------------------

    /// @notice Commits to a slash: `commitment = keccak256(abi.encode(poolId, secret, receiver,
    /// slasher))`, where the slasher is who will call `slash`. The first commitment's block
    /// stands; committing it again changes nothing.
    /// @param commitment The commitment.
    function commitSlash(bytes32 commitment) external {
        if (slashCommitments[commitment] != 0) return;
        slashCommitments[commitment] = block.number;
        emit SlashCommitted(commitment, block.number);
    }

    /// @notice Slashes the member whose secret is `secret` (learned from a ticket spent twice):
    /// its stake goes to `receiver` and it can no longer exit; a pending exit of it is
    /// cancelled. Needs the caller's commitment from an earlier block (`commitSlash`).
    /// @param poolId The pool.
    /// @param secret The member's secret, below `R`.
    /// @param receiver Who receives the stake.
    function slash(uint256 poolId, uint256 secret, address receiver) external nonReentrant {
        Pool storage p = _pool(poolId);
        bytes32 commitment = keccak256(abi.encode(poolId, secret, receiver, msg.sender));
        uint256 committedAt = slashCommitments[commitment];
        if (committedAt == 0) revert SlashNotCommitted();
        if (committedAt >= block.number) revert SlashRevealTooEarly();
        if (secret >= R) revert SecretOutOfRange();
        if (receiver == address(0)) revert ZeroReceiver();

        uint256 leaf = poseidonT3.hash([poseidonT2.hash([secret]), uint256(p.calls)]);
        LeafState state = leafState[poolId][leaf];
        if (state == LeafState.None) revert NotAMember(leaf);
        if (state == LeafState.Slashed) revert AlreadySlashed(leaf);

        // The member's one exit nullifier (its exit leaf admits message id 0 only).
        uint256 nullifier = poseidonT2.hash([poseidonT4.hash([secret, p.exitScope, 0])]);
        Exit storage e = exits[poolId][nullifier];
        ExitState exitState = e.state;
        if (exitState == ExitState.Paid) revert AlreadyExited(nullifier);
        if (exitState == ExitState.Pending) {
            // The stake the exit reserved goes to the slasher instead.
            p.pendingExits -= 1;
            emit ExitCancelled(poolId, nullifier);
        } else {
            if (p.openStakes == 0) revert NoOpenStake(poolId);
            p.openStakes -= 1;
        }
        e.state = ExitState.Cancelled;
        leafState[poolId][leaf] = LeafState.Slashed;
        delete slashCommitments[commitment];

        uint256 stake = p.stake;
        emit Slashed(poolId, leaf, receiver, stake);
        IERC20(p.token).safeTransfer(receiver, stake);
    }

    // ---------------------------------------------------------------------------------------
    // Exits
    // ---------------------------------------------------------------------------------------

    /// @notice Requests the exit of an unnamed member: an RLN proof, against one of the recent
    /// roots of the pool's exit tree (leaves `Poseidon(idCommitment, 1)`, so message id 0 is the
    /// only one provable), of the exit ticket in the pool's exit scope, with the signal
    /// `x = keccak256(abi.encode(poolId, receiver)) mod R` (so a copied proof pays no one
    /// else). A root of the calls tree is refused (`UnknownRoot`): there a member could prove
    /// one nullifier per call. Anyone may send it; `completeExit` pays the stake to `receiver`
    /// after the pool's exit delay.
    /// @param poolId The pool.
    /// @param root The exit tree's root the proof was made against.
    /// @param nullifier The exit ticket's nullifier (exactly one per member).
    /// @param y The proof's share of the member's secret.
    /// @param receiver Who receives the stake.
    /// @param proof The Groth16 proof, as `RlnVerifier.verifyProof` takes it.
    function requestExit(
        uint256 poolId,
        uint256 root,
        uint256 nullifier,
        uint256 y,
        address receiver,
        uint256[8] calldata proof
    ) external {
        Pool storage p = _pool(poolId);
        if (receiver == address(0)) revert ZeroReceiver();
        if (!isKnownExitRoot(poolId, root)) revert UnknownRoot(root);
        Exit storage e = exits[poolId][nullifier];
        if (e.state == ExitState.Cancelled) revert ExitNullifierCancelled(nullifier);
        if (e.state != ExitState.None) revert ExitAlreadyRequested(nullifier);
        uint256 x = uint256(keccak256(abi.encode(poolId, receiver))) % R;
        if (!verifier.verifyProof(proof, [y, root, nullifier, x, p.exitScope])) revert InvalidProof();
        if (p.openStakes == 0) revert NoOpenStake(poolId);
        p.openStakes -= 1;
        p.pendingExits += 1;

        uint64 releaseAt = uint64(block.timestamp) + p.exitDelay;
        e.receiver = receiver;
        e.releaseAt = releaseAt;
        e.state = ExitState.Pending;
        emit ExitRequested(poolId, nullifier, receiver, releaseAt);
    }

    /// @notice Pays a pending exit whose delay has passed; anyone may call it.
    /// @param poolId The pool.
    /// @param nullifier The exit's nullifier.
    function completeExit(uint256 poolId, uint256 nullifier) external nonReentrant {
        Exit storage e = exits[poolId][nullifier];
        if (e.state != ExitState.Pending) revert ExitNotPending(nullifier);
        if (block.timestamp < e.releaseAt) revert ExitNotReleased(e.releaseAt);
        Pool storage p = _pools[poolId];
        e.state = ExitState.Paid;
        p.pendingExits -= 1;
        uint256 stake = p.stake;
        address receiver = e.receiver;
        emit Exited(poolId, nullifier, receiver, stake);
        IERC20(p.token).safeTransfer(receiver, stake);
    }

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @notice A pool's terms and books; reverts `UnknownPool` for an id never created.
    /// @param poolId The pool.
    function pool(uint256 poolId) external view returns (Pool memory) {
        return _pool(poolId);
    }

    /// @notice Whether `root` is one of the last `ROOT_HISTORY` roots of the pool's calls tree
    /// (the empty tree's root counts until `ROOT_HISTORY` deposits pushed it out); false for an
    /// unknown pool.
    /// @param poolId The pool.
    /// @param root The root.
    function isKnownRoot(uint256 poolId, uint256 root) public view returns (bool) {
        Trees storage trees = _trees[poolId];
        return _isKnown(trees.calls, trees.size, root);
    }

    /// @notice Whether `root` is one of the last `ROOT_HISTORY` roots of the pool's exit tree
    /// (what `requestExit` accepts); false for an unknown pool.
    /// @param poolId The pool.
    /// @param root The root.
    function isKnownExitRoot(uint256 poolId, uint256 root) public view returns (bool) {
        Trees storage trees = _trees[poolId];
        return _isKnown(trees.exits, trees.size, root);
    }

    /// @notice The recent roots of the pool's calls tree, newest first: at most `ROOT_HISTORY`,
    /// only those set.
    /// @param poolId The pool.
    function recentRoots(uint256 poolId) external view returns (uint256[] memory) {
        _pool(poolId);
        Trees storage trees = _trees[poolId];
        return _recent(trees.calls, trees.size);
    }

    /// @notice The recent roots of the pool's exit tree, newest first: at most `ROOT_HISTORY`,
    /// only those set.
    /// @param poolId The pool.
    function recentExitRoots(uint256 poolId) external view returns (uint256[] memory) {
        _pool(poolId);
        Trees storage trees = _trees[poolId];
        return _recent(trees.exits, trees.size);
    }

    /// @notice The current root of the pool's calls tree.
    /// @param poolId The pool.
    function currentRoot(uint256 poolId) external view returns (uint256) {
        _pool(poolId);
        Trees storage trees = _trees[poolId];
        return trees.calls.roots[trees.size % ROOT_HISTORY];
    }

    /// @notice The current root of the pool's exit tree.
    /// @param poolId The pool.
    function currentExitRoot(uint256 poolId) external view returns (uint256) {
        _pool(poolId);
        Trees storage trees = _trees[poolId];
        return trees.exits.roots[trees.size % ROOT_HISTORY];
    }

    /// @notice The number of leaves in each of the pool's trees (its deposits).
    /// @param poolId The pool.
    function size(uint256 poolId) external view returns (uint256) {
        _pool(poolId);
        return _trees[poolId].size;
    }

    // ---------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------

    function _pool(uint256 poolId) private view returns (Pool storage) {
        if (poolId == 0 || poolId > poolCount) revert UnknownPool(poolId);
        return _pools[poolId];
    }

    /// @dev Sets leaf `index` (the tree's size, checked below 2^DEPTH by the caller) to `leaf`
    /// and records the new root; the caller then counts the leaf. Only one frontier node is
    /// written per insertion: the one at the height of the subtree this leaf completes (the
    /// number of trailing ones of its index), which is the only one a later insertion will read.
    function _insert(Tree storage t, uint256 index, uint256 leaf, uint256[DEPTH] memory zeros)
        private
        returns (uint256 root)
    {
        IPoseidonT3 hasher = poseidonT3;
        uint256 node = leaf;
        bool completing = true;
        for (uint256 level = 0; level < DEPTH; ++level) {
            if ((index >> level) & 1 == 1) {
                node = hasher.hash([t.frontier[level], node]);
            } else {
                if (completing) {
                    t.frontier[level] = node;
                    completing = false;
                }
                node = hasher.hash([node, zeros[level]]);
            }
        }
        root = node;
        t.roots[(index + 1) % ROOT_HISTORY] = root;
    }

    /// @dev Whether `root` is one of the tree's last `ROOT_HISTORY` roots, `size_` being its size.
    function _isKnown(Tree storage t, uint256 size_, uint256 root) private view returns (bool) {
        if (root == 0) return false;
        uint256 count = size_ < ROOT_HISTORY ? size_ + 1 : ROOT_HISTORY;
        for (uint256 i = 0; i < count; ++i) {
            if (t.roots[(size_ - i) % ROOT_HISTORY] == root) return true;
        }
        return false;
    }

    /// @dev The tree's recent roots, newest first, `size_` being its size.
    function _recent(Tree storage t, uint256 size_) private view returns (uint256[] memory roots) {
        uint256 count = size_ < ROOT_HISTORY ? size_ + 1 : ROOT_HISTORY;
        roots = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            roots[i] = t.roots[(size_ - i) % ROOT_HISTORY];
        }
    }

    /// @dev `zeros[0] = 0`, `zeros[i + 1] = Poseidon(zeros[i], zeros[i])`: the roots of empty
    /// subtrees (checked against the deployed Poseidon in the tests).
    function _zeros() private pure returns (uint256[DEPTH] memory) {
        return [
            uint256(0),
            14744269619966411208579211824598458697587494354926760081771325075741142829156,
            7423237065226347324353380772367382631490014989348495481811164164159255474657,
            11286972368698509976183087595462810875513684078608517520839298933882497716792,
            3607627140608796879659380071776844901612302623152076817094415224584923813162,
            19712377064642672829441595136074946683621277828620209496774504837737984048981,
            20775607673010627194014556968476266066927294572720319469184847051418138353016,
            3396914609616007258851405644437304192397291162432396347162513310381425243293,
            21551820661461729022865262380882070649935529853313286572328683688269863701601,
            6573136701248752079028194407151022595060682063033565181951145966236778420039,
            12413880268183407374852357075976609371175688755676981206018884971008854919922,
            14271763308400718165336499097156975241954733520325982997864342600795471836726,
            20066985985293572387227381049700832219069292839614107140851619262827735677018,
            9394776414966240069580838672673694685292165040808226440647796406499139370960,
            11331146992410411304059858900317123658895005918277453009197229807340014528524,
            15819538789928229930262697811477882737253464456578333862691129291651619515538,
            19217088683336594659449020493828377907203207941212636669271704950158751593251,
            21035245323335827719745544373081896983162834604456827698288649288827293579666,
            6939770416153240137322503476966641397417391950902474480970945462551409848591,
            10941962436777715901943463195175331263348098796018438960955633645115732864202
        ];
    }
}
