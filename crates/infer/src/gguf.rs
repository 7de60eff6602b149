//! Reading a GGUF file: metadata, hyper-parameters and tensors (through candle's GGUF reader).

use crate::{
    InferError, Result,
    kernels::{WeightFormat, WeightMatrix},
};
use candle_core::quantized::{GgmlDType, gguf_file};
use sha2::{Digest, Sha256};
use std::{
    fs::File,
    io::{Read, Seek},
    path::Path,
};

/// Model architectures the engine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// Llama family (Llama 3.x, SmolLM2): rotary embedding on adjacent pairs.
    Llama,
    /// Qwen2 family (Qwen2.5): biases on q, k, v; rotary embedding on halves.
    Qwen2,
}

/// Hyper-parameters read from the GGUF metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// Architecture.
    pub arch: Architecture,
    /// Hidden size.
    pub embedding: usize,
    /// Transformer blocks.
    pub layers: usize,
    /// Feed-forward size.
    pub feed_forward: usize,
    /// Attention heads.
    pub heads: usize,
    /// Key/value heads (grouped-query attention).
    pub kv_heads: usize,
    /// Size of one head.
    pub head_dim: usize,
    /// RMS norm epsilon.
    pub rms_eps: f32,
    /// Rotary embedding base.
    pub rope_base: f32,
    /// Context window the model was trained for.
    pub context_length: usize,
    /// Vocabulary size.
    pub vocab: usize,
}

/// An open GGUF file: its parsed header and its bytes.
pub(crate) struct GgufFile {
    pub(crate) content: gguf_file::Content,
    file: File,
    path: String,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile").field("path", &self.path).finish_non_exhaustive()
    }
}

impl GgufFile {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let io = |source: std::io::Error| InferError::Io { path: shown.clone(), source };
        let mut file = File::open(path).map_err(io)?;
        let content = gguf_file::Content::read(&mut file)
            .map_err(|source| InferError::NotGguf { path: shown.clone(), source })?;
        Ok(Self { content, file, path: shown })
    }

    fn value(&self, key: &str) -> Option<&gguf_file::Value> {
        self.content.metadata.get(key)
    }

    pub(crate) fn string(&self, key: &str) -> Option<&str> {
        self.value(key).and_then(|v| v.to_string().ok()).map(String::as_str)
    }

    pub(crate) fn u64(&self, key: &str) -> Option<u64> {
        let v = self.value(key)?;
        v.to_u64()
            .ok()
            .or_else(|| v.to_u32().ok().map(u64::from))
            .or_else(|| v.to_i32().ok().map(|x| x as u64))
    }

    pub(crate) fn f32(&self, key: &str) -> Option<f32> {
        self.value(key).and_then(|v| v.to_f32().ok())
    }

    pub(crate) fn bool(&self, key: &str) -> Option<bool> {
        self.value(key).and_then(|v| v.to_bool().ok())
    }

    pub(crate) fn strings(&self, key: &str) -> Option<Vec<String>> {
        let items = self.value(key)?.to_vec().ok()?;
        items.iter().map(|v| v.to_string().ok().cloned()).collect()
    }

    pub(crate) fn ints(&self, key: &str) -> Option<Vec<i64>> {
        let items = self.value(key)?.to_vec().ok()?;
        items
            .iter()
            .map(|v| v.to_i32().ok().map(i64::from).or_else(|| v.to_u32().ok().map(i64::from)))
            .collect()
    }

    fn required(&self, key: &str) -> Result<u64> {
        self.u64(key).ok_or_else(|| InferError::Model(format!("{}: metadata {key} is missing", self.path)))
    }

    pub(crate) fn config(&self) -> Result<ModelConfig> {
        let arch_name = self.string("general.architecture").unwrap_or("").to_owned();
        let arch = match arch_name.as_str() {
            "llama" => Architecture::Llama,
            "qwen2" => Architecture::Qwen2,
            _ => return Err(InferError::UnsupportedArchitecture(arch_name)),
        };
        let k = |name: &str| format!("{arch_name}.{name}");
        let embedding = self.required(&k("embedding_length"))? as usize;
        let heads = self.required(&k("attention.head_count"))? as usize;
        let kv_heads = self.u64(&k("attention.head_count_kv")).unwrap_or(heads as u64) as usize;
        let head_dim = self.u64(&k("attention.key_length")).map_or(embedding / heads.max(1), |v| v as usize);
        let vocab = self
            .strings("tokenizer.ggml.tokens")
            .map(|t| t.len())
            .or_else(|| self.u64(&k("vocab_size")).map(|v| v as usize))
            .ok_or_else(|| InferError::Model("no vocabulary in the GGUF metadata".into()))?;
        let config = ModelConfig {
            arch,
            embedding,
            layers: self.required(&k("block_count"))? as usize,
            feed_forward: self.required(&k("feed_forward_length"))? as usize,
            heads,
            kv_heads,
            head_dim,
            rms_eps: self.f32(&k("attention.layer_norm_rms_epsilon")).unwrap_or(1e-5),
            rope_base: self.f32(&k("rope.freq_base")).unwrap_or(10_000.0),
            context_length: self.u64(&k("context_length")).unwrap_or(2048) as usize,
            vocab,
        };
        if heads == 0
            || kv_heads == 0
            || !heads.is_multiple_of(kv_heads)
            || !head_dim.is_multiple_of(2)
            || !embedding.is_multiple_of(32)
        {
            return Err(InferError::Model(format!("inconsistent hyper-parameters: {config:?}")));
        }
        Ok(config)
    }

    /// Whether the file has a tensor called `name`.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    fn info(&self, name: &str) -> Result<&gguf_file::TensorInfo> {
        self.content
            .tensor_infos
            .get(name)
            .ok_or_else(|| InferError::Model(format!("{}: tensor {name} is missing", self.path)))
    }

    fn raw(&mut self, name: &str) -> Result<(GgmlDType, Vec<usize>, Vec<u8>)> {
        let info = self.info(name)?;
        let (dtype, dims) = (info.ggml_dtype, info.shape.dims().to_vec());
        let elems: usize = dims.iter().product();
        let size = elems / dtype.block_size() * dtype.type_size();
        let start = self.content.tensor_data_offset + info.offset;
        let mut bytes = vec![0u8; size];
        let path = self.path.clone();
        let io = |source: std::io::Error| InferError::TensorIo {
            path: path.clone(),
            tensor: name.to_owned(),
            source,
        };
        self.file.seek(std::io::SeekFrom::Start(start)).map_err(io)?;
        self.file.read_exact(&mut bytes).map_err(io)?;
        Ok((dtype, dims, bytes))
    }

    /// A 1-D tensor as f32 values.
    pub(crate) fn vector(&mut self, name: &str) -> Result<Vec<f32>> {
        let (dtype, dims, bytes) = self.raw(name)?;
        let values = to_f32(self, name, dtype, &dims, bytes)?;
        Ok(values)
    }

    /// A 2-D weight (`rows` outputs × `cols` inputs) kept in its quantized format when a kernel
    /// exists for it, otherwise dequantized to f32.
    pub(crate) fn matrix(&mut self, name: &str) -> Result<WeightMatrix> {
        let (dtype, dims, bytes) = self.raw(name)?;
        let [rows, cols] = dims[..] else {
            return Err(InferError::Model(format!(
                "tensor {name} has shape {dims:?}, expected 2 dimensions"
            )));
        };
        let format = match dtype {
            GgmlDType::Q4_1 => Some(WeightFormat::Q4_1),
            GgmlDType::Q4_0 => Some(WeightFormat::Q4_0),
            GgmlDType::Q8_0 => Some(WeightFormat::Q8_0),
            _ => None,
        };
        match format {
            Some(format) => WeightMatrix::quantized(format, rows, cols, &bytes),
            None => {
                let values = to_f32(self, name, dtype, &dims, bytes)?;
                WeightMatrix::f32(rows, cols, values.into_boxed_slice())
            }
        }
    }
}

/// Converts a tensor's bytes to f32: directly for F32/F16, through candle for the others.
fn to_f32(
    file: &mut GgufFile,
    name: &str,
    dtype: GgmlDType,
    dims: &[usize],
    bytes: Vec<u8>,
) -> Result<Vec<f32>> {
    match dtype {
        GgmlDType::F32 => {
            Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
        }
        GgmlDType::F16 => Ok(bytes
            .chunks_exact(2)
            .map(|c| half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32())
            .collect()),
        _ => {
            let device = candle_core::Device::Cpu;
            let fail = |e: candle_core::Error| {
                InferError::Model(format!("tensor {name} ({dtype:?}, {dims:?}): {e}"))
            };
            let found = file.info(name)?;
            let info = gguf_file::TensorInfo {
                ggml_dtype: found.ggml_dtype,
                shape: found.shape.clone(),
                offset: found.offset,
            };
            let tensor = info.read(&mut file.file, file.content.tensor_data_offset, &device).map_err(fail)?;
            tensor
                .dequantize(&device)
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(fail)
        }
    }
}

/// sha256 of a file, hex.
pub fn file_sha256(path: &Path) -> Result<String> {
    let shown = path.display().to_string();
    let mut file = File::open(path).map_err(|source| InferError::Io { path: shown.clone(), source })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|source| InferError::Io { path: shown.clone(), source })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
