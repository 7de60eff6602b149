//! The node's web app: one page, served from the binary on the owner's port, with nothing loaded
//! from anywhere else, and the JSON routes it reads and acts through.
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | the page, carrying this start's session token |
//! | `GET /ui/app.js`, `GET /ui/app.css` | its script and style |
//! | `POST /ui/api/receipts/verify` | a receipt checked (signature, request, output), or re-run on the local model |
//! | `GET /ui/api/guard/pending` | the wallet proxy's confirmations waiting for the owner (a page that polls is "open") |
//! | `POST /ui/api/guard/pending/{id}` | `{"approve": bool}`: the owner's answer |
//! | `POST /guard/ask` | for the proxy (`agora guard --confirm`): waits for the page's answer; `409` when no page is open |
//! | `GET /ui/api/guard/history`, `GET /ui/api/guard/lists`, `POST /ui/api/guard/lists` | the checks seen and decided; the owner's address book and lists, and an entry added or removed |
//! | `GET /ui/api/money`, `POST /ui/api/mandates` | earnings per day, the settler's next claims, channels both ways, credits bought, mandates; a mandate written |
//! | `GET /ui/api/feedback` | ERC-8004 feedback given by this node and received by its agent |
//! | `GET /ui/api/markets`, `/ui/api/markets/{id}/history`, `/ui/api/decisions` | markets, a market's prices over time, decisions |
//! | `GET /ui/api/jobs`, `GET /ui/api/funding` | jobs and funding rounds |
//! | `POST /ui/api/funding/{id}/questions`, `…/answers`, `…/reveal` | a juror's pairwise questions (the sample drawn first if it is not yet), its answers committed, then revealed |
//!
//! **Safety.** Everything here sits behind the owner's API rules ([`crate::api::owner_access`]):
//! only loopback `Host`s (DNS rebinding) and the page's own `Origin` (cross-site requests) are
//! served. On top of that, every state-changing route of the page (`POST /ui/api/…`) needs the
//! session token in `x-agora-session`: the token is only in the page itself, which a page on
//! another origin cannot read. The page is sent with a content security policy that allows
//! nothing but this origin and forbids framing.

use crate::{
    NodeConfig,
    api::{ApiError, AppState},
};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// The header that carries the session token on the page's state-changing requests.
pub const SESSION_HEADER: &str = "x-agora-session";
/// What the page is allowed to load and talk to: this origin only; never framed.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// A page polled within this long is open: the proxy asks it rather than the terminal.
const PAGE_OPEN: Duration = Duration::from_secs(5);
/// How long the proxy's question waits for the owner's answer before it is refused (within the
/// proxy's own 120 s wait for the node).
const ASK_TIMEOUT: Duration = Duration::from_secs(110);
/// Checks kept in the page's history.
const HISTORY: usize = 200;

/// The page's state on the node.
#[derive(Debug)]
pub struct UiState {
    session: String,
    confirmations: Confirmations,
    history: Mutex<VecDeque<Value>>,
}

impl Default for UiState {
    fn default() -> Self {
        Self {
            // A fresh random secret (the signer crate draws it from the OS).
            session: alloy::hex::encode(alloy::signers::local::PrivateKeySigner::random().to_bytes()),
            confirmations: Confirmations::default(),
            history: Mutex::new(VecDeque::new()),
        }
    }
}

impl UiState {
    /// The session token of this start (in the page, needed on its state-changing requests).
    pub fn session(&self) -> &str {
        &self.session
    }

    /// Records a check the guard made (newest first, the oldest dropped past [`HISTORY`]).
    pub(crate) fn record(&self, source: &str, decision: &str, verdict: Value) {
        let mut h = self.history.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        h.push_front(json!({ "at_ms": agora_store::now_ms(), "source": source, "decision": decision, "verdict": verdict }));
        h.truncate(HISTORY);
    }
}

#[derive(Debug, Default)]
struct Confirmations {
    next: AtomicU64,
    pending: Mutex<BTreeMap<u64, Pending>>,
    page_seen: Mutex<Option<Instant>>,
}

#[derive(Debug)]
struct Pending {
    asked_ms: i64,
    verdict: Value,
    reply: Option<tokio::sync::oneshot::Sender<bool>>,
}

impl Confirmations {
    fn page_open(&self) -> bool {
        self.page_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|t| t.elapsed() < PAGE_OPEN)
    }

    fn seen(&self) {
        *self.page_seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Pending>> {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Removes a question when its asker goes away (answered, timed out, or hung up).
struct Asked<'a> {
    confirmations: &'a Confirmations,
    id: u64,
}

impl Drop for Asked<'_> {
    fn drop(&mut self) {
        self.confirmations.pending().remove(&self.id);
    }
}

/// The page's routes, merged into the owner's API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/ui/app.js", get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }))
        .route("/ui/app.css", get(|| async { asset("text/css; charset=utf-8", APP_CSS) }))
        .route("/ui/api/receipts/verify", post(verify_receipt))
        .route("/ui/api/guard/pending", get(guard_pending))
        .route("/ui/api/guard/pending/{id}", post(guard_decide))
        .route("/ui/api/guard/history", get(guard_history))
        .route("/ui/api/guard/lists", get(guard_lists).post(guard_list_edit))
        .route("/guard/ask", post(guard_ask))
        .route("/ui/api/money", get(money))
        .route("/ui/api/mandates", post(save_mandate))
        .route("/ui/api/feedback", get(feedback))
        .route("/ui/api/markets", get(markets))
        .route("/ui/api/markets/{id}/history", get(market_history))
        .route("/ui/api/decisions", get(decisions))
        .route("/ui/api/jobs", get(jobs))
        .route("/ui/api/funding", get(funding))
        .route("/ui/api/funding/{id}/questions", post(jury_questions))
        .route("/ui/api/funding/{id}/answers", post(jury_answers))
        .route("/ui/api/funding/{id}/reveal", post(jury_reveal))
}

fn secured(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    secured(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

async fn index(State(state): State<AppState>) -> Response {
    let page = INDEX.replace("{{SESSION}}", state.ui().session());
    secured(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response())
}

/// Refuses a state-changing request without this start's session token.
fn require_session(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let expected = state.ui().session().as_bytes();
    let same = presented.len() == expected.len()
        && presented.bytes().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if same {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            format!("this request changes something: it needs the page's session token in {SESSION_HEADER}"),
        )
        .with_code("forbidden"))
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("expected {expected}: {e}")))
}

fn config(state: &AppState) -> Result<Arc<NodeConfig>, ApiError> {
    state
        .config()
        .cloned()
        .ok_or_else(|| ApiError::unavailable("this node was started without its configuration"))
}

fn no_chain() -> ApiError {
    ApiError::unavailable("no chain: this node runs without one (start it with a chain: agora up)")
}

fn failed(what: &str) -> impl FnOnce(crate::NodeError) -> ApiError + '_ {
    move |e| ApiError::unavailable(format!("{what}: {e}"))
}

#[derive(serde::Deserialize)]
struct VerifyRequest {
    receipt: agora_receipts::ReceiptEnvelope,
    #[serde(default)]
    messages: Option<Vec<agora_infer::ChatMessage>>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    reexecute: bool,
}

/// `POST /ui/api/receipts/verify`: the receipt's signature and hashes; with `messages` and
/// `text`, that it is for that request and that answer; with `reexecute`, the local model re-runs
/// it (at the cost of a prompt pass).
async fn verify_receipt(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    require_session(&state, &headers)?;
    let request: VerifyRequest = parse(&body, "{\"receipt\", \"messages\"?, \"text\"?, \"reexecute\"?}")?;
    let envelope = request.receipt;
    let receipt = &envelope.signed.receipt;
    let base = json!({
        "engine": format!("{} {}", receipt.engine, receipt.engineVersion),
        "model_sha256": receipt.modelSha256,
        "tokens": envelope.output.tokens.len(),
        "node": receipt.node,
    });
    let invalid = |reason: String| {
        let mut v = base.clone();
        v["valid"] = json!(false);
        v["reason"] = json!(reason);
        Json(v)
    };
    let signer = match envelope.verify() {
        Ok(signer) => signer,
        Err(e) => return Ok(invalid(format!("the receipt does not check: {e}"))),
    };
    if let Some(messages) = &request.messages
        && envelope.request.messages != *messages
    {
        return Ok(invalid("the receipt is for another request than this conversation".into()));
    }
    if let Some(text) = &request.text
        && envelope.output.text != *text
    {
        return Ok(invalid("the receipt is for another answer than the one shown".into()));
    }
    let mut v = base;
    v["valid"] = json!(true);
    v["signer"] = json!(signer);
    if request.reexecute {
        let inference =
            state.inference().ok_or_else(|| ApiError::unavailable("no model: nothing to re-run on"))?;
        let engine = inference.shared_engine();
        let run = tokio::task::spawn_blocking(move || agora_receipts::reexecute(&envelope, &engine))
            .await
            .map_err(|e| ApiError::unavailable(format!("the re-run stopped: {e}")))?;
        match run {
            Ok(r) => {
                v["reexecuted"] = json!({ "matches": r.matches(), "first_divergence": r.first_divergence, "ms": r.time.as_millis() as u64 });
                if !r.matches() {
                    v["valid"] = json!(false);
                    v["reason"] = json!(format!(
                        "the local model answers differently from token {}",
                        r.first_divergence.unwrap_or_default()
                    ));
                }
            }
            Err(e) => {
                v["reexecuted"] = json!({ "error": e.to_string() });
            }
        }
    }
    Ok(Json(v))
}

/// `GET /ui/api/guard/pending`: the confirmations waiting. A page that asks with the session
/// token is open: only this node's page counts (a foreign page can make a browser send a plain
/// GET, with an image, but not this header), so no other page can draw the proxy's questions
/// away from the terminal.
async fn guard_pending(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let c = &state.ui().confirmations;
    if require_session(&state, &headers).is_ok() {
        c.seen();
    }
    let pending: Vec<Value> = c
        .pending()
        .iter()
        .map(|(id, p)| json!({ "id": id.to_string(), "asked_ms": p.asked_ms, "verdict": p.verdict }))
        .collect();
    Json(json!({ "pending": pending }))
}

#[derive(serde::Deserialize)]
struct Decision {
    approve: bool,
}

/// `POST /ui/api/guard/pending/{id}`: the owner's answer to one confirmation.
async fn guard_decide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    require_session(&state, &headers)?;
    let decision: Decision = parse(&body, "{\"approve\": true|false}")?;
    let n: u64 = id.parse().map_err(|_| bad_request(format!("{id:?} is not a confirmation id")))?;
    let reply = state.ui().confirmations.pending().get_mut(&n).and_then(|p| p.reply.take());
    let reply = reply.ok_or_else(|| {
        ApiError::not_found(format!("no confirmation {id} is waiting (answered, or its wallet gave up)"))
    })?;
    // The asker may have hung up in between: then nothing is forwarded either way.
    let _ = reply.send(decision.approve);
    Ok(Json(json!({ "id": id, "approved": decision.approve })))
}

#[derive(serde::Deserialize)]
struct Ask {
    verdict: Value,
}

/// `POST /guard/ask`: the wallet proxy's question. Waits for the page's answer (refused after
/// [`ASK_TIMEOUT`]); `409` at once when no page is open, so the proxy asks on its terminal.
async fn guard_ask(State(state): State<AppState>, body: axum::body::Bytes) -> Result<Json<Value>, ApiError> {
    let ask: Ask = parse(&body, "{\"verdict\": …}")?;
    let ui = state.ui();
    let c = &ui.confirmations;
    if !c.page_open() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "no page of this node is open to answer: ask on the terminal",
        )
        .with_code("no_page"));
    }
    let id = c.next.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = tokio::sync::oneshot::channel();
    c.pending().insert(
        id,
        Pending { asked_ms: agora_store::now_ms(), verdict: ask.verdict.clone(), reply: Some(tx) },
    );
    let _asked = Asked { confirmations: c, id };
    let (approved, decision) = match tokio::time::timeout(ASK_TIMEOUT, rx).await {
        Ok(Ok(true)) => (true, "approved"),
        Ok(Ok(false)) | Ok(Err(_)) => (false, "rejected"),
        Err(_) => (false, "timeout"),
    };
    ui.record("proxy", decision, ask.verdict);
    Ok(Json(json!({ "approved": approved, "decision": decision })))
}

/// `GET /ui/api/guard/history`: the checks the node saw, newest first.
async fn guard_history(State(state): State<AppState>) -> Json<Value> {
    let h = state.ui().history.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    Json(json!({ "checks": h.iter().collect::<Vec<_>>() }))
}

/// `GET /ui/api/guard/lists`: the owner's address book, allow- and block-lists.
async fn guard_lists(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let entries = agora_guard::lists::entries(state.store())
        .map_err(|e| ApiError::unavailable(format!("reading the lists: {e}")))?;
    let (mut contacts, mut allowed, mut blocked) = (Vec::new(), Vec::new(), Vec::new());
    for e in entries {
        let row = json!({ "address": e.entry, "name": e.label });
        match e.list {
            agora_guard::lists::ListKind::Contact => contacts.push(row),
            agora_guard::lists::ListKind::Allow => allowed.push(row),
            agora_guard::lists::ListKind::Block => blocked.push(row),
        }
    }
    Ok(Json(json!({ "contacts": contacts, "allowed": allowed, "blocked": blocked })))
}

#[derive(serde::Deserialize)]
struct ListEdit {
    list: String,
    entry: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    remove: bool,
}

/// `POST /ui/api/guard/lists`: adds an entry to a list (`contact`, `allow` or `block`), or
/// removes it (`"remove": true`).
async fn guard_list_edit(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    require_session(&state, &headers)?;
    let edit: ListEdit =
        parse(&body, "{\"list\": \"contact|allow|block\", \"entry\", \"label\"?, \"remove\"?}")?;
    let list = match edit.list.as_str() {
        "contact" => agora_guard::ListKind::Contact,
        "allow" => agora_guard::ListKind::Allow,
        "block" => agora_guard::ListKind::Block,
        other => {
            return Err(bad_request(format!("{other:?} is not a list: contact, allow or block"))
                .with_param(Some("list")));
        }
    };
    let refused = |e: agora_guard::GuardError| bad_request(e.to_string()).with_param(Some("entry"));
    if edit.remove {
        let removed = agora_guard::lists::remove_entry(state.store(), list, &edit.entry).map_err(refused)?;
        return Ok(Json(json!({ "removed": removed })));
    }
    agora_guard::lists::add_entry(state.store(), list, &edit.entry, edit.label.trim()).map_err(refused)?;
    Ok(Json(json!({ "added": true })))
}

/// `GET /ui/api/money`: earnings per day over the last 14 days (zero days included), the
/// channels paying this node, those it pays through, and its mandates.
async fn money(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let config = config(&state)?;
    let store = state.store();
    let now = agora_store::now_ms();
    let from = agora_pay::ledger::day_before(now, 13);
    let mut days: BTreeMap<String, (u128, u64)> =
        (0..14).rev().map(|ago| (agora_pay::ledger::day_before(now, ago), (0, 0))).collect();
    if let Some((chain, _)) = state.chain() {
        for (day, amount, calls) in agora_pay::ledger::earned_by_day(store, chain.chain_id(), &from)
            .map_err(|e| ApiError::unavailable(format!("reading the earnings: {e}")))?
        {
            let d = days.entry(day).or_default();
            d.0 += amount;
            d.1 += calls;
        }
    }
    let by_day: Vec<Value> = days
        .into_iter()
        .map(|(day, (amount, calls))| json!({ "day": day, "amount": amount.to_string(), "calls": calls }))
        .collect();
    let earnings = crate::ops::payments::earnings(&config).map_err(failed("reading the earnings"))?;
    let paying = match state.chain() {
        Some(_) => {
            crate::ops::payments::payer_channels(&config).await.map_err(failed("reading the channels"))?
        }
        None => Vec::new(),
    };
    // The node's own store, open already.
    let unreadable = |e: agora_store::StoreError| ApiError::unavailable(format!("reading the mandates: {e}"));
    let mut mandates = Vec::new();
    for name in agora_pay::Mandate::names(store).map_err(unreadable)? {
        if let Some(m) = agora_pay::Mandate::load(store, &name).map_err(unreadable)? {
            mandates.push(mandate_json(&m, agora_pay::Mandate::spent(store, &name).map_err(unreadable)?));
        }
    }
    // What the settler claims on its next pass: channels with enough unclaimed, or closing.
    let threshold = u128::from(config.payments.claim_threshold);
    let amount_of = |v: &Value, key: &str| v[key].as_str().and_then(|s| s.parse::<u128>().ok()).unwrap_or(0);
    let next_claims: Vec<Value> = earnings
        .channels
        .iter()
        .filter_map(|c| {
            let unclaimed =
                amount_of(c, "chargedCumulativeAmount").saturating_sub(amount_of(c, "totalClaimed"));
            let closing = c["withdrawRequestedAt"].as_u64().unwrap_or(0) != 0;
            (unclaimed > 0).then(|| {
                let when = if closing {
                    "next pass: its payer is closing it"
                } else if unclaimed >= threshold {
                    "next pass: above the claim threshold"
                } else {
                    "once it reaches the claim threshold"
                };
                json!({ "channel": c["channelId"], "unclaimed": unclaimed.to_string(), "when": when })
            })
        })
        .collect();
    // Credits this node bought (never their secrets).
    let credits: Vec<Value> = crate::ops::credits::status(&config)
        .map_err(failed("reading the credits"))?
        .iter()
        .map(|h| {
            json!({
                "id": h.id,
                "provider": h.provider,
                "status": h.status,
                "calls": h.credit.calls,
                "remaining": h.remaining(),
                "exit_at": h.exit_at,
            })
        })
        .collect();
    Ok(Json(json!({
        "by_day": by_day,
        "next_claims": next_claims,
        "claim_threshold": threshold.to_string(),
        "settle_every_secs": config.payments.settle_interval,
        "credits": credits,
        "channels": earnings.channels,
        "exact": earnings.exact,
        "paying": paying,
        "mandates": mandates,
    })))
}

fn mandate_json(m: &agora_pay::Mandate, spent: u128) -> Value {
    json!({
        "name": m.name,
        "budget": m.budget.to_string(),
        "per_call": m.per_call.to_string(),
        "payees": m.payees,
        "expires_at": m.expires_at,
        "spent": spent.to_string(),
    })
}

#[derive(serde::Deserialize)]
struct MandateForm {
    name: String,
    budget: String,
    per_call: String,
    #[serde(default)]
    payees: Vec<String>,
    #[serde(default)]
    expires_in: Option<String>,
}

/// `POST /ui/api/mandates`: writes a mandate, each field checked with a message the page shows.
async fn save_mandate(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    require_session(&state, &headers)?;
    let form: MandateForm = parse(&body, "{\"name\", \"budget\", \"per_call\", \"payees\", \"expires_in\"}")?;
    let mandate = mandate_of(form, agora_store::now_ms() / 1000)?;
    mandate.save(state.store()).map_err(|e| ApiError::unavailable(format!("saving the mandate: {e}")))?;
    let spent = agora_pay::Mandate::spent(state.store(), &mandate.name).unwrap_or(0);
    Ok(Json(json!({ "mandate": mandate_json(&mandate, spent) })))
}

/// A mandate from the page's form; the first thing wrong, in words.
fn mandate_of(form: MandateForm, now_secs: i64) -> Result<agora_pay::Mandate, ApiError> {
    use agora_chain::units::DOLLARS;
    let name = form.name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(bad_request("the name is 1 to 64 letters, digits, - or _").with_param(Some("name")));
    }
    let amount = |field: &'static str, text: &str| -> Result<u128, ApiError> {
        let v = DOLLARS
            .parse(text.trim())
            .map_err(|e| bad_request(format!("{field}: {e}")).with_param(Some(field)))?;
        if v == 0 {
            return Err(bad_request(format!("{field} must be more than 0")).with_param(Some(field)));
        }
        Ok(v)
    };
    let budget = amount("budget", &form.budget)?;
    let per_call = amount("per_call", &form.per_call)?;
    if per_call > budget {
        return Err(bad_request("the per-call cap is above the budget").with_param(Some("per_call")));
    }
    let mut payees = Vec::new();
    for p in form.payees.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        payees.push(p.parse::<alloy::primitives::Address>().map_err(|_| {
            bad_request(format!("{p:?} is not an address (0x and 40 hex digits)")).with_param(Some("payees"))
        })?);
    }
    let expires_at = match form.expires_in.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 0,
        Some(text) => {
            let secs = duration_secs(text).ok_or_else(|| {
                bad_request(format!("expires in {text:?}: write it as 90s, 45m, 2h or 7d"))
                    .with_param(Some("expires_in"))
            })?;
            u64::try_from(now_secs).unwrap_or_default() + secs
        }
    };
    Ok(agora_pay::Mandate { name: name.to_owned(), budget, per_call, payees, expires_at })
}

/// `90s`, `45m`, `2h`, `7d` in seconds.
fn duration_secs(text: &str) -> Option<u64> {
    let (n, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok()?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(scale).filter(|s| *s > 0)
}

/// `GET /ui/api/feedback`: feedback this node gave, and feedback its agent received, as the
/// index holds them.
async fn feedback(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (chain, _) = state.chain().ok_or_else(no_chain)?;
    let store = state.store();
    let read = |e: agora_agents::AgentError| ApiError::unavailable(format!("reading the index: {e}"));
    let given = match state.node_key_address() {
        Some(me) => {
            agora_agents::feedback_rows(store, chain.chain_id(), Some(me), None, 200).map_err(read)?
        }
        None => Vec::new(),
    };
    let received = match state.agent_id() {
        Some(id) => agora_agents::feedback_rows(store, chain.chain_id(), None, Some(&id.to_string()), 200)
            .map_err(read)?,
        None => Vec::new(),
    };
    Ok(Json(json!({ "given": given, "received": received })))
}

fn market_contracts(
    state: &AppState,
) -> Result<(agora_chain::ChainClient, agora_markets::chain::MarketContracts), ApiError> {
    let (chain, deployment) = state.chain().ok_or_else(no_chain)?;
    let c = agora_markets::chain::MarketContracts::of(deployment).ok_or_else(|| {
        ApiError::unavailable("the deployed suite has no market contracts: run agora deploy")
    })?;
    Ok((chain.clone(), c))
}

fn price(x: alloy::primitives::U256) -> f64 {
    u128::try_from(x).unwrap_or(0) as f64 / 1e18
}

/// `GET /ui/api/markets`: every market with its question, prices and state.
async fn markets(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (chain, c) = market_contracts(&state)?;
    let all = agora_markets::chain::list(&chain, c).await.map_err(ApiError::unavailable)?;
    let rows: Vec<Value> = all
        .iter()
        .map(|m| {
            json!({
                "id": m.id.to_string(),
                "text": m.text,
                "outcomes": m.outcomes,
                "prices": m.prices.iter().map(|p| price(*p)).collect::<Vec<_>>(),
                "state": agora_markets::chain::state_name(m.state),
                "outcome": m.outcome,
                "fact": m.fact,
                "liquidity": (u128::try_from(m.b).unwrap_or(0) / 1_000_000_000_000).to_string(),
            })
        })
        .collect();
    Ok(Json(json!({ "markets": rows })))
}

/// `GET /ui/api/markets/{id}/history`: the prices after each trade, from the start.
async fn market_history(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (chain, c) = market_contracts(&state)?;
    let id: alloy::primitives::U256 =
        id.parse().map_err(|_| bad_request(format!("{id:?} is not a market id")))?;
    let points = agora_markets::chain::price_history(&chain, c, id).await.map_err(ApiError::unavailable)?;
    let points: Vec<Value> =
        points.into_iter().map(|p| json!({ "block": p.block, "time": p.time, "prices": p.prices })).collect();
    Ok(Json(json!({ "points": points })))
}

/// `GET /ui/api/decisions`: every decision market proposal and where it stands.
async fn decisions(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (chain, deployment) = state.chain().ok_or_else(no_chain)?;
    let Some(decision) = agora_markets::chain::decision_market(deployment) else {
        return Ok(Json(json!({ "decisions": [] })));
    };
    let views = agora_markets::chain::decisions(chain, decision).await.map_err(ApiError::unavailable)?;
    let rows: Vec<Value> = views
        .iter()
        .map(|d| {
            json!({
                "id": d.id.to_string(),
                "status": match d.status { 1 => "trading", 2 => "passed", 3 => "failed", _ => "unknown" },
                "pass_price": price(d.prices[0]),
                "fail_price": price(d.prices[1]),
                "pass_twap": price(d.twaps[0]),
                "fail_twap": price(d.twaps[1]),
                "threshold_bps": d.threshold_bps.to_string(),
                "end": d.end,
            })
        })
        .collect();
    Ok(Json(json!({ "decisions": rows })))
}

/// `GET /ui/api/jobs`: every job on the chain, newest first.
async fn jobs(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.chain().ok_or_else(no_chain)?;
    let config = config(&state)?;
    let jobs = crate::ops::jobs::list(&config, false).await.map_err(failed("reading the jobs"))?;
    Ok(Json(json!({ "jobs": jobs })))
}

/// `GET /ui/api/funding`: every deep-funding round and where it stands, newest first.
async fn funding(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (chain, deployment) = state.chain().ok_or_else(no_chain)?;
    let config = config(&state)?;
    let count = agora_funding::chain::round_count(chain, deployment).await.map_err(ApiError::unavailable)?;
    let me = state.node_key_address();
    let mut rounds = Vec::new();
    // Round ids start at 1.
    for id in (1..=count).rev() {
        let status = crate::ops::funding::status(&config, alloy::primitives::U256::from(id))
            .await
            .map_err(failed("reading a round"))?;
        rounds.push(json!({
            "id": status.id.to_string(),
            "phase": status.phase,
            "next": status.next,
            "pool": status.pool.to_string(),
            "jurors": status.jurors.len(),
            "is_juror": me.is_some_and(|me| status.jurors.contains(&me)),
            "deadlines": status.deadlines,
            "submissions": status.submissions.1,
        }));
    }
    Ok(Json(json!({ "rounds": rounds })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(budget: &str, per_call: &str, payees: &[&str], expires: Option<&str>) -> MandateForm {
        MandateForm {
            name: "default".into(),
            budget: budget.into(),
            per_call: per_call.into(),
            payees: payees.iter().map(|s| s.to_string()).collect(),
            expires_in: expires.map(str::to_owned),
        }
    }

    #[test]
    fn a_mandate_form_is_checked_field_by_field() {
        let ok =
            mandate_of(form("5", "0.01", &["0x00000000000000000000000000000000000000aa"], Some("2h")), 1000)
                .unwrap();
        assert_eq!(
            (ok.budget, ok.per_call, ok.expires_at, ok.payees.len()),
            (5_000_000, 10_000, 1000 + 7200, 1)
        );
        let message = |f| mandate_of(f, 0).unwrap_err().message().to_owned();
        assert!(message(form("0", "0", &[], None)).contains("budget must be more than 0"));
        assert!(message(form("1", "2", &[], None)).contains("per-call cap is above the budget"));
        assert!(message(form("1", "0.5", &["0x12"], None)).contains("is not an address"));
        assert!(message(form("1", "0.5", &[], Some("soon"))).contains("write it as 90s"));
        assert!(message(form("abc", "0.5", &[], None)).starts_with("budget:"));
        let mut bad = form("1", "0.5", &[], None);
        bad.name = "no spaces".into();
        assert!(message(bad).contains("the name is"));
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration_secs("90s"), Some(90));
        assert_eq!(duration_secs("45m"), Some(2700));
        assert_eq!(duration_secs("7d"), Some(604_800));
        assert_eq!(duration_secs("0h"), None);
        assert_eq!(duration_secs("h"), None);
        assert_eq!(duration_secs("3w"), None);
    }
}

/// A juror's step: the page's session, a chain, and the configuration the operations read.
fn juror(state: &AppState, headers: &HeaderMap) -> Result<Arc<NodeConfig>, ApiError> {
    require_session(state, headers)?;
    state.chain().ok_or_else(no_chain)?;
    config(state)
}

fn round_id(id: &str) -> Result<alloy::primitives::U256, ApiError> {
    id.parse().map_err(|_| bad_request(format!("{id:?} is not a round id")))
}

/// `POST /ui/api/funding/{id}/questions`: the pairwise questions drawn for this node as a juror
/// (a transaction draws the round's sample first when nobody has yet).
async fn jury_questions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let config = juror(&state, &headers)?;
    let asked = crate::ops::funding::jury_questions(&config, round_id(&id)?, None)
        .await
        .map_err(failed("drawing the questions"))?;
    Ok(Json(json!({ "questions": asked })))
}

#[derive(serde::Deserialize)]
struct Answers {
    answers: Vec<agora_funding::jury::JuryAnswer>,
}

/// `POST /ui/api/funding/{id}/answers`: commits this juror's answers (kept to reveal later).
async fn jury_answers(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let config = juror(&state, &headers)?;
    let answers: Answers = parse(
        &body,
        "{\"answers\": [{\"kind\": \"compare\", \"less\", \"more\", \"times_centi\"} | {\"kind\": \"originality\", \"node\", \"percent\"}]}",
    )?;
    for a in &answers.answers {
        match *a {
            agora_funding::jury::JuryAnswer::Compare { times_centi, .. }
                if !(100..=99_900).contains(&times_centi) =>
            {
                return Err(bad_request("a comparison is 1 to 999 times"));
            }
            agora_funding::jury::JuryAnswer::Originality { percent, .. } if !(1..=99).contains(&percent) => {
                return Err(bad_request("originality is 1 to 99 percent"));
            }
            _ => {}
        }
    }
    let n = crate::ops::funding::jury_answer(&config, round_id(&id)?, answers.answers)
        .await
        .map_err(|e| bad_request(format!("the answers were not committed: {e}")))?;
    Ok(Json(json!({ "committed": n })))
}

/// `POST /ui/api/funding/{id}/reveal`: reveals this juror's committed answers.
async fn jury_reveal(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let config = juror(&state, &headers)?;
    let gas = crate::ops::funding::jury_reveal(&config, round_id(&id)?)
        .await
        .map_err(|e| bad_request(format!("the answers were not revealed: {e}")))?;
    Ok(Json(json!({ "revealed": true, "gas": gas })))
}
