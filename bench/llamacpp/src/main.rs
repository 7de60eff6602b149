//! llama.cpp on the same work as `agora bench infer`: the given prompt token ids, greedy,
//! end-of-turn ignored, flash attention off (it makes logits depend on the thread count).
//!
//! usage: agora-llamacpp-bench MODEL THREADS TOKENS STREAMS ID,ID,...
//! prints one JSON line: {"prompt_tps", "gen_tps"} (1 stream) or {"total_gen_tps"} (N streams)

use llama_cpp_2::{
    context::params::LlamaContextParams, llama_backend::LlamaBackend, llama_batch::LlamaBatch,
    model::LlamaModel, model::params::LlamaModelParams, token::LlamaToken,
};
use std::{num::NonZeroU32, time::Instant};

fn argmax(logits: &[f32]) -> i32 {
    let mut best = 0;
    for (i, l) in logits.iter().enumerate() {
        if *l > logits[best] {
            best = i;
        }
    }
    best as i32
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        return Err("usage: agora-llamacpp-bench MODEL THREADS TOKENS STREAMS ID,ID,...".into());
    }
    let threads: i32 = args[2].parse()?;
    let tokens: usize = args[3].parse()?;
    let streams: usize = args[4].parse()?;
    let prompt: Vec<LlamaToken> =
        args[5].split(',').map(|t| t.parse::<i32>().map(LlamaToken)).collect::<Result<_, _>>()?;

    let mut backend = LlamaBackend::init()?;
    backend.void_logs();
    let model = LlamaModel::load_from_file(&backend, &args[1], &LlamaModelParams::default())?;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(2048))
        .with_n_batch(2048)
        .with_n_ubatch(2048)
        .with_n_seq_max(streams as u32)
        .with_n_threads(threads)
        .with_n_threads_batch(threads)
        .with_flash_attention_policy(llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED);
    let mut ctx = model.new_context(&backend, params)?;
    let mut batch = LlamaBatch::new(2048, streams as i32);

    // Untimed warm-up.
    for (i, t) in prompt.iter().enumerate() {
        batch.add(*t, i as i32, &[0], i + 1 == prompt.len())?;
    }
    ctx.decode(&mut batch)?;
    ctx.clear_kv_cache();
    batch.clear();

    let started = Instant::now();
    for s in 0..streams {
        for (i, t) in prompt.iter().enumerate() {
            batch.add(*t, i as i32, &[s as i32], i + 1 == prompt.len())?;
        }
    }
    ctx.decode(&mut batch)?;
    let prompt_time = started.elapsed();
    let mut last: Vec<i32> = (0..streams).map(|s| ((s + 1) * prompt.len() - 1) as i32).collect();
    let gen_started = Instant::now();
    for step in 0..tokens {
        let next: Vec<LlamaToken> = last.iter().map(|i| LlamaToken(argmax(ctx.get_logits_ith(*i)))).collect();
        if step + 1 == tokens {
            break;
        }
        batch.clear();
        for (s, t) in next.iter().enumerate() {
            batch.add(*t, (prompt.len() + step) as i32, &[s as i32], true)?;
        }
        ctx.decode(&mut batch)?;
        last = (0..streams as i32).collect();
    }
    let gen_time = gen_started.elapsed();
    let result = if streams == 1 {
        serde_json::json!({
            "prompt_tps": prompt.len() as f64 / prompt_time.as_secs_f64(),
            "gen_tps": tokens as f64 / gen_time.as_secs_f64(),
            "peak_rss_mib": peak_rss_mib(),
        })
    } else {
        serde_json::json!({
            "total_gen_tps": (streams * tokens) as f64 / started.elapsed().as_secs_f64(),
            "peak_rss_mib": peak_rss_mib(),
        })
    };
    println!("{result}");
    Ok(())
}
