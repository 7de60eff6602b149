//! Reading a GGUF file: metadata, hyper-parameters and tensors. The header is parsed here
//! ([`reader`]); weights stay in their quantized blocks where a kernel exists for the format
//! (Q4_0, Q4_1, Q8_0), K-quants are repacked into kernel layouts that hold their values exactly
//! (Q3_K–Q6_K), and every other block format GGUF files use is dequantized to f32 ([`quants`]).

mod quants;
mod reader;
#[cfg(test)]
mod tests;

pub(crate) use reader::{Content, GgmlType, TensorInfo, Value};

use crate::{
    InferError, Result,
    kernels::{WeightFormat, WeightMatrix},
};
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
    pub(crate) content: Content,
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
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut reader = std::io::BufReader::new(file);
        let content = Content::read(&mut reader, len)
            .map_err(|reason| InferError::NotGguf { path: shown.clone(), reason })?;
        Ok(Self { content, file: reader.into_inner(), path: shown })
    }

    fn value(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    pub(crate) fn string(&self, key: &str) -> Option<&str> {
        self.value(key).and_then(Value::as_str)
    }

    pub(crate) fn u64(&self, key: &str) -> Option<u64> {
        self.value(key).and_then(Value::as_u64)
    }

    pub(crate) fn f32(&self, key: &str) -> Option<f32> {
        self.value(key).and_then(Value::as_f32)
    }

    pub(crate) fn bool(&self, key: &str) -> Option<bool> {
        match self.value(key)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub(crate) fn strings(&self, key: &str) -> Option<Vec<String>> {
        self.value(key)?.as_array()?.iter().map(|v| v.as_str().map(str::to_owned)).collect()
    }

    pub(crate) fn ints(&self, key: &str) -> Option<Vec<i64>> {
        self.value(key)?.as_array()?.iter().map(Value::as_i64).collect()
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

    fn info(&self, name: &str) -> Result<&TensorInfo> {
        self.content
            .tensor_infos
            .get(name)
            .ok_or_else(|| InferError::Model(format!("{}: tensor {name} is missing", self.path)))
    }

    fn raw(&mut self, name: &str) -> Result<(GgmlType, Vec<usize>, Vec<u8>)> {
        let (dtype, dims, size, mut read) = self.tensor_reader(name)?;
        let mut bytes = vec![0u8; size];
        read(&mut bytes)?;
        Ok((dtype, dims, bytes))
    }

    /// Tensor `name`'s type, dimensions and size in bytes, and a reader of its bytes in order.
    #[allow(clippy::type_complexity)]
    fn tensor_reader(
        &mut self,
        name: &str,
    ) -> Result<(GgmlType, Vec<usize>, usize, impl FnMut(&mut [u8]) -> Result<()> + '_)> {
        let info = self.info(name)?;
        let (dtype, dims, size) = (info.ggml_type, info.dims.clone(), info.byte_len());
        let start = self.content.tensor_data_offset + info.offset;
        let (path, tensor) = (self.path.clone(), name.to_owned());
        let io = move |source: std::io::Error| InferError::TensorIo {
            path: path.clone(),
            tensor: tensor.clone(),
            source,
        };
        self.file.seek(std::io::SeekFrom::Start(start)).map_err(&io)?;
        let file = &mut self.file;
        Ok((dtype, dims, size, move |buf: &mut [u8]| file.read_exact(buf).map_err(&io)))
    }

    /// A 2-D tensor in a format with kernels (Q4_0, Q4_1, Q8_0), read and repacked a group of
    /// rows at a time; `None` for any other format.
    fn read_quantized(&mut self, name: &str) -> Result<Option<WeightMatrix>> {
        let (dtype, dims, _, read) = self.tensor_reader(name)?;
        let format = match dtype {
            GgmlType::Q4_1 => WeightFormat::Q4_1,
            GgmlType::Q4_0 => WeightFormat::Q4_0,
            GgmlType::Q8_0 => WeightFormat::Q8_0,
            _ => return Ok(None),
        };
        let [rows, cols] = dims[..] else { return Ok(None) };
        WeightMatrix::read_quantized(format, rows, cols, read).map(Some)
    }

    /// A 1-D tensor as f32 values.
    pub(crate) fn vector(&mut self, name: &str) -> Result<Vec<f32>> {
        let (dtype, dims, bytes) = self.raw(name)?;
        quants::to_f32(dtype, &bytes).map_err(|e| InferError::Model(format!("tensor {name} ({dims:?}): {e}")))
    }

    /// A 2-D weight (`rows` outputs × `cols` inputs) kept in its quantized format when a kernel
    /// exists for it, otherwise dequantized to f32.
    pub(crate) fn matrix(&mut self, name: &str) -> Result<WeightMatrix> {
        if let Some(matrix) = self.read_quantized(name)? {
            return Ok(matrix);
        }
        let (dtype, dims, bytes) = self.raw(name)?;
        let [rows, cols] = dims[..] else {
            return Err(InferError::Model(format!(
                "tensor {name} has shape {dims:?}, expected 2 dimensions"
            )));
        };
        let format = match dtype {
            GgmlType::Q4_1 => Some(WeightFormat::Q4_1),
            GgmlType::Q4_0 => Some(WeightFormat::Q4_0),
            GgmlType::Q8_0 => Some(WeightFormat::Q8_0),
            _ => None,
        };
        if let Some(matrix) = repack_k_quant(dtype, rows, cols, &bytes)? {
            return Ok(matrix);
        }
        match format {
            Some(format) => WeightMatrix::quantized(format, rows, cols, &bytes),
            None => {
                let values = quants::to_f32(dtype, &bytes)
                    .map_err(|e| InferError::Model(format!("tensor {name} ({dims:?}): {e}")))?;
                WeightMatrix::f32(rows, cols, values.into_boxed_slice())
            }
        }
    }
}

/// A K-quant matrix in a kernel layout that holds its values exactly, or `None` for other formats
/// and for Q2_K (a minimum per 16 values, which no kernel layout has: it is dequantized to f32).
/// Q4_K's groups of 32 are Q4_1 blocks (scale `d·sc`, minimum `−dmin·m`); Q3_K, Q5_K and Q6_K
/// become [`WeightFormat::K8`] blocks. The values are those of ggml's dequantization, bit for bit.
fn repack_k_quant(ty: GgmlType, rows: usize, cols: usize, bytes: &[u8]) -> Result<Option<WeightMatrix>> {
    use crate::kernels::BLOCK;
    let format = match ty {
        GgmlType::Q4K => WeightFormat::Q4_1,
        GgmlType::Q3K | GgmlType::Q5K | GgmlType::Q6K => WeightFormat::K8,
        _ => return Ok(None),
    };
    let with_mins = matches!(ty, GgmlType::Q4K | GgmlType::Q5K);
    let blocks = rows * cols / BLOCK;
    let mut quants = Vec::with_capacity(blocks * format.quant_bytes());
    let mut scales = Vec::with_capacity(blocks * format.scales_per_block());
    let mut mins = Vec::with_capacity(if with_mins { blocks } else { 0 });
    let mut u = quants::Unpacked::default();
    for block in bytes.chunks_exact(ty.type_size()) {
        quants::Unpacked::read(ty, block, &mut u);
        for (b, q) in u.q.chunks_exact(BLOCK).enumerate() {
            if format == WeightFormat::Q4_1 {
                quants.extend((0..16).map(|j| q[j] as u8 | ((q[j + 16] as u8) << 4)));
                scales.push(u.scale[2 * b]);
            } else {
                quants.extend(q.iter().map(|v| *v as u8));
                scales.extend([u.scale[2 * b], u.scale[2 * b + 1]]);
            }
            if with_mins {
                mins.push(-u.min[2 * b]);
            }
        }
    }
    WeightMatrix::from_blocks(format, rows, cols, quants, scales, mins).map(Some)
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
