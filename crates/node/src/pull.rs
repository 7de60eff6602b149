//! `agora models pull`: a GGUF model downloaded into the data directory's `models/`, resumable,
//! checked against its sha256, and loaded once before it is kept.
//!
//! The download goes to `models/<file>.part`. An interrupted transfer leaves it there, and the
//! next pull of the same reference asks the server for the rest (`Range`); a server that does
//! not honour ranges sends the whole file again. The finished file is checked against the sha256
//! given, or the one a Hugging Face-style hub names (`X-Linked-Etag`, or a 64-hex-digit `ETag`);
//! a mismatch deletes it.

use crate::models::MODELS_DIR;
use agora_infer::{Engine, EngineOptions, ModelInfo};
use reqwest::{StatusCode, header};
use std::{
    io::Write,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// The hub `owner/repo:file` references resolve against unless `AGORA_HF_ENDPOINT` names another.
pub const DEFAULT_HUB: &str = "https://huggingface.co";

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The reference is neither a URL nor `owner/repo:file.gguf`.
    #[error(
        "{0:?} is not a model reference: give an http(s) URL of a .gguf file or owner/repo:file.gguf \
         (for example HuggingFaceTB/SmolLM2-360M-Instruct-GGUF:smollm2-360m-instruct-q8_0.gguf)"
    )]
    Reference(String),
    /// The server could not be reached or the connection failed before any byte came.
    #[error("cannot download {url}: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("{url} answered {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: StatusCode,
    },
    /// The transfer stopped part way; what came is kept.
    #[error(
        "the download stopped after {done} of {total} bytes ({reason}); run the same command again to resume"
    )]
    Interrupted {
        /// Bytes on disk.
        done: u64,
        /// The file's size, or `?`.
        total: String,
        /// What stopped it.
        reason: String,
    },
    /// The file is not the one expected.
    #[error("the download's sha256 is {actual}, not {expected}: the file was deleted")]
    Checksum {
        /// The sha256 expected.
        expected: String,
        /// The download's.
        actual: String,
    },
    /// The file downloaded but the engine cannot run it.
    #[error("the downloaded file is not a model the engine runs ({0}); it was deleted")]
    Unreadable(agora_infer::InferError),
    /// A model of that name is already there.
    #[error("{0} already exists: remove it first (`agora models rm`)")]
    Exists(PathBuf),
    /// The data directory could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSource {
    /// The file's URL.
    pub url: String,
    /// The file name it is stored under in `models/`.
    pub file_name: String,
}

impl PullSource {
    /// A URL of a `.gguf` file, or `owner/repo:file.gguf` on the Hugging Face-style `hub`
    /// (`<hub>/<owner>/<repo>/resolve/main/<file>`).
    pub fn parse(reference: &str, hub: &str) -> Result<Self, PullError> {
        let bad = || PullError::Reference(reference.to_owned());
        let (url, file) = if reference.starts_with("http://") || reference.starts_with("https://") {
            let path = reference.split(['?', '#']).next().unwrap_or_default();
            let file = path.rsplit('/').next().unwrap_or_default();
            (reference.to_owned(), file.to_owned())
        } else {
            let (repo, file) = reference.split_once(':').ok_or_else(bad)?;
            let parts: Vec<&str> = repo.split('/').collect();
            if parts.len() != 2 || parts.iter().any(|p| p.is_empty() || p.starts_with('.')) {
                return Err(bad());
            }
            (format!("{}/{repo}/resolve/main/{file}", hub.trim_end_matches('/')), file.to_owned())
        };
        let safe = file.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !file.ends_with(".gguf") || file.len() <= ".gguf".len() || !safe || file.starts_with('.') {
            return Err(bad());
        }
        Ok(Self { url, file_name: file })
    }
}

/// How far a pull has come, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct PullProgress {
    /// Bytes of the file on disk.
    pub done: u64,
    /// The file's size, when the server said.
    pub total: Option<u64>,
    /// Bytes this run has received.
    pub received: u64,
    /// How long this run has been receiving.
    pub elapsed: Duration,
}

impl PullProgress {
    /// Bytes per second this run.
    pub fn speed(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64().max(1e-3)
    }

    /// The time left at this run's speed.
    pub fn eta(&self) -> Option<Duration> {
        let left = self.total?.saturating_sub(self.done);
        let speed = self.speed();
        (speed > 0.0 && self.received > 0).then(|| Duration::from_secs_f64(left as f64 / speed))
    }
}

/// A model pulled into the data directory.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// What the engine read from it.
    pub info: ModelInfo,
    /// Where it is.
    pub path: PathBuf,
    /// Whether its sha256 was checked against an expected one (given, or named by the hub).
    pub checked: bool,
}

/// Downloads `source` into `data_dir`'s `models/`, resuming a `.part` left by an earlier try,
/// checks its sha256 (`expected`, else the hub's `X-Linked-Etag` when it is one) and that the
/// engine loads it, and returns what was added and where. `progress` is called as bytes arrive.
pub async fn pull(
    data_dir: &Path,
    source: &PullSource,
    expected: Option<&str>,
    mut progress: impl FnMut(&PullProgress),
) -> Result<Pulled, PullError> {
    let dir = data_dir.join(MODELS_DIR);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| PullError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let target = dir.join(&source.file_name);
    if target.exists() {
        return Err(PullError::Exists(target));
    }
    let part = dir.join(format!("{}.part", source.file_name));
    let mut have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);

    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| PullError::Http { url: source.url.clone(), reason: e.to_string() })?;
    let mut request = client.get(&source.url);
    if have > 0 {
        request = request.header(header::RANGE, format!("bytes={have}-"));
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| PullError::Http { url: source.url.clone(), reason: e.to_string() })?;
    let status = response.status();
    let total = match status {
        StatusCode::PARTIAL_CONTENT => content_range_total(&response),
        StatusCode::RANGE_NOT_SATISFIABLE if have > 0 => Some(have),
        s if s.is_success() => {
            // The whole file again: what was there is dropped.
            have = 0;
            response.content_length()
        }
        _ => return Err(PullError::Status { url: source.url.clone(), status }),
    };
    // A hub names a large file's sha256 in `X-Linked-Etag`; the storage it redirects to, in its
    // `ETag` (other servers' tags are not 64 hex digits, and are ignored).
    let hub_sha = ["x-linked-etag", "etag"].iter().find_map(|name| {
        let value = response.headers().get(*name)?.to_str().ok()?;
        let value = value.trim_start_matches("W/").trim_matches('"').to_ascii_lowercase();
        (value.len() == 64 && value.chars().all(|c| c.is_ascii_hexdigit())).then_some(value)
    });
    let expected = expected.map(str::to_ascii_lowercase).or(hub_sha);

    if status != StatusCode::RANGE_NOT_SATISFIABLE {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(have > 0)
            .truncate(have == 0)
            .open(&part)
            .map_err(io(&part))?;
        let started = Instant::now();
        let mut received = 0u64;
        let mut last = Instant::now();
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => {
                    file.flush().map_err(io(&part))?;
                    return Err(PullError::Interrupted {
                        done: have + received,
                        total: total.map_or_else(|| "?".to_owned(), |t| t.to_string()),
                        reason: e.to_string(),
                    });
                }
            };
            file.write_all(&chunk).map_err(io(&part))?;
            received += chunk.len() as u64;
            if last.elapsed() >= Duration::from_millis(250) {
                last = Instant::now();
                progress(&PullProgress {
                    done: have + received,
                    total,
                    received,
                    elapsed: started.elapsed(),
                });
            }
        }
        file.sync_all().map_err(io(&part))?;
        progress(&PullProgress { done: have + received, total, received, elapsed: started.elapsed() });
        if let Some(total) = total
            && have + received < total
        {
            return Err(PullError::Interrupted {
                done: have + received,
                total: total.to_string(),
                reason: "the server closed the connection".to_owned(),
            });
        }
    }

    // Checked before the engine reads it; without an expected sum, loading computes it once.
    let checked = expected.is_some();
    if let Some(expected) = expected {
        let actual = agora_infer::file_sha256(&part).map_err(PullError::Unreadable)?;
        if expected != actual {
            let _ = std::fs::remove_file(&part);
            return Err(PullError::Checksum { expected, actual });
        }
    }
    std::fs::rename(&part, &target).map_err(io(&target))?;
    match Engine::load(&target, &EngineOptions { threads: 1, ..EngineOptions::default() }) {
        Ok(engine) => Ok(Pulled { info: engine.info().clone(), path: target, checked }),
        Err(e) => {
            let _ = std::fs::remove_file(&target);
            Err(PullError::Unreadable(e))
        }
    }
}

/// The total size in a `Content-Range: bytes a-b/total` header.
fn content_range_total(response: &reqwest::Response) -> Option<u64> {
    let value = response.headers().get(header::CONTENT_RANGE)?.to_str().ok()?;
    value.rsplit('/').next()?.parse().ok()
}

/// Removes the model `name` (its file name, with or without `.gguf`) from `data_dir`'s `models/`,
/// with any unfinished download of it. Returns the path removed.
pub fn remove(data_dir: &Path, name: &str) -> Result<PathBuf, PullError> {
    let dir = data_dir.join(MODELS_DIR);
    let file = if name.ends_with(".gguf") { name.to_owned() } else { format!("{name}.gguf") };
    if file.contains('/') || file.contains('\\') || file.starts_with('.') {
        return Err(PullError::Reference(name.to_owned()));
    }
    let target = dir.join(&file);
    let part = dir.join(format!("{file}.part"));
    let _ = std::fs::remove_file(&part);
    std::fs::remove_file(&target).map_err(|source| PullError::Io { path: target.clone(), source })?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_to_urls_and_safe_file_names() {
        let hub = "https://hub.example/";
        let s = PullSource::parse("Owner/Repo-GGUF:model-q8_0.gguf", hub).unwrap();
        assert_eq!(s.url, "https://hub.example/Owner/Repo-GGUF/resolve/main/model-q8_0.gguf");
        assert_eq!(s.file_name, "model-q8_0.gguf");
        let s = PullSource::parse("http://127.0.0.1:9/x/y/m.gguf?download=true", hub).unwrap();
        assert_eq!(
            (s.url.as_str(), s.file_name.as_str()),
            ("http://127.0.0.1:9/x/y/m.gguf?download=true", "m.gguf")
        );
        for bad in [
            "owner/repo",
            "owner:m.gguf",
            "a/b/c:m.gguf",
            "o/r:m.bin",
            "o/r:../m.gguf",
            "https://h/.gguf",
            "o/r:.gguf",
        ] {
            assert!(matches!(PullSource::parse(bad, hub), Err(PullError::Reference(_))), "{bad}");
        }
    }

    #[test]
    fn progress_gives_speed_and_time_left() {
        let p = PullProgress { done: 50, total: Some(150), received: 50, elapsed: Duration::from_secs(5) };
        assert_eq!(p.speed(), 10.0);
        assert_eq!(p.eta(), Some(Duration::from_secs(10)));
        assert_eq!(PullProgress { total: None, ..p }.eta(), None);
    }
}
