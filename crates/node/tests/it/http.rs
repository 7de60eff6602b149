//! The listeners' limits: slow clients are cut off, connections are capped, and shutdown does not
//! wait on a client that never finishes its request.

use agora_node::listener::{HttpLimits, HttpServer};
use agora_testkit::{TestNet, TestNode};
use axum::{Router, routing::get};
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{Notify, oneshot},
};

/// A server for `app` under `limits` on a free loopback port; stopped by the sender.
async fn serve(
    app: Router,
    limits: HttpLimits,
) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>, Arc<agora_node::listener::ConnectionStats>)
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(listener, app, limits);
    let stats = server.stats();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));
    (addr, stop, task, stats)
}

fn health_app() -> Router {
    Router::new().route("/health", get(|| async { "ok" }))
}

/// A client that sends its headers one byte at a time is disconnected once the header deadline
/// passes, long before it would have finished.
#[tokio::test]
async fn a_trickling_client_is_cut_off_after_the_header_timeout() {
    let limits = HttpLimits { header_read_timeout: Duration::from_secs(1), ..HttpLimits::default() };
    let (addr, _stop, _task, _) = serve(health_app(), limits).await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let closed = tokio::spawn(async move {
        let mut seen = Vec::new();
        let _ = read.read_to_end(&mut seen).await;
        seen
    });
    // 60 bytes at one byte per 200 ms: 12 s to send the headers whole.
    let request = format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: {}\r\n\r\n", "a".repeat(24));
    let mut sent = 0;
    for byte in request.as_bytes() {
        if closed.is_finished() || write.write_all(&[*byte]).await.is_err() {
            break;
        }
        sent += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(sent < request.len(), "the server waited for all {sent} bytes of a trickled header");
    let answer = closed.await.unwrap();
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"), "the trickled request was served");
}

/// With connections capped at 4 and 12 clients holding half-sent requests, the server serves at
/// most 4 at once, cuts the slow ones off at the header deadline, and still answers `/health`.
#[tokio::test]
async fn health_answers_while_slow_connections_are_open() {
    let limits = HttpLimits {
        header_read_timeout: Duration::from_secs(1),
        max_connections: 4,
        ..HttpLimits::default()
    };
    let (addr, _stop, _task, stats) = serve(health_app(), limits).await;
    let mut slow = Vec::new();
    for _ in 0..12 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
        slow.push(stream);
    }
    let client = reqwest::Client::builder().timeout(Duration::from_secs(25)).build().unwrap();
    let response = client.get(format!("http://{addr}/health")).send().await.expect("/health answered");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
    assert!(stats.peak() <= 4, "served {} connections at once, above the cap of 4", stats.peak());
    // Every slow client was disconnected, not left hanging.
    for mut stream in slow {
        let mut seen = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut seen)).await;
        assert!(read.is_ok(), "a slow client is still connected");
    }
}

/// A request in flight when shutdown starts is finished; one whose body never arrives does not
/// hold the server past its grace period.
#[tokio::test]
async fn shutdown_finishes_requests_in_flight_and_does_not_wait_for_half_sent_ones() {
    let release = Arc::new(Notify::new());
    let entered = Arc::new(Notify::new());
    let app = {
        let (release, entered) = (Arc::clone(&release), Arc::clone(&entered));
        Router::new().route("/echo", axum::routing::post(|body: String| async move { body })).route(
            "/slow",
            get(move || {
                let (release, entered) = (Arc::clone(&release), Arc::clone(&entered));
                async move {
                    entered.notify_one();
                    release.notified().await;
                    "done"
                }
            }),
        )
    };
    let limits = HttpLimits {
        header_read_timeout: Duration::from_secs(300),
        body_read_timeout: Duration::from_secs(300),
        shutdown_grace: Duration::from_secs(2),
        ..HttpLimits::default()
    };
    let (addr, stop, task, _) = serve(app, limits).await;

    let in_flight = tokio::spawn(reqwest::get(format!("http://{addr}/slow")));
    entered.notified().await;
    let mut half_sent = TcpStream::connect(addr).await.unwrap();
    half_sent
        .write_all(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":")
        .await
        .unwrap();
    // Let the server take the half-sent connection before shutdown starts.
    tokio::time::sleep(Duration::from_millis(200)).await;

    stop.send(()).unwrap();
    release.notify_one();
    let response = in_flight.await.unwrap().expect("the request in flight was answered");
    assert_eq!(response.text().await.unwrap(), "done");
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("shutdown waited on a half-sent request")
        .unwrap();
    drop(half_sent);
}

/// The node itself: a client that sent half a request does not keep it from stopping.
#[tokio::test]
async fn a_half_sent_request_does_not_hold_the_node_after_it_is_told_to_stop() {
    let net = TestNet::start().await;
    let node = TestNode::start(&net).await;
    let mut half_sent = TcpStream::connect(node.api_addr()).await.unwrap();
    half_sent
        .write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\":")
        .await
        .unwrap();
    let mut trickle = TcpStream::connect(node.api_addr()).await.unwrap();
    trickle.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
    let (status, _) = super::get(&node.url("/health")).await;
    assert_eq!(status, 200, "the node serves others meanwhile");
    tokio::time::timeout(Duration::from_secs(25), node.stop())
        .await
        .expect("the node waited on a half-sent request after being told to stop")
        .unwrap();
    drop((half_sent, trickle));
}
