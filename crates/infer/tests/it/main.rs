//! The engine on the real default model (installed by `make setup`): golden token ids,
//! template rendering, determinism across runs, thread counts and kernel implementations.

#![allow(clippy::unwrap_used)] // test helpers panic to fail the test

use agora_infer::{ChatMessage, Engine, EngineOptions, FinishReason, InferError, KernelIsa, SamplingParams};
use std::{ops::ControlFlow, path::PathBuf, sync::OnceLock};

fn model_path() -> PathBuf {
    let path =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    assert!(path.is_file(), "{} is missing: run `make setup`", path.display());
    path
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::load(&model_path(), &EngineOptions { threads: 2, ..Default::default() }).unwrap()
    })
}

const QUESTION: &str = "Explain in one sentence what an ERC-20 approval is.";

/// Token ids of the default chat prompt, from an independent implementation (the Hugging Face
/// `tokenizers` library with SmolLM2's pre-tokenizer, fed the same GGUF vocabulary and merges).
const GOLDEN_CHAT: [u32; 44] = [
    1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182,
    2, 198, 1, 4093, 198, 36971, 281, 582, 6330, 732, 354, 414, 8157, 29, 34, 32, 11175, 314, 30, 2, 198, 1,
    520, 9531, 198,
];

#[test]
fn golden_token_ids() {
    let tok = engine().tokenizer();
    assert_eq!(tok.encode("Hello world"), vec![19556, 905]);
    assert_eq!(
        tok.encode("  leading spaces and 12345 digits, ünïcödé 🚀 emoji"),
        vec![
            216, 2899, 5600, 284, 216, 33, 34, 35, 36, 37, 18638, 28, 5549, 137, 94, 25972, 83, 7466, 84,
            2756, 15107, 244, 218, 649, 33777
        ]
    );
    assert_eq!(tok.encode("tabs\tand\n\nnewlines  "), vec![100, 7366, 197, 397, 198, 198, 2241, 5110, 256]);
    assert_eq!(tok.encode("don't I'll we've"), vec![12420, 982, 339, 3060, 392, 3543]);
}

#[test]
fn default_chat_prompt_includes_the_templates_system_message() {
    let prompt = engine().chat_prompt(&[ChatMessage::new("user", QUESTION)]).unwrap();
    assert_eq!(prompt.len(), 44);
    assert_eq!(prompt, GOLDEN_CHAT);
    let text = engine().tokenizer().decode(&prompt);
    assert!(text.contains("You are a helpful AI assistant named SmolLM"), "{text}");
}

#[test]
fn model_info_describes_the_file() {
    let info = engine().info();
    assert_eq!(info.sha256, "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");
    assert_eq!(info.architecture, "llama");
    assert_eq!(info.quantization, "Q4_1");
    assert_eq!(info.file_size, 98_362_432);
    assert!((130_000_000..140_000_000).contains(&info.parameters), "{}", info.parameters);
    let c = engine().config();
    assert_eq!((c.layers, c.embedding, c.heads, c.kv_heads), (30, 576, 9, 3));
}

fn answer(engine: &Engine, params: &SamplingParams) -> agora_infer::Generation {
    engine.chat(&[ChatMessage::new("user", QUESTION)], params, |_| ControlFlow::Continue(())).unwrap()
}

#[test]
fn greedy_answer_is_fluent_and_stops_at_end_of_turn() {
    let out = answer(engine(), &SamplingParams { max_tokens: 64, ..Default::default() });
    assert_eq!(out.finish_reason, FinishReason::Stop, "{out:?}");
    assert!(out.text.starts_with("An ERC-20 approval is"), "{}", out.text);
    assert_eq!(out.prompt_tokens, 44);
}

#[test]
fn output_is_identical_across_runs_threads_and_kernels() {
    let params =
        SamplingParams { max_tokens: 40, temperature: 0.8, top_p: 0.95, seed: 7, ..Default::default() };
    let reference = answer(engine(), &params);
    assert_eq!(answer(engine(), &params).tokens, reference.tokens, "same engine, second run");

    let one_thread =
        Engine::load(&model_path(), &EngineOptions { threads: 1, ..Default::default() }).unwrap();
    assert_eq!(answer(&one_thread, &params).tokens, reference.tokens, "1 thread vs 2 threads");

    for isa in KernelIsa::available().into_iter().filter(|i| *i != engine().isa()) {
        let other =
            Engine::load(&model_path(), &EngineOptions { threads: 2, isa: Some(isa), ..Default::default() })
                .unwrap();
        assert_eq!(
            answer(&other, &params).tokens,
            reference.tokens,
            "{} vs {} kernels",
            isa.name(),
            engine().isa().name()
        );
    }

    let other_seed = answer(engine(), &SamplingParams { seed: 8, ..params });
    assert_ne!(other_seed.tokens, reference.tokens, "the seed matters");
}

#[test]
fn stop_sequences_max_tokens_and_cancellation() {
    let out = answer(engine(), &SamplingParams { max_tokens: 5, ..Default::default() });
    assert_eq!(out.finish_reason, FinishReason::Length);
    assert_eq!(out.tokens.len(), 5);

    let out = answer(engine(), &SamplingParams { stop: vec!["approval".into()], ..Default::default() });
    assert_eq!(out.finish_reason, FinishReason::Stop);
    assert_eq!(out.text, "An ERC-20 ");

    let mut seen = String::new();
    let out = engine()
        .chat(&[ChatMessage::new("user", QUESTION)], &SamplingParams::default(), |delta| {
            seen.push_str(delta);
            if seen.len() > 10 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .unwrap();
    assert_eq!(out.finish_reason, FinishReason::Cancelled);
    assert!(out.tokens.len() < 10);
}

#[test]
fn bad_requests_are_clear_errors() {
    let e = engine();
    let long = "word ".repeat(9000);
    let err =
        e.chat(&[ChatMessage::new("user", long)], &SamplingParams::default(), |_| ControlFlow::Continue(()));
    assert!(matches!(err, Err(InferError::ContextLength { context: 8192, .. })), "{err:?}");
    let err = e.chat(&[], &SamplingParams::default(), |_| ControlFlow::Continue(())).unwrap_err();
    assert!(err.is_client_error() && err.to_string().contains("messages"), "{err}");
    let err = e
        .chat(
            &[ChatMessage::new("user", "hi")],
            &SamplingParams { temperature: 3.0, ..Default::default() },
            |_| ControlFlow::Continue(()),
        )
        .unwrap_err();
    assert!(err.to_string().contains("temperature"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.gguf");
    std::fs::write(&fake, b"not a gguf file at all").unwrap();
    let err = Engine::load(&fake, &EngineOptions::default()).unwrap_err();
    assert!(err.to_string().contains("not a valid GGUF file"), "{err}");
    let err = Engine::load(&dir.path().join("missing.gguf"), &EngineOptions::default()).unwrap_err();
    assert!(err.to_string().contains("cannot read model"), "{err}");
}

#[test]
fn a_prepared_prompt_is_checked_once_and_runs_like_a_chat() {
    let e = engine();
    let messages = [ChatMessage::new("user", QUESTION)];
    let params = SamplingParams { max_tokens: 8, seed: 5, temperature: 0.7, ..Default::default() };
    let prompt = e.chat_prompt(&messages).unwrap();
    let prepared = e.prepare(prompt.clone(), params.clone()).unwrap();
    assert_eq!(prepared.tokens(), &prompt[..]);
    assert_eq!(prepared.params(), &params);
    let run = e.run(&prepared, |_| ControlFlow::Continue(())).unwrap();
    let chat = e.chat(&messages, &params, |_| ControlFlow::Continue(())).unwrap();
    assert_eq!((run.tokens, run.text, run.prompt_tokens), (chat.tokens, chat.text, chat.prompt_tokens));

    let room = e.info().context_length - prompt.len();
    let too_long = SamplingParams { max_tokens: room + 1, ..params.clone() };
    let err = e.prepare(prompt.clone(), too_long).unwrap_err();
    assert!(matches!(err, InferError::ContextLength { requested, .. } if requested == room + 1), "{err}");
    assert!(e.prepare(prompt.clone(), SamplingParams { max_tokens: room, ..params.clone() }).is_ok());
    let hot = SamplingParams { temperature: 3.0, ..params.clone() };
    assert!(matches!(e.prepare(prompt, hot), Err(InferError::InvalidRequest(_))));
    let outside = vec![u32::MAX];
    assert!(matches!(e.prepare(outside, params), Err(InferError::InvalidRequest(_))));
}

/// Teacher forcing: one batched pass over the claimed output checks it as re-generating would,
/// for a sampled output ended by length and a greedy one ended by end-of-turn, and names the first
/// position of a changed token, of a token after generation ends, and of an end before it does.
#[test]
fn verification_in_one_pass_agrees_with_generation_and_finds_the_first_divergence() {
    let e = engine();
    let story = "Write a long story about a robot who learns to paint.";
    let sampled = SamplingParams {
        max_tokens: 90,
        temperature: 0.9,
        top_p: 0.95,
        top_k: 40,
        repetition_penalty: 1.1,
        seed: 21,
        ..Default::default()
    };
    let greedy = SamplingParams { max_tokens: 64, ..Default::default() };
    let cases = [(story, sampled, FinishReason::Length), (QUESTION, greedy, FinishReason::Stop)];
    for (question, params, finish) in cases {
        let prompt = e.chat_prompt(&[ChatMessage::new("user", question)]).unwrap();
        let prepared = e.prepare(prompt, params.clone()).unwrap();
        let out = e.run(&prepared, |_| ControlFlow::Continue(())).unwrap();
        assert_eq!(out.finish_reason, finish, "{params:?}");
        let n = out.tokens.len();
        if finish == FinishReason::Length {
            assert!(n > 64, "long enough to span two batches: {n}");
        }
        let v = e.verify(&prepared, &out.tokens).unwrap();
        assert_eq!((v.first_divergence, &v.tokens, &v.text), (None, &out.tokens, &out.text), "{params:?}");

        let at = (n / 2).max(1);
        let mut changed = out.tokens.clone();
        changed[at] = (changed[at] + 1) % 49_152;
        let v = e.verify(&prepared, &changed).unwrap();
        assert_eq!(v.first_divergence, Some(at));
        assert_eq!(v.tokens[..], out.tokens[..=at], "the engine's own token at the divergence");

        let v = e.verify(&prepared, &out.tokens[..n - 1]).unwrap();
        assert_eq!(v.first_divergence, Some(n - 1), "stopped early");
        let mut longer = out.tokens.clone();
        longer.push(out.tokens[0]);
        let v = e.verify(&prepared, &longer).unwrap();
        assert_eq!(v.first_divergence, Some(n), "goes on after the end");
    }

    // A prompt longer than one pass: the first logits to check come from its second pass.
    let long = format!(
        "{}Summarise this in one line.",
        "The robot painted the sea, the sky and the hills. ".repeat(24)
    );
    let prompt = e.chat_prompt(&[ChatMessage::new("user", long)]).unwrap();
    assert!(prompt.len() > 256, "{} prompt tokens", prompt.len());
    let prepared = e.prepare(prompt, SamplingParams { max_tokens: 24, ..Default::default() }).unwrap();
    let out = e.run(&prepared, |_| ControlFlow::Continue(())).unwrap();
    let v = e.verify(&prepared, &out.tokens).unwrap();
    assert_eq!((v.first_divergence, &v.tokens), (None, &out.tokens));
    let v = e.verify(&prepared, &[]).unwrap();
    assert_eq!((v.first_divergence, &v.tokens[..]), (Some(0), &out.tokens[..1]), "an empty claim");
}

/// Continuous batching: eight different requests decoded concurrently (in batches of up to
/// eight, joining and leaving as they start and finish) get exactly the tokens each gets alone,
/// on two threads and on one. (The scalar kernels' batches are checked pass by pass on a small
/// model: `gguf::tests::a_batch_of_sequences_gives_each_the_bits_it_gets_alone`.)
#[test]
fn concurrent_generations_are_batched_and_each_gets_the_tokens_it_gets_alone() {
    let questions = [
        QUESTION,
        "What is a blockchain?",
        "Name three colours.",
        "Write a haiku about the sea.",
        "Why is the sky blue?",
        "Count from one to ten.",
        "What is 12 times 12?",
        "Say hello in French.",
    ];
    let requests: Vec<(Vec<ChatMessage>, SamplingParams)> = questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let params = SamplingParams {
                max_tokens: 8 + 2 * i,
                temperature: if i % 2 == 0 { 0.0 } else { 0.8 },
                seed: i as u64,
                ..Default::default()
            };
            (vec![ChatMessage::new("user", *q)], params)
        })
        .collect();
    let alone: Vec<Vec<u32>> = requests.iter().map(|(m, p)| answer_to(engine(), m, p)).collect();
    let isas = KernelIsa::available();
    // The best kernels with 8 neighbours on 2 threads; each other one with 4 on 1 thread.
    let runs = isas.iter().rev().enumerate().map(|(i, isa)| if i == 0 { (2, *isa, 8) } else { (1, *isa, 4) });
    for (threads, isa, n) in runs {
        let e = Engine::load(&model_path(), &EngineOptions { threads, isa: Some(isa), ..Default::default() })
            .unwrap();
        let together: Vec<Vec<u32>> = std::thread::scope(|s| {
            let handles: Vec<_> =
                requests[..n].iter().map(|(m, p)| s.spawn(|| answer_to(&e, m, p))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(together, alone[..n], "{threads} threads, {} kernels", isa.name());
        assert!(e.largest_batch() > 1, "the generations were not batched");
    }
}

fn answer_to(engine: &Engine, messages: &[ChatMessage], params: &SamplingParams) -> Vec<u32> {
    engine.chat(messages, params, |_| ControlFlow::Continue(())).unwrap().tokens
}
