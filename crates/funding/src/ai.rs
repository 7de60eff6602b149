//! The AI solver: a model answers the jury's kind of questions as a panel of "persona jurors"
//! (the method of the GG24 round's initial weights), every answer carries a signed receipt so
//! anyone can re-run it, and the answers become a submission by [`crate::solve::from_judgements`].
//!
//! Each comparison is asked twice, with A and B swapped: small models favour a position, and
//! the swap cancels that bias in the log-space fit (a model that always answers "A 2" ends up
//! saying "equal"). Greedy decoding makes every answer reproducible from its receipt.

use crate::{
    FundingError,
    graph::Graph,
    jury::{JuryAnswer, MAX_TIMES_CENTI, Question},
    real::Wad,
    solve::from_judgements,
};
use agora_infer::{ChatMessage, Engine, SamplingParams};
use agora_receipts::{CanonicalRequest, ReceiptEnvelope, ReceiptOutput, RequestInput};
use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;

/// A point of view a juror answers from.
#[derive(Clone, Copy, Debug)]
pub struct Persona {
    /// A short name.
    pub name: &'static str,
    /// The system prompt.
    pub view: &'static str,
}

/// The panel, in order; a solve uses the first `n`.
pub const PERSONAS: [Persona; 3] = [
    Persona {
        name: "maintainer",
        view: "You maintain open-source infrastructure. You judge how much a project depends on each of its dependencies: what would break, and how hard it would be to replace.",
    },
    Persona {
        name: "auditor",
        view: "You are a security auditor. You judge dependencies by how much of a project's correctness and safety rests on them.",
    },
    Persona {
        name: "user",
        view: "You build applications with these tools every day. You judge which dependency gives the project the most of what its users rely on.",
    },
];

/// One answer of the model, with what is needed to re-run it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Judgement {
    /// The question.
    pub question: Question,
    /// The persona.
    pub persona: String,
    /// Whether the two options were shown in swapped order.
    pub swapped: bool,
    /// The answer read from the text (`None`: the text named no choice).
    pub answer: Option<JuryAnswer>,
    /// The model's signed receipt (request, output, model hash): re-run it to check.
    pub receipt: ReceiptEnvelope,
}

/// A package id (`crates.io/serde`) in words (`serde (Rust crate)`).
fn describe(id: &str) -> String {
    match id.split_once('/') {
        Some(("crates.io", name)) => format!("{name} (Rust crate)"),
        Some(("npm", name)) => format!("{name} (npm package)"),
        Some(("pypi", name)) => format!("{name} (Python package)"),
        _ => id.to_owned(),
    }
}

/// The messages asking `question` from `persona`'s point of view.
pub fn prompt(graph: &Graph, question: Question, persona: &Persona, swapped: bool) -> Vec<ChatMessage> {
    let node = |i: u32| graph.nodes.get(i as usize).map_or_else(|| format!("#{i}"), |n| describe(&n.id));
    let edge_target = |e: u32| graph.edges.get(e as usize).map_or(0, |e| e.target);
    let user = match question {
        Question::Compare { a, b } => {
            let parent = graph.edges.get(a as usize).map_or(0, |e| e.source);
            let (first, second) = if swapped { (b, a) } else { (a, b) };
            format!(
                "{} depends on A) {} and B) {}. Which of the two deserves more credit for {} working, and how many times more? Answer like \"A 3\" or \"B 1.5\".",
                node(parent),
                node(edge_target(first)),
                node(edge_target(second)),
                node(parent)
            )
        }
        Question::Originality { node: n } => {
            let deps: Vec<String> =
                graph.edges.iter().filter(|e| e.source == n).take(6).map(|e| node(e.target)).collect();
            format!(
                "How much of the value of {} is its own work, rather than the work of its dependencies ({})? Answer with a percentage from 1 to 99.",
                node(n),
                deps.join(", ")
            )
        }
    };
    vec![ChatMessage::new("system", persona.view), ChatMessage::new("user", &user)]
}

/// Reads the model's text as an answer to `question`.
pub fn parse(question: Question, swapped: bool, text: &str) -> Option<JuryAnswer> {
    let number = || -> Option<f64> {
        let start = text.find(|c: char| c.is_ascii_digit())?;
        let digits: String = text[start..].chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        digits.trim_end_matches('.').parse().ok()
    };
    match question {
        Question::Compare { a, b } => {
            // The first standalone A or B.
            let choice = text.split(|c: char| !c.is_ascii_alphanumeric()).find(|w| *w == "A" || *w == "B")?;
            let times = number().unwrap_or(2.0).clamp(1.0, f64::from(MAX_TIMES_CENTI) / 100.0);
            let picked_first = choice == "A";
            // Unswap: the first option shown is `a` unless swapped.
            let a_more = picked_first != swapped;
            let (less, more) = if a_more { (b, a) } else { (a, b) };
            Some(JuryAnswer::Compare { less, more, times_centi: (times * 100.0).round() as u32 })
        }
        Question::Originality { node } => {
            let p = number()?.round().clamp(1.0, 99.0);
            Some(JuryAnswer::Originality { node, percent: p as u8 })
        }
    }
}

/// The solver's sampling: greedy, a few tokens, so every answer is reproducible.
pub fn sampling() -> SamplingParams {
    SamplingParams { temperature: 0.0, max_tokens: 8, seed: 0, ..SamplingParams::default() }
}

/// What the solver asks, in order: each question of each of the first `personas` personas,
/// comparisons in both orders.
pub fn asks(questions: &[Question], personas: usize) -> Vec<(Question, &'static Persona, bool)> {
    let panel = &PERSONAS[..personas.clamp(1, PERSONAS.len())];
    questions
        .iter()
        .flat_map(|&q| {
            let orders: &[bool] =
                if matches!(q, Question::Compare { .. }) { &[false, true] } else { &[false] };
            panel.iter().flat_map(move |p| orders.iter().map(move |&s| (q, p, s)))
        })
        .collect()
}

/// A judgement from an answer another node gave (the owner's node, or a provider it paid): its
/// receipt must be signed, be for exactly the request sent, and carry the text returned.
pub fn judgement_from(
    graph: &Graph,
    question: Question,
    persona: &Persona,
    swapped: bool,
    text: &str,
    receipt: ReceiptEnvelope,
) -> Result<Judgement, FundingError> {
    receipt
        .verify()
        .map_err(|e| FundingError::Model(format!("the answer's receipt does not verify: {e}")))?;
    let sent =
        CanonicalRequest::new(RequestInput::Chat(prompt(graph, question, persona, swapped)), sampling());
    if receipt.request.messages != sent.messages
        || receipt.request.sampling.max_tokens != sent.sampling.max_tokens
    {
        return Err(FundingError::Model("the answer's receipt is for another request".into()));
    }
    if receipt.output.text != text {
        return Err(FundingError::Model("the answer's receipt does not carry the text returned".into()));
    }
    Ok(Judgement {
        question,
        persona: persona.name.to_owned(),
        swapped,
        answer: parse(question, swapped, text),
        receipt,
    })
}

/// Asks the model: greedy, a few tokens.
pub fn judge(
    engine: &Engine,
    signer: &PrivateKeySigner,
    graph: &Graph,
    question: Question,
    persona: &Persona,
    swapped: bool,
    timestamp: u64,
) -> Result<Judgement, FundingError> {
    let messages = prompt(graph, question, persona, swapped);
    let sampling = sampling();
    let generation = engine
        .chat(&messages, &sampling, |_| ControlFlow::Continue(()))
        .map_err(|e| FundingError::Model(e.to_string()))?;
    let answer = parse(question, swapped, &generation.text);
    let output = ReceiptOutput { text: generation.text, tokens: generation.tokens };
    let request = CanonicalRequest::new(RequestInput::Chat(messages), sampling);
    let receipt =
        ReceiptEnvelope::sign(signer, engine, request, output, generation.prompt_tokens, timestamp, None)
            .map_err(|e| FundingError::Model(e.to_string()))?;
    Ok(Judgement { question, persona: persona.name.to_owned(), swapped, answer, receipt })
}

/// The submission the judgements make (least squares in log space over the baseline).
pub fn fit(graph: &Graph, judgements: &[Judgement]) -> Result<Vec<u32>, FundingError> {
    let answers: Vec<JuryAnswer> = judgements.iter().filter_map(|j| j.answer).collect();
    from_judgements::<Wad>(graph, &answers)
}

/// The AI solver on a local engine: asks each question of `personas` personas in both orders
/// (comparisons) and fits the answers into a submission. `progress` sees (done, total) after
/// each answer.
pub fn solve(
    engine: &Engine,
    signer: &PrivateKeySigner,
    graph: &Graph,
    questions: &[Question],
    personas: usize,
    timestamp: u64,
    mut progress: impl FnMut(usize, usize),
) -> Result<(Vec<u32>, Vec<Judgement>), FundingError> {
    let asks = asks(questions, personas);
    let mut judgements = Vec::with_capacity(asks.len());
    for (i, (q, persona, swapped)) in asks.iter().enumerate() {
        judgements.push(judge(engine, signer, graph, *q, persona, *swapped, timestamp)?);
        progress(i + 1, asks.len());
    }
    Ok((fit(graph, &judgements)?, judgements))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_in_the_order_they_were_shown() {
        let q = Question::Compare { a: 3, b: 4 };
        assert_eq!(parse(q, false, "A 3"), Some(JuryAnswer::Compare { less: 4, more: 3, times_centi: 300 }));
        assert_eq!(parse(q, true, "A 3"), Some(JuryAnswer::Compare { less: 3, more: 4, times_centi: 300 }));
        assert_eq!(
            parse(q, false, "B, about 1.5 times."),
            Some(JuryAnswer::Compare { less: 3, more: 4, times_centi: 150 })
        );
        assert_eq!(parse(q, false, "B"), Some(JuryAnswer::Compare { less: 3, more: 4, times_centi: 200 }));
        assert_eq!(
            parse(q, false, "B 5000"),
            Some(JuryAnswer::Compare { less: 3, more: 4, times_centi: 99_900 })
        );
        assert_eq!(parse(q, false, "Both matter."), None);
        let o = Question::Originality { node: 2 };
        assert_eq!(parse(o, false, "About 70%."), Some(JuryAnswer::Originality { node: 2, percent: 70 }));
        assert_eq!(parse(o, false, "100"), Some(JuryAnswer::Originality { node: 2, percent: 99 }));
        assert_eq!(parse(o, false, "none"), None);
    }
}
