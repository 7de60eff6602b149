//! JSON-RPC to anvil before a provider exists: readiness probes and clock calls.

use crate::error::{BoxError, context};
use std::{net::SocketAddr, time::Duration};

/// Whether something answers `eth_chainId` at `addr`.
pub(super) async fn rpc_answers(addr: SocketAddr) -> bool {
    rpc_call(addr, "eth_chainId", serde_json::json!([])).await.is_ok()
}

/// One JSON-RPC call over a plain HTTP/1.1 connection (before a provider exists), with a
/// one-second deadline. Returns the `result`, or why there is none.
pub(super) async fn rpc_call(
    addr: SocketAddr,
    method: &str,
    params: serde_json::Value,
) -> std::result::Result<serde_json::Value, BoxError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        let start = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no HTTP body")? + 4;
        let mut answer: serde_json::Value =
            serde_json::from_slice(&response[start..]).map_err(|e| context("not JSON", e))?;
        match answer.get_mut("result") {
            Some(result) => Ok(result.take()),
            None => {
                Err(answer.get("error").map_or_else(|| "no result".to_owned(), ToString::to_string).into())
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(1), attempt)
        .await
        .map_err(|_| BoxError::from("no answer within 1s"))?
}
