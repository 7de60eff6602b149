//! The GGUF container (versions 2 and 3, little-endian): a header, typed metadata, tensor
//! descriptions, then the tensors' bytes at an aligned offset. Every count and length is checked
//! against the file before anything is allocated, so a damaged file is refused with the reason
//! instead of exhausting memory.

use std::{collections::HashMap, io::Read};

/// No GGUF file has this many metadata entries, tensors or array elements; a count beyond it
/// means the file is damaged.
const MAX_COUNT: u64 = 1 << 24;
/// Nor dimensions per tensor.
const MAX_DIMS: u32 = 4;

/// The block formats of GGUF tensors the engine reads (their ids are ggml's `ggml_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub(crate) enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2K = 10,
    Q3K = 11,
    Q4K = 12,
    Q5K = 13,
    Q6K = 14,
    Q8K = 15,
    BF16 = 30,
}

impl GgmlType {
    fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::F16,
            2 => Self::Q4_0,
            3 => Self::Q4_1,
            6 => Self::Q5_0,
            7 => Self::Q5_1,
            8 => Self::Q8_0,
            9 => Self::Q8_1,
            10 => Self::Q2K,
            11 => Self::Q3K,
            12 => Self::Q4K,
            13 => Self::Q5K,
            14 => Self::Q6K,
            15 => Self::Q8K,
            30 => Self::BF16,
            _ => return None,
        })
    }

    /// The name ggml and model hubs use (`Q4_K`, as in `Q4_K_M` files).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::F32 => "F32",
            Self::F16 => "F16",
            Self::Q4_0 => "Q4_0",
            Self::Q4_1 => "Q4_1",
            Self::Q5_0 => "Q5_0",
            Self::Q5_1 => "Q5_1",
            Self::Q8_0 => "Q8_0",
            Self::Q8_1 => "Q8_1",
            Self::Q2K => "Q2_K",
            Self::Q3K => "Q3_K",
            Self::Q4K => "Q4_K",
            Self::Q5K => "Q5_K",
            Self::Q6K => "Q6_K",
            Self::Q8K => "Q8_K",
            Self::BF16 => "BF16",
        }
    }

    /// Values per block.
    pub(crate) fn block_size(self) -> usize {
        match self {
            Self::F32 | Self::F16 | Self::BF16 => 1,
            Self::Q4_0 | Self::Q4_1 | Self::Q5_0 | Self::Q5_1 | Self::Q8_0 | Self::Q8_1 => 32,
            Self::Q2K | Self::Q3K | Self::Q4K | Self::Q5K | Self::Q6K | Self::Q8K => 256,
        }
    }

    /// Bytes per block.
    pub(crate) fn type_size(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::BF16 => 2,
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q5_0 => 22,
            Self::Q5_1 => 24,
            Self::Q8_0 => 34,
            Self::Q8_1 => 36,
            Self::Q2K => 84,
            Self::Q3K => 110,
            Self::Q4K => 144,
            Self::Q5K => 176,
            Self::Q6K => 210,
            Self::Q8K => 292,
        }
    }
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(Vec<Value>),
}

impl Value {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// An integer of any width that is not negative.
    pub(crate) fn as_u64(&self) -> Option<u64> {
        self.as_i128().and_then(|v| u64::try_from(v).ok())
    }

    /// An integer of any width that fits an `i64`.
    pub(crate) fn as_i64(&self) -> Option<i64> {
        self.as_i128().and_then(|v| i64::try_from(v).ok())
    }

    fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            Self::U8(v) => v.into(),
            Self::I8(v) => v.into(),
            Self::U16(v) => v.into(),
            Self::I16(v) => v.into(),
            Self::U32(v) => v.into(),
            Self::I32(v) => v.into(),
            Self::U64(v) => v.into(),
            Self::I64(v) => v.into(),
            _ => return None,
        })
    }

    pub(crate) fn as_f32(&self) -> Option<f32> {
        match *self {
            Self::F32(v) => Some(v),
            Self::F64(v) => Some(v as f32),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> Option<&[Value]> {
        match self {
            Self::Array(v) => Some(v),
            _ => None,
        }
    }
}

/// A tensor's description in the header.
#[derive(Debug, Clone)]
pub(crate) struct TensorInfo {
    /// Its block format.
    pub(crate) ggml_type: GgmlType,
    /// Its dimensions, outermost first (`[rows, cols]` for a matrix; GGUF stores them reversed).
    pub(crate) dims: Vec<usize>,
    /// Where its bytes start, from the start of the tensor data.
    pub(crate) offset: u64,
}

impl TensorInfo {
    pub(crate) fn elem_count(&self) -> usize {
        self.dims.iter().product()
    }

    /// Its size in bytes.
    pub(crate) fn byte_len(&self) -> usize {
        self.elem_count() / self.ggml_type.block_size() * self.ggml_type.type_size()
    }
}

/// A parsed header.
#[derive(Debug)]
pub(crate) struct Content {
    pub(crate) metadata: HashMap<String, Value>,
    pub(crate) tensor_infos: HashMap<String, TensorInfo>,
    /// Where the tensor data starts in the file.
    pub(crate) tensor_data_offset: u64,
}

/// Counts what has been read, so lengths can be checked against what the file has left.
struct Input<'a, R> {
    inner: &'a mut R,
    read: u64,
    len: u64,
}

impl<R: Read> Input<'_, R> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => "the header ends early (unexpected end of file)".to_owned(),
            _ => e.to_string(),
        })?;
        self.read += N as u64;
        Ok(buf)
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.bytes().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, String> {
        self.bytes().map(u64::from_le_bytes)
    }

    /// A count of `what`, each taking at least `min_bytes` of what the file has left.
    fn count(&mut self, what: &str, min_bytes: u64) -> Result<u64, String> {
        let n = self.u64()?;
        if n > MAX_COUNT || n.saturating_mul(min_bytes) > self.len.saturating_sub(self.read) {
            return Err(format!("it claims too many {what} ({n}) for its size"));
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, String> {
        let n = self.count("string bytes", 1)?;
        let mut buf = vec![0u8; n as usize];
        self.inner.read_exact(&mut buf).map_err(|_| "a string runs past the end of file".to_owned())?;
        self.read += n;
        String::from_utf8(buf).map_err(|_| "a string is not UTF-8".to_owned())
    }

    fn value(&mut self, value_type: u32, depth: u8) -> Result<Value, String> {
        Ok(match value_type {
            0 => Value::U8(u8::from_le_bytes(self.bytes()?)),
            1 => Value::I8(i8::from_le_bytes(self.bytes()?)),
            2 => Value::U16(u16::from_le_bytes(self.bytes()?)),
            3 => Value::I16(i16::from_le_bytes(self.bytes()?)),
            4 => Value::U32(self.u32()?),
            5 => Value::I32(i32::from_le_bytes(self.bytes()?)),
            6 => Value::F32(f32::from_le_bytes(self.bytes()?)),
            7 => match u8::from_le_bytes(self.bytes()?) {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(format!("a boolean is {b}")),
            },
            8 => Value::String(self.string()?),
            9 if depth == 0 => {
                let element_type = self.u32()?;
                let n = self.count("array elements", 1)?;
                let mut values = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    values.push(self.value(element_type, depth + 1)?);
                }
                Value::Array(values)
            }
            9 => return Err("an array nests arrays".into()),
            10 => Value::U64(self.u64()?),
            11 => Value::I64(i64::from_le_bytes(self.bytes()?)),
            12 => Value::F64(f64::from_le_bytes(self.bytes()?)),
            other => return Err(format!("unknown metadata value type {other}")),
        })
    }
}

impl Content {
    /// Parses the header of a GGUF file of `len` bytes, checking that every tensor lies within it.
    pub(crate) fn read<R: Read>(reader: &mut R, len: u64) -> Result<Self, String> {
        let mut input = Input { inner: reader, read: 0, len };
        let magic = input.bytes::<4>().map_err(|_| "the file is too short for the GGUF magic".to_owned())?;
        if &magic != b"GGUF" {
            return Err(format!("the magic is {magic:02x?}, not \"GGUF\""));
        }
        match input.u32()? {
            2 | 3 => {}
            v => return Err(format!("GGUF version {v} is not supported (2 and 3 are)")),
        }
        let tensors = input.count("tensors", 24)?;
        let entries = input.count("metadata entries", 12)?;
        let mut metadata = HashMap::new();
        for _ in 0..entries {
            let key = input.string()?;
            let value_type = input.u32()?;
            let value = input.value(value_type, 0).map_err(|e| format!("metadata {key}: {e}"))?;
            metadata.insert(key, value);
        }
        let mut tensor_infos = HashMap::new();
        for _ in 0..tensors {
            let name = input.string()?;
            let n_dims = input.u32()?;
            if n_dims == 0 || n_dims > MAX_DIMS {
                return Err(format!("tensor {name} has {n_dims} dimensions"));
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(input.u64()?);
            }
            dims.reverse();
            let id = input.u32()?;
            let ggml_type = GgmlType::from_id(id).ok_or_else(|| {
                format!("tensor {name} is of ggml type {id}, which this engine does not read")
            })?;
            let offset = input.u64()?;
            if dims.iter().try_fold(1u64, |n, d| n.checked_mul(*d)).is_none_or(|n| n > len.saturating_mul(8))
            {
                return Err(format!("tensor {name} has impossible dimensions {dims:?}"));
            }
            if !dims[dims.len() - 1].is_multiple_of(ggml_type.block_size() as u64) {
                return Err(format!(
                    "tensor {name}'s rows of {} values are not whole {} blocks",
                    dims[dims.len() - 1],
                    ggml_type.name()
                ));
            }
            let dims = dims.into_iter().map(|d| d as usize).collect();
            tensor_infos.insert(name, TensorInfo { ggml_type, dims, offset });
        }
        let alignment = match metadata.get("general.alignment") {
            None => 32,
            Some(v) => match v.as_u64() {
                Some(a) if a.is_power_of_two() => a,
                _ => return Err(format!("general.alignment is {v:?}, not a power of two")),
            },
        };
        let tensor_data_offset = input.read.next_multiple_of(alignment);
        for (name, info) in &tensor_infos {
            let end = tensor_data_offset
                .checked_add(info.offset)
                .and_then(|start| start.checked_add(info.byte_len() as u64));
            if end.is_none_or(|end| end > len) {
                return Err(format!("tensor {name}'s data lies beyond the end of the file"));
            }
        }
        Ok(Self { metadata, tensor_infos, tensor_data_offset })
    }
}
