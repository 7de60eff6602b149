//! `agora models pull` against a local HTTP server that serves the real default GGUF: byte
//! ranges, a transfer cut part way and resumed, the hub's checksum header, a wrong checksum.

use agora_node::pull::{self, PullError, PullSource};
use agora_testkit::default_model;
use std::{
    io::{BufRead, BufReader, Write},
    net::TcpListener,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

const SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// What the server saw: each request's path and `Range` header.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// Serves `body` at every path, honouring `Range: bytes=N-`; the first `cuts` responses stop
/// after `cut_at` bytes of the file and close the connection. Names the file's sha256 in
/// `X-Linked-Etag`, as a Hugging Face-style hub does for large files.
fn serve(body: Arc<Vec<u8>>, cuts: usize, cut_at: usize) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let served = AtomicUsize::new(0);
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
            let mut range = None;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
                if let Some(v) = header.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    range = Some(v.trim().trim_end_matches('-').to_owned());
                }
            }
            log.lock().unwrap().push((path, range.clone()));
            let from: usize = range.as_deref().map_or(0, |r| r.parse().unwrap());
            let status = if from > 0 { "206 Partial Content" } else { "200 OK" };
            let mut head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nX-Linked-Etag: \"{SHA256}\"\r\nConnection: close\r\n",
                body.len() - from
            );
            if from > 0 {
                head += &format!("Content-Range: bytes {from}-{}/{}\r\n", body.len() - 1, body.len());
            }
            head += "\r\n";
            let _ = stream.write_all(head.as_bytes());
            let end =
                if served.fetch_add(1, Ordering::SeqCst) < cuts { cut_at.max(from) } else { body.len() };
            let _ = stream.write_all(&body[from..end]);
            // Dropping the stream closes the connection, early for a cut response.
        }
    });
    (url, seen)
}

#[tokio::test]
async fn a_pull_resumes_an_interrupted_download_and_checks_the_sha256() {
    let body = Arc::new(std::fs::read(default_model()).unwrap());
    let (url, seen) = serve(Arc::clone(&body), 1, 10_000_000);
    let data = tempfile::tempdir().unwrap();
    let source = PullSource::parse("HuggingFaceTB/SmolLM2:SmolLM2-135M-Instruct.Q4_1.gguf", &url).unwrap();

    // The first response stops at 10 MB: the part is kept and the error says how to go on.
    let err = pull::pull(data.path(), &source, None, |_| {}).await.unwrap_err();
    assert!(matches!(err, PullError::Interrupted { done: 10_000_000, .. }), "{err}");
    assert!(err.to_string().contains("run the same command again to resume"), "{err}");
    let part = data.path().join("models/SmolLM2-135M-Instruct.Q4_1.gguf.part");
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 10_000_000);

    // Again: only the rest is asked for, and the whole file checks out against the hub's sha256.
    let mut last = None;
    let pulled = pull::pull(data.path(), &source, None, |p| last = Some(*p)).await.unwrap();
    let (info, target) = (pulled.info, pulled.path);
    assert!(pulled.checked, "the hub's X-Linked-Etag was not used");
    assert_eq!(info.sha256, SHA256);
    assert_eq!(target, data.path().join("models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    assert!(!part.exists());
    let last = last.unwrap();
    assert_eq!((last.done, last.total), (body.len() as u64, Some(body.len() as u64)));
    assert_eq!(last.received, body.len() as u64 - 10_000_000);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], ("/HuggingFaceTB/SmolLM2/resolve/main/SmolLM2-135M-Instruct.Q4_1.gguf".into(), None));
    assert_eq!(seen[1].1.as_deref(), Some("10000000"));
    // The node serves what is in `models/`.
    assert_eq!(agora_node::models::added(data.path()), vec![target.clone()]);

    // Pulling it again is refused until it is removed.
    let err = pull::pull(data.path(), &source, None, |_| {}).await.unwrap_err();
    assert!(matches!(err, PullError::Exists(_)), "{err}");
    assert_eq!(pull::remove(data.path(), "SmolLM2-135M-Instruct.Q4_1").unwrap(), target);
    assert!(pull::remove(data.path(), "SmolLM2-135M-Instruct.Q4_1").is_err());
}

#[tokio::test]
async fn a_wrong_sha256_is_refused_and_nothing_is_kept() {
    let body = Arc::new(std::fs::read(default_model()).unwrap());
    let (url, _) = serve(body, 0, 0);
    let data = tempfile::tempdir().unwrap();
    let source =
        PullSource::parse(&format!("{url}/files/SmolLM2-135M-Instruct.Q4_1.gguf"), "unused").unwrap();
    let wrong = "0".repeat(64);
    let err = pull::pull(data.path(), &source, Some(&wrong), |_| {}).await.unwrap_err();
    match &err {
        PullError::Checksum { expected, actual } => {
            assert_eq!((expected.as_str(), actual.as_str()), (wrong.as_str(), SHA256))
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("the file was deleted"), "{err}");
    let left: Vec<_> = std::fs::read_dir(data.path().join("models")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");

    // A server that is not there is a clear error.
    let gone = PullSource::parse("http://127.0.0.1:9/m.gguf", "unused").unwrap();
    let err = pull::pull(data.path(), &gone, None, |_| {}).await.unwrap_err();
    assert!(matches!(err, PullError::Http { .. }), "{err}");
}
