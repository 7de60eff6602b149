//! The models a node serves: the default one, loaded at start, and more (`[inference] models`,
//! and the files `agora models add` put in the data directory's `models/`), each loaded the
//! first time a request names it. The loaded models' weights stay within a memory budget: to
//! load one more, the least recently used other models are unloaded first (generations already
//! running on them finish). A running node follows the data directory's `models/`: a model
//! added there (`agora models add`, `agora models pull`) is served at once, one removed (`agora
//! models rm`) is no longer.

use crate::{config::InferenceConfig, inference::InferenceService};
use agora_infer::{Engine, EngineOptions, ModelInfo};
use alloy::signers::local::PrivateKeySigner;
use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

/// The data directory's folder of added models.
pub const MODELS_DIR: &str = "models";

/// Why a model cannot serve a request.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// No model has that id.
    #[error("the model {name:?} does not exist; this node serves {served:?} (see GET /v1/models)")]
    Unknown {
        /// The id asked for.
        name: String,
        /// The ids served.
        served: Vec<String>,
    },
    /// Loading it would exceed the memory budget even with every other model unloaded.
    #[error(
        "the model {name:?} needs {needed_mib} MiB but the memory budget leaves {free_mib} MiB beside the default model; raise [inference] memory_budget_mib"
    )]
    OverBudget {
        /// The id.
        name: String,
        /// Its size.
        needed_mib: u64,
        /// What the budget leaves.
        free_mib: u64,
    },
    /// The file could not be loaded.
    #[error("the model {name:?} cannot be loaded: {source}")]
    Load {
        /// The id.
        name: String,
        /// Why.
        #[source]
        source: agora_infer::InferError,
    },
}

/// A model other than the default: where it is, what it is, and its service while loaded.
#[derive(Debug)]
struct Slot {
    info: ModelInfo,
    path: PathBuf,
    loaded: Option<(InferenceService, Instant)>,
    /// Found in the followed `models/` folder (and dropped when its file goes).
    followed: bool,
}

/// Every model a node serves.
#[derive(Debug)]
pub struct ModelSet {
    default: InferenceService,
    others: tokio::sync::Mutex<Vec<Slot>>,
    /// The default model's id and description.
    default_info: ModelInfo,
    /// The default model's file.
    default_path: Option<PathBuf>,
    /// The data directory whose `models/` is followed while the node runs.
    follow: Option<PathBuf>,
    options: EngineOptions,
    signer: Option<PrivateKeySigner>,
    queue: usize,
    batch: usize,
    log_prompts: bool,
    budget: u64,
}

/// The GGUF files `agora models add` put in `data_dir`'s `models/`.
pub fn added(data_dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir.join(MODELS_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "gguf"))
        .collect();
    files.sort();
    files
}

/// Half the machine's memory (4 GiB where it cannot be read).
pub fn default_budget() -> u64 {
    let total_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    });
    total_kib.map_or(4 << 30, |kib| kib * 1024 / 2)
}

/// What a model's weights take in memory, at most, by its file: Q4_0, Q4_1 and Q8_0 keep their
/// size; K-quants are unpacked with f32 scales (at most half as much again).
fn footprint(info: &ModelInfo) -> u64 {
    info.file_size + info.file_size / 2
}

impl ModelSet {
    /// The default model's `service`, and the other models of `config`, checked (each file must
    /// be a GGUF model the engine reads; ids must be distinct) but not loaded; `follow`: the
    /// data directory whose added models (`models/`) are followed while serving.
    pub fn new(
        service: InferenceService,
        config: &InferenceConfig,
        signer: Option<PrivateKeySigner>,
        follow: Option<PathBuf>,
    ) -> crate::Result<Self> {
        let default_info = service.engine().info().clone();
        let mut infos = vec![default_info.clone()];
        let mut others = Vec::new();
        for path in &config.models {
            if config.model.as_ref().is_some_and(|m| same_file(m, path)) {
                continue;
            }
            let info = agora_infer::inspect(path)
                .map_err(|source| crate::NodeError::ModelUnreadable { path: path.clone(), source })?;
            if infos.iter().any(|i: &ModelInfo| i.id == info.id) {
                if infos.iter().any(|i| i.sha256 == info.sha256) {
                    continue; // the same file twice
                }
                return Err(crate::config::ConfigError::Invalid(format!(
                    "two models are called {:?}: rename one of the files ({})",
                    info.id,
                    path.display()
                ))
                .into());
            }
            infos.push(info.clone());
            let followed =
                follow.as_ref().is_some_and(|d| path.parent() == Some(d.join(MODELS_DIR).as_path()));
            others.push(Slot { info, path: path.clone(), loaded: None, followed });
        }
        Ok(Self {
            default: service,
            others: tokio::sync::Mutex::new(others),
            default_info,
            default_path: config.model.clone(),
            follow,
            options: EngineOptions { threads: config.threads, max_context: config.max_context, isa: None },
            signer,
            queue: config.queue,
            batch: config.batch,
            log_prompts: config.log_prompts,
            budget: config.memory_budget,
        })
    }

    /// The default model's service.
    pub fn default_service(&self) -> &InferenceService {
        &self.default
    }

    /// Every model served, the default first (the followed folder looked at first).
    pub async fn infos(&self) -> Vec<ModelInfo> {
        let mut others = self.others.lock().await;
        self.follow_folder(&mut others);
        std::iter::once(self.default_info.clone()).chain(others.iter().map(|s| s.info.clone())).collect()
    }

    /// Brings the models of the followed folder up to date: files added since are served (when
    /// they read as models and their ids are free), files gone are dropped.
    fn follow_folder(&self, others: &mut Vec<Slot>) {
        let Some(data_dir) = &self.follow else { return };
        others.retain(|s| {
            let kept = !s.followed || s.path.is_file();
            if !kept {
                tracing::info!(target: "agora::infer", model = %s.info.id, "removed from models/: no longer served");
            }
            kept
        });
        for path in added(data_dir) {
            let known = others.iter().any(|s| same_file(&s.path, &path))
                || self.default_path.as_ref().is_some_and(|d| same_file(d, &path));
            if known {
                continue;
            }
            match agora_infer::inspect(&path) {
                Ok(info)
                    if info.id == self.default_info.id || others.iter().any(|s| s.info.id == info.id) => {}
                Ok(info) => {
                    tracing::info!(target: "agora::infer", model = %info.id, "added to models/: served from now on");
                    others.push(Slot { info, path, loaded: None, followed: true });
                }
                // A download still being written, or not a model: looked at again next time.
                Err(_) => {}
            }
        }
    }

    /// The ids of the models loaded now.
    pub async fn loaded(&self) -> Vec<String> {
        let others = self.others.lock().await;
        std::iter::once(self.default_info.id.clone())
            .chain(others.iter().filter(|s| s.loaded.is_some()).map(|s| s.info.id.clone()))
            .collect()
    }

    /// The service of the model called `name` (`default` or the default's id: the default),
    /// loading it first when it is not loaded.
    pub async fn get(&self, name: &str) -> Result<InferenceService, ModelError> {
        if name == "default" || name == self.default_info.id {
            return Ok(self.default.clone());
        }
        let mut others = self.others.lock().await;
        if !others.iter().any(|s| s.info.id == name) {
            self.follow_folder(&mut others);
        }
        let Some(at) = others.iter().position(|s| s.info.id == name) else {
            return Err(ModelError::Unknown {
                name: name.to_owned(),
                served: std::iter::once(self.default_info.id.clone())
                    .chain(others.iter().map(|s| s.info.id.clone()))
                    .collect(),
            });
        };
        if let Some((service, used)) = &mut others[at].loaded {
            *used = Instant::now();
            return Ok(service.clone());
        }
        // Make room: unload the least recently used others until this one fits.
        let needed = footprint(&others[at].info);
        let free = self.budget.saturating_sub(footprint(&self.default_info));
        if needed > free {
            return Err(ModelError::OverBudget {
                name: name.to_owned(),
                needed_mib: needed >> 20,
                free_mib: free >> 20,
            });
        }
        loop {
            let used: u64 = others.iter().filter(|s| s.loaded.is_some()).map(|s| footprint(&s.info)).sum();
            if used + needed <= free {
                break;
            }
            let lru = others
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.loaded.as_ref().map(|(_, t)| (i, *t)))
                .min_by_key(|(_, t)| *t)
                .map(|(i, _)| i);
            let Some(lru) = lru else { break };
            tracing::info!(target: "agora::infer", model = %others[lru].info.id, "unloading to make room for {name}");
            others[lru].loaded = None;
        }
        let (path, options) = (others[at].path.clone(), self.options.clone());
        let started = Instant::now();
        let engine = tokio::task::spawn_blocking(move || Engine::load(&path, &options))
            .await
            .map_err(|e| ModelError::Load {
                name: name.to_owned(),
                source: agora_infer::InferError::Model(e.to_string()),
            })?
            .map_err(|source| ModelError::Load { name: name.to_owned(), source })?;
        tracing::info!(
            target: "agora::infer",
            model = %name,
            took_ms = started.elapsed().as_millis() as u64,
            "model loaded on first use"
        );
        let service =
            InferenceService::start(engine, self.signer.clone(), self.queue, self.batch, self.log_prompts);
        others[at].loaded = Some((service.clone(), Instant::now()));
        Ok(service)
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Checks that `file` is a model the engine runs (it loads it) and puts it in `data_dir`'s
/// `models/`, where every node on that data directory serves it: a hard link where the file
/// system allows, a copy otherwise. Returns what was added and where.
pub fn add(data_dir: &Path, file: &Path) -> crate::Result<(ModelInfo, PathBuf, &'static str)> {
    let engine = Engine::load(file, &EngineOptions { threads: 1, ..EngineOptions::default() })
        .map_err(|source| crate::NodeError::ModelUnreadable { path: file.to_owned(), source })?;
    let info = engine.info().clone();
    drop(engine);
    let dir = data_dir.join(MODELS_DIR);
    let dir_error = |e: std::io::Error| crate::NodeError::DataDir { dir: dir.clone(), reason: e.to_string() };
    std::fs::create_dir_all(&dir).map_err(dir_error)?;
    let target = dir.join(format!("{}.gguf", info.id));
    if target.exists() {
        if same_file(&target, file) || agora_infer::file_sha256(&target).is_ok_and(|s| s == info.sha256) {
            return Ok((info, target, "already added"));
        }
        return Err(crate::config::ConfigError::Invalid(format!(
            "another model is already added as {}: remove it or rename the file",
            target.display()
        ))
        .into());
    }
    let how = match std::fs::hard_link(file, &target) {
        Ok(()) => "linked",
        Err(_) => {
            let partial = target.with_extension("gguf.partial");
            std::fs::copy(file, &partial)
                .and_then(|_| std::fs::rename(&partial, &target))
                .map_err(dir_error)?;
            "copied"
        }
    };
    Ok((info, target, how))
}

/// Shares a model set.
pub type SharedModels = Arc<ModelSet>;
