//! The node as the simulator: `eth_simulateV1` for the calls and `debug_traceCall` for the
//! frames and storage changes.

use super::*;

fn hex_u64(v: u64) -> String {
    format!("{v:#x}")
}

pub(super) async fn node_simulate(
    provider: &DynProvider,
    env: SimEnv,
    req: &SimRequest,
) -> Result<Vec<CallResult>, GuardError> {
    let payload = simulate_payload(env, req);
    let blocks: Value =
        timed(provider.raw_request("eth_simulateV1".into(), (payload, hex_u64(env.state_block)))).await?;
    let results = blocks.get(0).and_then(|b| b.get("calls")).and_then(Value::as_array).ok_or_else(|| {
        GuardError::UpstreamAnswer {
            what: format!("eth_simulateV1 answered without calls: {blocks}"),
            source: None,
        }
    })?;
    if results.len() != req.calls.len() {
        return Err(GuardError::UpstreamAnswer {
            what: format!("eth_simulateV1 answered {} calls for {}", results.len(), req.calls.len()),
            source: None,
        });
    }
    let mut out = Vec::with_capacity(results.len());
    for (index, r) in results.iter().enumerate() {
        let result = call_result(r)?;
        let success = result.success;
        out.push(result);
        if req.calls[index].trace && success {
            // Both tracers replay the same call: ask for them together.
            let (calls, diff) = tokio::try_join!(
                debug_trace_call(provider, env, req, index, "callTracer", json!({ "withLog": false })),
                debug_trace_call(provider, env, req, index, "prestateTracer", json!({ "diffMode": true })),
            )?;
            out[index].slots = slots_of(&diff);
            let traced = frames_of(&calls);
            let native: Vec<Frame> = out[index].frames.clone();
            // Native transfers come from traceTransfers (they see the state left by earlier calls);
            // the call tracer adds delegatecall and selfdestruct frames.
            // A selfdestruct's transfer is reported by both: keep it once, as the selfdestruct.
            let special: Vec<Frame> = traced.into_iter().filter(|f| f.kind != FrameKind::Call).collect();
            let native = native.into_iter().filter(|n| {
                !special.iter().any(|s| {
                    s.kind == FrameKind::SelfDestruct
                        && s.from == n.from
                        && s.to == n.to
                        && s.value == n.value
                })
            });
            out[index].frames = special.iter().cloned().chain(native).collect();
        }
    }
    Ok(out)
}

/// The `eth_simulateV1` request for `req` in the block `env` describes.
fn simulate_payload(env: SimEnv, req: &SimRequest) -> Value {
    let mut overrides = serde_json::Map::new();
    for (who, code) in &req.code {
        overrides.insert(who.to_string(), json!({ "code": code }));
    }
    for (who, balance) in &req.balances {
        let entry = overrides.entry(who.to_string()).or_insert_with(|| json!({}));
        entry["balance"] = json!(balance);
    }
    let calls: Vec<Value> = req
        .calls
        .iter()
        .map(|c| {
            let mut call = json!({
                "from": c.from, "value": c.value, "input": c.data,
                "gas": hex_u64(CALL_GAS), "gasPrice": format!("{:#x}", env.gas_price),
            });
            if let Some(to) = c.to {
                call["to"] = json!(to);
            }
            call
        })
        .collect();
    json!({
        "blockStateCalls": [{
            "blockOverrides": {
                "number": hex_u64(env.number), "time": hex_u64(env.timestamp),
                "baseFeePerGas": hex_u64(env.basefee), "feeRecipient": env.coinbase,
            },
            "stateOverrides": overrides,
            "calls": calls,
        }],
        "traceTransfers": true,
        "validation": false,
    })
}

/// One call of `eth_simulateV1`'s answer: status, gas, output, logs, and native transfers (the
/// logs `traceTransfers` adds).
fn call_result(r: &Value) -> Result<CallResult, GuardError> {
    let success = r.get("status").and_then(Value::as_str) == Some("0x1");
    let gas_used = r
        .get("gasUsed")
        .and_then(Value::as_str)
        .and_then(|g| u64::from_str_radix(g.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0);
    let output: Bytes =
        r.get("returnData").and_then(|d| serde_json::from_value(d.clone()).ok()).unwrap_or_default();
    let mut logs = Vec::new();
    let mut frames = Vec::new();
    for log in r.get("logs").and_then(Value::as_array).into_iter().flatten() {
        let address: Address = serde_json::from_value(log["address"].clone()).map_err(|e| {
            GuardError::UpstreamAnswer { what: "a log of eth_simulateV1".into(), source: Some(e) }
        })?;
        let topics: Vec<B256> = serde_json::from_value(log["topics"].clone()).map_err(|e| {
            GuardError::UpstreamAnswer { what: "a log of eth_simulateV1".into(), source: Some(e) }
        })?;
        let data: Bytes = serde_json::from_value(log["data"].clone()).unwrap_or_default();
        if address == NATIVE_TRANSFER_LOGGER {
            if topics.len() == 3 {
                frames.push(Frame {
                    kind: FrameKind::Call,
                    from: Address::from_word(topics[1]),
                    to: Address::from_word(topics[2]),
                    value: U256::from_be_slice(&data),
                });
            }
            continue;
        }
        logs.push(AlloyLog { address, data: LogData::new_unchecked(topics, data) });
    }
    if !success {
        logs.clear();
        frames.clear();
    }
    Ok(CallResult { success, output, gas_used, logs, frames, slots: vec![] })
}

async fn timed<T: serde::de::DeserializeOwned>(
    fut: impl std::future::IntoFuture<Output = Result<T, alloy::transports::TransportError>>,
) -> Result<T, GuardError> {
    match tokio::time::timeout(Duration::from_secs(10), fut.into_future()).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(GuardError::upstream("eth_simulateV1", source)),
        Err(_) => {
            Err(GuardError::Timeout { what: "the node's simulation".into(), after: Duration::from_secs(10) })
        }
    }
}

/// `debug_traceCall` of call `index` on its own, with the request's code overrides, under
/// `tracer` with `config`.
async fn debug_trace_call(
    provider: &DynProvider,
    env: SimEnv,
    req: &SimRequest,
    index: usize,
    tracer: &str,
    config: Value,
) -> Result<Value, GuardError> {
    let call = &req.calls[index];
    let mut overrides = serde_json::Map::new();
    for (who, code) in &req.code {
        overrides.insert(who.to_string(), json!({ "code": code }));
    }
    let mut tx =
        json!({ "from": call.from, "value": call.value, "input": call.data, "gas": hex_u64(CALL_GAS) });
    if let Some(to) = call.to {
        tx["to"] = json!(to);
    }
    let options = json!({
        "tracer": tracer,
        "tracerConfig": config,
        "stateOverrides": overrides,
        "blockOverrides": { "number": hex_u64(env.number), "time": hex_u64(env.timestamp), "baseFee": hex_u64(0) },
    });
    timed(provider.raw_request("debug_traceCall".into(), (tx, hex_u64(env.state_block), options))).await
}

/// The delegatecall and selfdestruct frames in a call tracer's tree.
fn frames_of(trace: &Value) -> Vec<Frame> {
    let mut frames = Vec::new();
    collect_frames(trace, &mut frames);
    frames
}

/// The watched storage slots a call changes, from the prestate tracer's diff.
fn slots_of(diff: &Value) -> Vec<(Address, B256, B256)> {
    let storage = |side: &str, address: &str| -> serde_json::Map<String, Value> {
        diff[side][address]["storage"].as_object().cloned().unwrap_or_default()
    };
    let mut out = Vec::new();
    let accounts: std::collections::BTreeSet<String> = ["pre", "post"]
        .iter()
        .flat_map(|side| diff[*side].as_object().into_iter().flat_map(|m| m.keys().cloned()))
        .collect();
    for account in accounts {
        let Ok(address) = account.parse::<Address>() else { continue };
        let (pre, post) = (storage("pre", &account), storage("post", &account));
        for slot in WATCHED_SLOTS {
            let find = |m: &serde_json::Map<String, Value>| {
                m.iter()
                    .find(|(k, _)| k.parse::<B256>().ok() == Some(slot))
                    .and_then(|(_, v)| serde_json::from_value::<B256>(v.clone()).ok())
            };
            let before = find(&pre).unwrap_or_default();
            // A slot cleared to zero is left out of `post` but stays in `pre`.
            let after =
                find(&post).unwrap_or(if find(&pre).is_some() && diff["post"].get(&account).is_some() {
                    B256::ZERO
                } else {
                    before
                });
            if before != after {
                out.push((address, slot, after));
            }
        }
    }
    out.sort();
    out
}

fn collect_frames(node: &Value, out: &mut Vec<Frame>) {
    if node.get("error").is_some() {
        return;
    }
    let addr = |k: &str| {
        node.get(k).and_then(|v| serde_json::from_value::<Address>(v.clone()).ok()).unwrap_or_default()
    };
    let value =
        node.get("value").and_then(|v| serde_json::from_value::<U256>(v.clone()).ok()).unwrap_or_default();
    match node.get("type").and_then(Value::as_str).unwrap_or_default() {
        "DELEGATECALL" | "CALLCODE" => out.push(Frame {
            kind: FrameKind::DelegateCall,
            from: addr("from"),
            to: addr("to"),
            value: U256::ZERO,
        }),
        "SELFDESTRUCT" => {
            out.push(Frame { kind: FrameKind::SelfDestruct, from: addr("from"), to: addr("to"), value })
        }
        _ => {}
    }
    for child in node.get("calls").and_then(Value::as_array).into_iter().flatten() {
        collect_frames(child, out);
    }
}
