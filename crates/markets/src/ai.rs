//! The AI trader's judgement: a model asked for the probability of an event, twice (once for the
//! event, once for its negation), so its own consistency measures its confidence. Every answer
//! carries a signed receipt: anyone can re-run why a trader traded.
//!
//! A forecast `p` and a confidence `c` feed [`crate::trader::order`]: a model that answers 70%
//! for "yes" and 70% for "no" contradicts itself, has confidence 0.6, and bets little.

use agora_infer::{ChatMessage, Engine, SamplingParams};
use agora_receipts::{CanonicalRequest, ReceiptEnvelope, ReceiptOutput, RequestInput};
use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;

/// A model's forecast of one question.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Forecast {
    /// The question.
    pub question: String,
    /// The probability of yes, in [0.01, 0.99] (0.5 when the model gave no number).
    pub probability: f64,
    /// 1 − |p(yes) − (1 − p(no))|: how well its two answers agree (0 when either had no number).
    pub confidence: f64,
    /// The receipts of the two answers (yes-framed, then no-framed).
    pub receipts: Vec<ReceiptEnvelope>,
}

/// The first number in `text` as a probability (a percentage when above 1).
pub fn read_probability(text: &str) -> Option<f64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: String = text[start..].chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let v: f64 = digits.trim_end_matches('.').parse().ok()?;
    let p = if v > 1.0 { v / 100.0 } else { v };
    Some(p.clamp(0.01, 0.99))
}

/// The two questions asked: the event, then its negation.
pub fn prompts(question: &str) -> [Vec<ChatMessage>; 2] {
    let system = "You are a careful forecaster. Answer with one number: a probability from 0 to 100.";
    [
        vec![
            ChatMessage::new("system", system),
            ChatMessage::new("user", format!("What is the probability that the answer is yes? {question}")),
        ],
        vec![
            ChatMessage::new("system", system),
            ChatMessage::new("user", format!("What is the probability that the answer is no? {question}")),
        ],
    ]
}

/// The sampling of a forecast: greedy, a few tokens.
pub fn sampling() -> SamplingParams {
    SamplingParams { temperature: 0.0, max_tokens: 6, seed: 0, ..SamplingParams::default() }
}

/// The forecast from the two answers' texts and receipts.
pub fn combine(question: &str, yes_text: &str, no_text: &str, receipts: Vec<ReceiptEnvelope>) -> Forecast {
    let (p_yes, p_no) = (read_probability(yes_text), read_probability(no_text));
    let (probability, confidence) = match (p_yes, p_no) {
        (Some(y), Some(n)) => (((y + 1.0 - n) / 2.0).clamp(0.01, 0.99), 1.0 - (y - (1.0 - n)).abs()),
        (Some(y), None) => (y, 0.0),
        (None, Some(n)) => (1.0 - n, 0.0),
        (None, None) => (0.5, 0.0),
    };
    Forecast { question: question.to_owned(), probability, confidence, receipts }
}

/// Checks an answer another node gave: its receipt must verify, be for `messages`, and carry
/// `text`.
pub fn check_answer(messages: &[ChatMessage], text: &str, receipt: &ReceiptEnvelope) -> Result<(), String> {
    receipt.verify().map_err(|e| format!("the answer's receipt does not verify: {e}"))?;
    if receipt.request.messages != messages {
        return Err("the answer's receipt is for another request".into());
    }
    if receipt.output.text != text {
        return Err("the answer's receipt does not carry the text returned".into());
    }
    Ok(())
}

/// Asks the local engine for the probability of `question` and of its negation.
pub fn forecast(
    engine: &Engine,
    signer: &PrivateKeySigner,
    question: &str,
    timestamp: u64,
) -> Result<Forecast, String> {
    let mut texts = Vec::new();
    let mut receipts = Vec::new();
    for messages in prompts(question) {
        let generation =
            engine.chat(&messages, &sampling(), |_| ControlFlow::Continue(())).map_err(|e| e.to_string())?;
        texts.push(generation.text.clone());
        let output = ReceiptOutput { text: generation.text, tokens: generation.tokens };
        let request = CanonicalRequest::new(RequestInput::Chat(messages), sampling());
        receipts.push(
            ReceiptEnvelope::sign(signer, engine, request, output, generation.prompt_tokens, timestamp, None)
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(combine(question, &texts[0], &texts[1], receipts))
}

#[cfg(test)]
mod tests {
    use super::read_probability;

    #[test]
    fn probabilities_are_read_as_percentages_or_fractions() {
        assert_eq!(read_probability("70"), Some(0.7));
        assert_eq!(read_probability("About 0.25."), Some(0.25));
        assert_eq!(read_probability("100%"), Some(0.99));
        assert_eq!(read_probability("0"), Some(0.01));
        assert_eq!(read_probability("no idea"), None);
    }
}
