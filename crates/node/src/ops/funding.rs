//! Funding rounds as operations (`agora funding …`, `agora qf …`): build a graph from lockfiles,
//! solve it (the baseline or the local model as persona jurors), and take each step of a
//! deep-funding or quadratic-funding round with the node key. What a solver or juror commits is
//! kept in the data directory (`funding/`) until it is revealed; salts are derived from the
//! node key, so nothing secret is stored beside the data.

use crate::{NodeConfig, NodeError, Result};
use agora_chain::ChainClient;
use agora_funding::{
    ai::{self, Judgement},
    chain::{self as funding, FundingContracts, Plan, QfPlan},
    deps::{Builder, prune},
    graph::{Graph, decode_weights, encode_weights},
    jury::{JuryAnswer, JurySheet, Question, question_count, sample},
    qf::QfResult,
    round::{RoundResult, settle},
    solve::baseline,
};
use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

fn fail<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    step: &'static str,
) -> impl FnOnce(E) -> NodeError {
    move |e| NodeError::Funding { step, source: e.into() }
}

fn refused(reason: String) -> NodeError {
    NodeError::Funding { step: "checking the request", source: reason.into() }
}

/// The node key's chain client and the suite's round contracts.
#[derive(Debug, Clone)]
pub struct FundingContext {
    /// Signs with the node key.
    pub chain: ChainClient,
    /// The round contracts.
    pub contracts: FundingContracts,
    key: PrivateKeySigner,
    dir: PathBuf,
}

impl FundingContext {
    /// This node's address.
    pub fn me(&self) -> Address {
        self.key.address()
    }

    fn salt(&self, id: U256, purpose: &str) -> B256 {
        funding::salt(self.key.to_bytes().as_slice(), id, purpose)
    }

    fn kept(&self, id: U256, purpose: &str) -> PathBuf {
        self.dir.join(format!("round-{id}-{purpose}.bin"))
    }

    fn keep(&self, id: U256, purpose: &str, data: &[u8]) -> Result<()> {
        let err = |e: std::io::Error| NodeError::DataDir { dir: self.dir.clone(), reason: e.to_string() };
        std::fs::create_dir_all(&self.dir).map_err(err)?;
        std::fs::write(self.kept(id, purpose), data).map_err(err)
    }

    fn read_kept(&self, id: U256, purpose: &str) -> Result<Vec<u8>> {
        let path = self.kept(id, purpose);
        std::fs::read(&path).map_err(|_| {
            NodeError::Missing(format!(
                "nothing committed for round {id} from this data directory ({})",
                path.display()
            ))
        })
    }
}

/// Connects with the node key and finds the round contracts in the data directory's deployments.
pub async fn context(config: &NodeConfig) -> Result<FundingContext> {
    let jobs = super::jobs::context(config).await?;
    let contracts = FundingContracts::of(&jobs.deployment).ok_or_else(|| {
        NodeError::Missing("the deployed suite has no funding-round contracts: run agora deploy".into())
    })?;
    let key = crate::node_key::load_or_create(&config.data_dir)?;
    Ok(FundingContext { chain: jobs.chain, contracts, key, dir: config.data_dir.join("funding") })
}

/// Where a graph's packages are read from.
#[derive(Debug, Clone, Default)]
pub struct GraphSources {
    /// The graph's name.
    pub name: String,
    /// A `Cargo.lock`.
    pub cargo_lock: Option<PathBuf>,
    /// An npm install folder (its `package.json` names the top packages; its
    /// `node_modules/.package-lock.json` the rest).
    pub npm: Option<PathBuf>,
    /// A folder of installed Python packages (`*.dist-info`), and the packages installed on
    /// purpose (the rest are their requirements).
    pub python: Option<(PathBuf, Vec<String>)>,
    /// Keep this many levels below the root (0: all).
    pub depth: usize,
    /// Keep at most this many dependencies per package (0: all).
    pub max_deps: usize,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| NodeError::Missing(format!("cannot read {}: {e}", path.display())))
}

/// Builds a funding graph from real lockfiles.
pub fn build_graph(sources: &GraphSources) -> Result<Graph> {
    let mut b = Builder::new(&sources.name);
    if let Some(lock) = &sources.cargo_lock {
        b.cargo_lock(&read(lock)?).map_err(fail("reading Cargo.lock"))?;
    }
    if let Some(dir) = &sources.npm {
        let manifest: serde_json::Value =
            serde_json::from_str(&read(&dir.join("package.json"))?).map_err(fail("reading package.json"))?;
        let top: Vec<String> = manifest
            .get("dependencies")
            .and_then(|d| d.as_object())
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default();
        b.npm_lock(&read(&dir.join("node_modules/.package-lock.json"))?, &top)
            .map_err(fail("reading the npm lockfile"))?;
    }
    if let Some((dir, top)) = &sources.python {
        let mut metadata = Vec::new();
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| NodeError::Missing(format!("cannot read {}: {e}", dir.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "dist-info"))
            .collect();
        entries.sort();
        for p in entries {
            if let Ok(text) = std::fs::read_to_string(p.join("METADATA")) {
                metadata.push(text);
            }
        }
        b.python_metadata(&metadata, top);
    }
    let graph = b.build(&sources.name);
    let graph = if sources.depth > 0 || sources.max_deps > 0 {
        let depth = if sources.depth == 0 { usize::MAX } else { sources.depth };
        let max = if sources.max_deps == 0 { usize::MAX } else { sources.max_deps };
        prune(&graph, depth.min(graph.nodes.len()), max)
    } else {
        graph
    };
    graph.validate().map_err(fail("checking the graph"))?;
    Ok(graph)
}

/// A solver's output: the weights it submits and, for the AI solver, every judgement with its
/// receipt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Solution {
    /// The graph's root (`keccak256` of its canonical bytes).
    pub graph_root: B256,
    /// `baseline` or `ai:<model sha256>`.
    pub solver: String,
    /// One weight per edge, parts per billion.
    pub weights: Vec<u32>,
    /// The model's answers (empty for the baseline).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub judgements: Vec<Judgement>,
}

/// The baseline solution.
pub fn solve_baseline(graph: &Graph) -> Solution {
    Solution {
        graph_root: graph.root(),
        solver: "baseline".into(),
        weights: baseline(graph),
        judgements: vec![],
    }
}

/// The AI solution: `questions` questions drawn like a juror's (seeded by this node's address),
/// each asked of `personas` personas on the local model. `progress` sees (done, total).
pub async fn solve_ai(
    config: &NodeConfig,
    graph: &Graph,
    questions: usize,
    personas: usize,
    progress: impl FnMut(usize, usize) + Send + 'static,
) -> Result<Solution> {
    let engine = crate::load_engine(&config.inference).await?.ok_or(NodeError::NoModel)?;
    let key = crate::node_key::load_or_create(&config.data_dir)?;
    let asked =
        sample(graph, alloy::primitives::keccak256(b"agora.funding.solver"), key.address(), questions);
    let owned = graph.clone();
    let solver = format!("ai:{}", engine.info().sha256);
    let now = agora_chain::units::unix_now();
    let (weights, judgements) = tokio::task::spawn_blocking(move || {
        ai::solve(&engine, &key, &owned, &asked, personas, now, progress)
    })
    .await
    .map_err(fail("running the model"))?
    .map_err(fail("solving with the model"))?;
    Ok(Solution { graph_root: graph.root(), solver, weights, judgements })
}

/// The AI solution through the owner's node running on this data directory: each question goes
/// to its OpenAI endpoint as `model`, so `auto` or a remote model's name reaches a provider the
/// node's router pays under the owner's mandate, and a local name the node's own engine. Every
/// answer's receipt is checked against the request sent and the text returned.
pub async fn solve_through_node(
    config: &NodeConfig,
    graph: &Graph,
    model: &str,
    questions: usize,
    personas: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<Solution> {
    let node = super::NodeApi::beside(config)?.ok_or_else(|| {
        NodeError::Missing(
            "no node runs on this data directory: start it (agora up) to ask through it".into(),
        )
    })?;
    let key = crate::node_key::load_or_create(&config.data_dir)?;
    let asked =
        sample(graph, alloy::primitives::keccak256(b"agora.funding.solver"), key.address(), questions);
    let asks = ai::asks(&asked, personas);
    let mut judgements = Vec::with_capacity(asks.len());
    let mut served_by = std::collections::BTreeSet::new();
    for (i, (q, persona, swapped)) in asks.iter().enumerate() {
        let sampling = ai::sampling();
        let body = serde_json::json!({
            "model": model,
            "messages": ai::prompt(graph, *q, persona, *swapped),
            "temperature": sampling.temperature,
            "max_tokens": sampling.max_tokens,
            "seed": sampling.seed,
        });
        let answer: serde_json::Value = node.post("/v1/chat/completions", &body).await?;
        let text = answer["choices"][0]["message"]["content"].as_str().unwrap_or_default();
        let receipt: agora_receipts::ReceiptEnvelope =
            serde_json::from_value(answer["agora_receipt"].clone())
                .map_err(|e| refused(format!("the answer to {model} carries no receipt: {e}")))?;
        served_by.insert(receipt.signed.receipt.modelSha256);
        judgements.push(
            ai::judgement_from(graph, *q, persona, *swapped, text, receipt)
                .map_err(fail("checking an answer"))?,
        );
        progress(i + 1, asks.len());
    }
    let weights = ai::fit(graph, &judgements).map_err(fail("fitting the answers"))?;
    let models: Vec<String> = served_by.iter().map(ToString::to_string).collect();
    Ok(Solution { graph_root: graph.root(), solver: format!("ai:{}", models.join("+")), weights, judgements })
}

/// A round just created.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    /// Its id.
    pub id: U256,
    /// The graph's root.
    pub graph_root: B256,
    /// Gas of the approval, `createRound` and `publishGraph`.
    pub gas: [u64; 3],
}

/// Creates a deep-funding round over `plan.graph`, paying the pool from this node's wallet.
pub async fn create(config: &NodeConfig, plan: &Plan) -> Result<Created> {
    let cx = context(config).await?;
    let (id, gas) =
        funding::create_round(&cx.chain, cx.contracts, plan).await.map_err(fail("creating the round"))?;
    Ok(Created { id, graph_root: plan.graph.root(), gas })
}

/// Where a round stands.
#[derive(Debug, Clone, Serialize)]
pub struct RoundStatus {
    /// The round id.
    pub id: U256,
    /// The phase in words: `submissions open`, `reveals open`, `jury answering`, `jury
    /// revealing`, `scoring`, `result posted`, `result challenged`, `final`.
    pub phase: String,
    /// What happens next, in words.
    pub next: String,
    /// The pool (token units).
    pub pool: u128,
    /// The funder.
    pub funder: Address,
    /// Submissions committed and revealed.
    pub submissions: (u64, u32),
    /// The jurors.
    pub jurors: Vec<Address>,
    /// The sample seed (zero until drawn).
    pub seed: B256,
    /// Deadlines: submissions, reveals, jury commits, jury reveals (unix seconds).
    pub deadlines: [u64; 4],
    /// The posted (or final) result's root, its poster and the end of its challenge window.
    pub result: Option<(B256, Address, u64)>,
    /// When a challenge was decided: the challenger and the council's dispute.
    pub challenge: Option<(Address, U256)>,
    /// The chain's clock.
    pub now: u64,
    /// Whether this node is a juror.
    pub juror: bool,
}

/// Reads a round.
pub async fn status(config: &NodeConfig, id: U256) -> Result<RoundStatus> {
    let cx = context(config).await?;
    let view = funding::round(&cx.chain, cx.contracts, id).await.map_err(fail("reading the round"))?;
    let now = cx.chain.latest_block_timestamp().await?;
    let p = &view.round.params;
    let deadlines = [p.commitDeadline, p.revealDeadline, p.juryCommitDeadline, p.juryRevealDeadline];
    let pay = &view.payout;
    let (phase, next) = match pay.state {
        3 => ("final".to_owned(), "payouts can be claimed: agora funding round claim".to_owned()),
        2 => ("result challenged".into(), format!("the council decides dispute {}", pay.disputeId)),
        1 if now <= pay.challengeEnd => (
            "result posted".into(),
            "open to challenges: agora funding round challenge re-settles it here".into(),
        ),
        1 => ("result posted".into(), "the window is over: agora funding round finalize".into()),
        _ if now <= p.commitDeadline => {
            ("submissions open".into(), "solvers commit: agora funding round submit".into())
        }
        _ if view.round.seed == B256::ZERO => (
            "reveals open".into(),
            "solvers reveal; anyone draws the jury's sample: agora funding round jury".into(),
        ),
        _ if now <= p.juryCommitDeadline => {
            ("jury answering".into(), "jurors answer: agora funding round jury".into())
        }
        _ if now <= p.juryRevealDeadline => {
            ("jury revealing".into(), "jurors reveal: agora funding round jury --reveal".into())
        }
        _ => ("scoring".into(), "anyone settles and posts: agora funding round score --post".into()),
    };
    Ok(RoundStatus {
        id,
        phase,
        next,
        pool: p.pool.try_into().unwrap_or(u128::MAX),
        funder: view.round.funder,
        submissions: (view.submissions, view.round.revealed),
        juror: view.jurors.contains(&cx.me()),
        jurors: view.jurors,
        seed: view.round.seed,
        deadlines,
        result: (pay.state != 0).then_some((pay.root, pay.poster, pay.challengeEnd)),
        challenge: (pay.challenger != Address::ZERO).then_some((pay.challenger, pay.disputeId)),
        now,
    })
}

/// Commits a submission (staking); the weights are kept to reveal later. Returns its index.
pub async fn submit(config: &NodeConfig, id: U256, weights: &[u32]) -> Result<U256> {
    let cx = context(config).await?;
    let input_graph = round_graph(&cx, id).await?;
    input_graph.check_weights(weights).map_err(fail("checking the submission"))?;
    let data = encode_weights(weights);
    let index = funding::commit(&cx.chain, cx.contracts, id, &data, cx.salt(id, "submission"))
        .await
        .map_err(fail("committing the submission"))?;
    cx.keep(id, "submission", &data)?;
    Ok(index)
}

async fn round_graph(cx: &FundingContext, id: U256) -> Result<Graph> {
    use agora_contracts::bindings::DeepFundingRound;
    use alloy::{providers::Provider, rpc::types::Filter, sol_types::SolEvent};
    let view = funding::round(&cx.chain, cx.contracts, id).await.map_err(fail("reading the round"))?;
    let filter = Filter::new()
        .address(cx.contracts.deep)
        .event_signature(DeepFundingRound::GraphPublished::SIGNATURE_HASH)
        .topic1(B256::from(id))
        .from_block(cx.contracts.from_block);
    let logs = cx.chain.provider().get_logs(&filter).await.map_err(fail("reading the graph"))?;
    let bytes = logs
        .iter()
        .filter_map(|l| DeepFundingRound::GraphPublished::decode_log(&l.inner).ok())
        .map(|e| e.data.graph.clone())
        .find(|g| alloy::primitives::keccak256(g) == view.round.params.graphRoot)
        .ok_or_else(|| NodeError::Missing(format!("round {id}: its graph was never published")))?;
    serde_json::from_slice(&bytes).map_err(fail("reading the published graph"))
}

/// The graph a round is over, as published on chain.
pub async fn graph(config: &NodeConfig, id: U256) -> Result<Graph> {
    round_graph(&context(config).await?, id).await
}

/// Reveals this node's submission (its stake comes back).
pub async fn reveal(config: &NodeConfig, id: U256) -> Result<u64> {
    let cx = context(config).await?;
    let data = cx.read_kept(id, "submission")?;
    funding::reveal(&cx.chain, cx.contracts, id, &data, cx.salt(id, "submission"))
        .await
        .map_err(fail("revealing the submission"))
}

/// A question put to a juror, in words.
#[derive(Debug, Clone, Serialize)]
pub struct AskedQuestion {
    /// The question.
    pub question: Question,
    /// In words.
    pub text: String,
}

/// The questions drawn for `juror` (drawing the round's seed first when it is not yet).
pub async fn jury_questions(
    config: &NodeConfig,
    id: U256,
    juror: Option<Address>,
) -> Result<Vec<AskedQuestion>> {
    let cx = context(config).await?;
    let mut view = funding::round(&cx.chain, cx.contracts, id).await.map_err(fail("reading the round"))?;
    if view.round.seed == B256::ZERO {
        funding::draw_sample(&cx.chain, cx.contracts, id).await.map_err(fail("drawing the sample"))?;
        view = funding::round(&cx.chain, cx.contracts, id).await.map_err(fail("reading the round"))?;
    }
    let graph = round_graph(&cx, id).await?;
    let juror = juror.unwrap_or(cx.me());
    let name = |i: u32| graph.nodes.get(i as usize).map_or_else(String::new, |n| n.id.clone());
    let target = |e: u32| graph.edges.get(e as usize).map_or(0, |e| e.target);
    Ok(sample(&graph, view.round.seed, juror, view.round.params.pairsPerJuror as usize)
        .into_iter()
        .map(|question| {
            let text = match question {
                Question::Compare { a, b } => format!(
                    "for {}: {} (edge {a}) or {} (edge {b}): which deserves more, and how many times more?",
                    name(graph.edges[a as usize].source),
                    name(target(a)),
                    name(target(b))
                ),
                Question::Originality { node } => {
                    format!("{} (node {node}): what percentage of its value is its own work?", name(node))
                }
            };
            AskedQuestion { question, text }
        })
        .collect())
}

/// Commits this juror's answers (kept to reveal later).
pub async fn jury_answer(config: &NodeConfig, id: U256, answers: Vec<JuryAnswer>) -> Result<usize> {
    let cx = context(config).await?;
    let asked: Vec<Question> =
        jury_questions(config, id, None).await?.into_iter().map(|q| q.question).collect();
    if let Some(stray) = answers.iter().find(|a| !asked.contains(&a.question())) {
        return Err(refused(format!("{stray:?} answers a question not drawn for this juror")));
    }
    let sheet = JurySheet { answers }.encode();
    funding::jury_commit(&cx.chain, cx.contracts, id, &sheet, cx.salt(id, "jury"))
        .await
        .map_err(fail("committing the answers"))?;
    cx.keep(id, "jury", &sheet)?;
    Ok(asked.len())
}

/// The local model answers this juror's questions as a persona juror (both orders).
pub async fn jury_answer_ai(config: &NodeConfig, id: U256) -> Result<Vec<Judgement>> {
    let questions: Vec<Question> =
        jury_questions(config, id, None).await?.into_iter().map(|q| q.question).collect();
    let graph = graph(config, id).await?;
    let engine = crate::load_engine(&config.inference).await?.ok_or(NodeError::NoModel)?;
    let key = crate::node_key::load_or_create(&config.data_dir)?;
    let now = agora_chain::units::unix_now();
    let judgements = tokio::task::spawn_blocking(move || {
        let persona = &ai::PERSONAS[0];
        questions
            .iter()
            .map(|&q| ai::judge(&engine, &key, &graph, q, persona, false, now))
            .collect::<std::result::Result<Vec<_>, _>>()
    })
    .await
    .map_err(fail("running the model"))?
    .map_err(fail("answering with the model"))?;
    let answers = judgements.iter().filter_map(|j| j.answer).collect();
    jury_answer(config, id, answers).await?;
    Ok(judgements)
}

/// Reveals this juror's answers.
pub async fn jury_reveal(config: &NodeConfig, id: U256) -> Result<u64> {
    let cx = context(config).await?;
    let sheet = cx.read_kept(id, "jury")?;
    funding::jury_reveal(&cx.chain, cx.contracts, id, &sheet, cx.salt(id, "jury"))
        .await
        .map_err(fail("revealing the answers"))
}

/// Settles a round from the chain (fixed point), and posts the result with `post`. `without`
/// leaves a juror's answers out: the leave-one-out what-if that shows how much one juror moves
/// the result (posted, it is a wrong result that any re-settlement contradicts).
pub async fn score(
    config: &NodeConfig,
    id: U256,
    post: bool,
    without: Option<Address>,
) -> Result<RoundResult> {
    let cx = context(config).await?;
    let mut input = funding::input(&cx.chain, cx.contracts, id).await.map_err(fail("reading the round"))?;
    if let Some(juror) = without {
        input.jury.retain(|(who, _)| *who != juror);
    }
    let result = settle(&input).map_err(fail("settling the round"))?;
    if post {
        funding::post_result(&cx.chain, cx.contracts, id, &result)
            .await
            .map_err(fail("posting the result"))?;
    }
    Ok(result)
}

/// What a challenge did.
#[derive(Debug, Clone, Serialize)]
pub struct Challenge {
    /// The posted root.
    pub posted: B256,
    /// The root re-settled here.
    pub here: B256,
    /// The council's dispute, when challenged.
    pub dispute: Option<U256>,
}

/// Re-settles the round here and challenges the posted result if its root differs (or
/// anyway, with `anyway`).
pub async fn challenge(config: &NodeConfig, id: U256, anyway: bool) -> Result<Challenge> {
    let cx = context(config).await?;
    let view = funding::round(&cx.chain, cx.contracts, id).await.map_err(fail("reading the round"))?;
    if view.payout.state != 1 {
        return Err(refused(format!(
            "round {id}: {}, nothing to challenge",
            funding::payout_state(view.payout.state)
        )));
    }
    let input = funding::input(&cx.chain, cx.contracts, id).await.map_err(fail("reading the round"))?;
    let result = settle(&input).map_err(fail("settling the round"))?;
    let dispute = if result.root != view.payout.root || anyway {
        Some(
            funding::challenge(&cx.chain, cx.contracts, id, &result)
                .await
                .map_err(fail("challenging the result"))?,
        )
    } else {
        None
    };
    Ok(Challenge { posted: view.payout.root, here: result.root, dispute })
}

/// Finalizes a round's result after its window.
pub async fn finalize(config: &NodeConfig, id: U256) -> Result<u64> {
    let cx = context(config).await?;
    funding::finalize(&cx.chain, cx.contracts, id).await.map_err(fail("finalizing the result"))
}

/// What a claim paid.
#[derive(Debug, Clone, Serialize)]
pub struct Claimed {
    /// The account paid.
    pub account: Address,
    /// The payouts the final result has for it.
    pub payouts: usize,
    /// Those claimed now: amount and gas of each (the others were claimed before).
    pub claimed: Vec<(u128, u64)>,
}

/// Claims what the final result pays `account` (this node by default).
pub async fn claim(config: &NodeConfig, id: U256, account: Option<Address>) -> Result<Claimed> {
    let cx = context(config).await?;
    let account = account.unwrap_or(cx.me());
    let result =
        funding::final_result(&cx.chain, cx.contracts, id).await.map_err(fail("reading the final result"))?;
    let payouts = result.leaves.iter().filter(|l| l.account == account).count();
    let claimed =
        funding::claim(&cx.chain, cx.contracts, id, &result, account).await.map_err(fail("claiming"))?;
    Ok(Claimed { account, payouts, claimed })
}

/// Reads a submission file: a [`Solution`] (JSON) or the raw committed bytes.
pub fn read_solution(path: &Path) -> Result<Vec<u32>> {
    let bytes = std::fs::read(path)
        .map_err(|e| NodeError::Missing(format!("cannot read {}: {e}", path.display())))?;
    match serde_json::from_slice::<Solution>(&bytes) {
        Ok(s) => Ok(s.weights),
        Err(_) => decode_weights(&bytes).map_err(fail("reading the submission")),
    }
}

/// How many distinct questions a graph offers the jury.
pub fn questions_in(graph: &Graph) -> u64 {
    question_count(graph)
}

/// Creates a quadratic-funding round.
pub async fn qf_create(config: &NodeConfig, plan: &QfPlan) -> Result<U256> {
    let cx = context(config).await?;
    funding::create_qf(&cx.chain, cx.contracts, plan).await.map_err(fail("creating the round"))
}

/// Donates to a project of a quadratic-funding round.
pub async fn qf_donate(config: &NodeConfig, id: U256, project: u32, amount: u128) -> Result<u64> {
    let cx = context(config).await?;
    funding::donate(&cx.chain, cx.contracts, id, project, amount).await.map_err(fail("donating"))
}

/// A quadratic-funding round: its projects, donations so far, the result's state, and the
/// matching as it would settle now.
#[derive(Debug, Clone, Serialize)]
pub struct QfStatus {
    /// The projects' addresses.
    pub projects: Vec<Address>,
    /// Donated per project (token units).
    pub donated: Vec<u128>,
    /// Donors per project.
    pub donors: Vec<usize>,
    /// The matching pool.
    pub pool: u128,
    /// When donations close.
    pub deadline: u64,
    /// The result's state in words.
    pub state: String,
    /// The matching if the round settled now.
    pub matching: QfResult,
    /// The chain's clock.
    pub now: u64,
}

/// Reads a quadratic-funding round.
pub async fn qf_status(config: &NodeConfig, id: U256) -> Result<QfStatus> {
    let cx = context(config).await?;
    let (round, payout) =
        funding::qf_round(&cx.chain, cx.contracts, id).await.map_err(fail("reading the round"))?;
    let donations =
        funding::donations(&cx.chain, cx.contracts, id).await.map_err(fail("reading the donations"))?;
    let mut donated = vec![0u128; round.projects.len()];
    let mut donors: Vec<std::collections::BTreeSet<Address>> = vec![Default::default(); round.projects.len()];
    for d in &donations {
        if let Some(v) = donated.get_mut(d.project) {
            *v += d.amount;
            donors[d.project].insert(d.donor);
        }
    }
    let matching =
        funding::settle_qf(&cx.chain, cx.contracts, id).await.map_err(fail("settling the round"))?;
    Ok(QfStatus {
        projects: round.projects.clone(),
        donated,
        donors: donors.iter().map(|d| d.len()).collect(),
        pool: round.params.matchingPool.try_into().unwrap_or(u128::MAX),
        deadline: round.params.donationDeadline,
        state: funding::payout_state(payout.state).to_owned(),
        matching,
        now: cx.chain.latest_block_timestamp().await?,
    })
}

/// Settles a quadratic-funding round and posts it with `post`.
pub async fn qf_score(config: &NodeConfig, id: U256, post: bool) -> Result<QfResult> {
    let cx = context(config).await?;
    let result = funding::settle_qf(&cx.chain, cx.contracts, id).await.map_err(fail("settling the round"))?;
    if post {
        funding::post_qf(&cx.chain, cx.contracts, id, &result).await.map_err(fail("posting the result"))?;
    }
    Ok(result)
}

/// Re-settles a quadratic-funding round and challenges a posted result whose root differs.
pub async fn qf_challenge(config: &NodeConfig, id: U256) -> Result<Challenge> {
    let cx = context(config).await?;
    let (_, payout) =
        funding::qf_round(&cx.chain, cx.contracts, id).await.map_err(fail("reading the round"))?;
    if payout.state != 1 {
        return Err(refused(format!(
            "round {id}: {}, nothing to challenge",
            funding::payout_state(payout.state)
        )));
    }
    let result = funding::settle_qf(&cx.chain, cx.contracts, id).await.map_err(fail("settling the round"))?;
    let dispute = if result.root != payout.root {
        Some(
            funding::challenge_qf(&cx.chain, cx.contracts, id, &result)
                .await
                .map_err(fail("challenging the result"))?,
        )
    } else {
        None
    };
    Ok(Challenge { posted: payout.root, here: result.root, dispute })
}

/// Finalizes a quadratic-funding result after its window.
pub async fn qf_finalize(config: &NodeConfig, id: U256) -> Result<u64> {
    let cx = context(config).await?;
    funding::finalize_qf(&cx.chain, cx.contracts, id).await.map_err(fail("finalizing the result"))
}

/// Claims what a final quadratic-funding result pays `account` (this node by default).
pub async fn qf_claim(config: &NodeConfig, id: U256, account: Option<Address>) -> Result<Vec<(u128, u64)>> {
    let cx = context(config).await?;
    let (_, payout) =
        funding::qf_round(&cx.chain, cx.contracts, id).await.map_err(fail("reading the round"))?;
    let result = funding::settle_qf(&cx.chain, cx.contracts, id).await.map_err(fail("settling the round"))?;
    if payout.state != 3 || payout.root != result.root {
        return Err(refused(format!(
            "round {id}: {} (root {}); the result recomputed here has root {}",
            funding::payout_state(payout.state),
            payout.root,
            result.root
        )));
    }
    funding::claim_qf(&cx.chain, cx.contracts, id, &result, account.unwrap_or(cx.me()))
        .await
        .map_err(fail("claiming"))
}
