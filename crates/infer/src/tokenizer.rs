//! Byte-level BPE tokenizer built from the GGUF metadata alone.
//!
//! GGUF stores the vocabulary, the merges, token types and a pre-tokenizer name
//! (`tokenizer.ggml.pre`). The pre-tokenizer decides how text is cut before BPE, and getting it
//! wrong silently changes token ids, so each supported name is mapped explicitly and an unknown
//! one is an error:
//!
//! | `pre` | models | splitting |
//! |---|---|---|
//! | `smollm` | SmolLM2 | every digit alone, then the GPT-2 pattern, no prefix space |
//! | `gpt-2`, `default` | GPT-2 style | the GPT-2 pattern |
//! | `llama-bpe`, `llama3` | Llama 3.x | the Llama 3 pattern (digits in groups of up to 3) |
//! | `qwen2` | Qwen2.5 | the Llama 3 pattern with single digits |
//!
//! Control and user-defined tokens (types 3 and 4, e.g. `<|im_start|>`) are matched as whole
//! tokens in the text before splitting.

use crate::{InferError, Result, gguf::GgufFile};
use fancy_regex::Regex;
use std::collections::HashMap;

const GPT2_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// How text is cut into pieces before BPE.
#[derive(Debug)]
struct PreTokenizer {
    split_digits: bool,
    pattern: Regex,
}

/// The tokenizer of a model.
#[derive(Debug)]
pub struct Tokenizer {
    tokens: Vec<String>,
    ids: HashMap<String, u32>,
    /// (left id, right id) → (rank, merged id)
    merges: HashMap<(u32, u32), (u32, u32)>,
    /// Special tokens matched verbatim, longest first.
    specials: Vec<(String, u32)>,
    control: Vec<bool>,
    pre: PreTokenizer,
    byte_to_char: [char; 256],
    char_to_byte: HashMap<char, u8>,
    /// End-of-sequence / end-of-turn tokens.
    stop_tokens: Vec<u32>,
    bos: Option<u32>,
    add_bos: bool,
}

impl Tokenizer {
    pub(crate) fn from_gguf(file: &GgufFile) -> Result<Self> {
        let model = file.string("tokenizer.ggml.model").unwrap_or("");
        if model != "gpt2" {
            return Err(InferError::UnsupportedTokenizer(format!(
                "tokenizer.ggml.model = {model:?}; only byte-level BPE (\"gpt2\") is supported"
            )));
        }
        let pre_name = file.string("tokenizer.ggml.pre").unwrap_or("default");
        let (split_digits, pattern) = match pre_name {
            "smollm" => (true, GPT2_PATTERN),
            "gpt-2" | "gpt2" | "default" => (false, GPT2_PATTERN),
            "llama-bpe" | "llama3" => (false, LLAMA3_PATTERN),
            "qwen2" => (false, QWEN2_PATTERN),
            other => {
                return Err(InferError::UnsupportedTokenizer(format!(
                    "tokenizer.ggml.pre = {other:?} has no tested mapping (supported: smollm, gpt-2, llama-bpe, qwen2)"
                )));
            }
        };
        let pattern = Regex::new(pattern).map_err(|e| InferError::TokenizerPattern(Box::new(e)))?;
        let tokens = file
            .strings("tokenizer.ggml.tokens")
            .ok_or_else(|| InferError::UnsupportedTokenizer("tokenizer.ggml.tokens is missing".into()))?;
        let merges = file.strings("tokenizer.ggml.merges").unwrap_or_default();
        let types = file.ints("tokenizer.ggml.token_type").unwrap_or_default();
        Self::build(
            tokens,
            &merges,
            &types,
            PreTokenizer { split_digits, pattern },
            file.u64("tokenizer.ggml.eos_token_id").map(|v| v as u32),
            file.u64("tokenizer.ggml.bos_token_id").map(|v| v as u32),
            file.bool("tokenizer.ggml.add_bos_token").unwrap_or(false),
        )
    }

    fn build(
        tokens: Vec<String>,
        merges: &[String],
        types: &[i64],
        pre: PreTokenizer,
        eos: Option<u32>,
        bos: Option<u32>,
        add_bos: bool,
    ) -> Result<Self> {
        let ids: HashMap<String, u32> =
            tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let mut merge_map = HashMap::with_capacity(merges.len());
        for (rank, merge) in merges.iter().enumerate() {
            let Some((a, b)) = merge.split_once(' ') else { continue };
            let (Some(&ia), Some(&ib)) = (ids.get(a), ids.get(b)) else { continue };
            let Some(&merged) = ids.get(&format!("{a}{b}")) else { continue };
            merge_map.entry((ia, ib)).or_insert((rank as u32, merged));
        }
        let control: Vec<bool> = (0..tokens.len()).map(|i| types.get(i).is_some_and(|t| *t == 3)).collect();
        let mut specials: Vec<(String, u32)> = tokens
            .iter()
            .enumerate()
            .filter(|(i, _)| types.get(*i).is_some_and(|t| *t == 3 || *t == 4))
            .map(|(i, t)| (t.clone(), i as u32))
            .filter(|(t, _)| !t.is_empty())
            .collect();
        specials.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));

        let byte_to_char = byte_level_alphabet();
        let char_to_byte = byte_to_char.iter().enumerate().map(|(b, c)| (*c, b as u8)).collect();
        let mut stop_tokens: Vec<u32> = eos.into_iter().collect();
        for marker in ["<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "<|eom_id|>"] {
            if let Some(&id) = ids.get(marker)
                && !stop_tokens.contains(&id)
            {
                stop_tokens.push(id);
            }
        }
        Ok(Self {
            tokens,
            ids,
            merges: merge_map,
            specials,
            control,
            pre,
            byte_to_char,
            char_to_byte,
            stop_tokens,
            bos,
            add_bos,
        })
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// Tokens that end a generation (end of sequence, end of turn).
    pub fn stop_tokens(&self) -> &[u32] {
        &self.stop_tokens
    }

    /// The id of a token string, if it is in the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    /// Encodes text; special tokens written in the text become their ids. A BOS token is
    /// prepended when the model asks for one.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        if self.add_bos
            && let Some(bos) = self.bos
        {
            out.push(bos);
        }
        let mut rest = text;
        while !rest.is_empty() {
            // The earliest special token in the rest, longest on ties.
            let next = self
                .specials
                .iter()
                .filter_map(|(s, id)| rest.find(s.as_str()).map(|at| (at, s.len(), *id)))
                .min_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            match next {
                Some((at, len, id)) => {
                    self.encode_plain(&rest[..at], &mut out);
                    out.push(id);
                    rest = &rest[at + len..];
                }
                None => {
                    self.encode_plain(rest, &mut out);
                    break;
                }
            }
        }
        out
    }

    fn encode_plain(&self, text: &str, out: &mut Vec<u32>) {
        if text.is_empty() {
            return;
        }
        let mut chunks = Vec::new();
        if self.pre.split_digits {
            let mut start = 0;
            for (i, ch) in text.char_indices() {
                if ch.is_numeric() {
                    if start < i {
                        chunks.push(&text[start..i]);
                    }
                    chunks.push(&text[i..i + ch.len_utf8()]);
                    start = i + ch.len_utf8();
                }
            }
            if start < text.len() {
                chunks.push(&text[start..]);
            }
        } else {
            chunks.push(text);
        }
        for chunk in chunks {
            for piece in self.pre.pattern.find_iter(chunk).filter_map(|m| m.ok()) {
                self.bpe(piece.as_str(), out);
            }
        }
    }

    fn bpe(&self, piece: &str, out: &mut Vec<u32>) {
        let mut symbols: Vec<u32> = Vec::with_capacity(piece.len());
        for byte in piece.bytes() {
            let ch = self.byte_to_char[byte as usize];
            let mut buf = [0u8; 4];
            match self.ids.get(ch.encode_utf8(&mut buf) as &str) {
                Some(id) => symbols.push(*id),
                None => return, // a byte-level vocabulary has all 256 bytes; skip a broken one
            }
        }
        loop {
            let best = symbols
                .windows(2)
                .enumerate()
                .filter_map(|(i, w)| self.merges.get(&(w[0], w[1])).map(|(rank, merged)| (*rank, i, *merged)))
                .min();
            let Some((rank, _, _)) = best else { break };
            // Merge every occurrence of the best pair, left to right.
            let mut merged = Vec::with_capacity(symbols.len());
            let mut i = 0;
            while i < symbols.len() {
                if i + 1 < symbols.len()
                    && let Some((r, m)) = self.merges.get(&(symbols[i], symbols[i + 1]))
                    && *r == rank
                {
                    merged.push(*m);
                    i += 2;
                } else {
                    merged.push(symbols[i]);
                    i += 1;
                }
            }
            symbols = merged;
        }
        out.extend(symbols);
    }

    /// The bytes a token stands for (control tokens stand for nothing).
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        let Some(token) = self.tokens.get(id as usize) else { return Vec::new() };
        if self.control.get(id as usize).copied().unwrap_or(false) {
            return Vec::new();
        }
        token.chars().map(|c| self.char_to_byte.get(&c).copied().unwrap_or(b'?')).collect()
    }

    /// Decodes tokens to text (invalid UTF-8 is replaced).
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().flat_map(|id| self.token_bytes(*id)).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The token's text as stored in the vocabulary.
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }
}

/// GPT-2's reversible map from bytes to printable characters.
fn byte_level_alphabet() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut extra = 0u32;
    for b in 0..=255u8 {
        let printable =
            (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
        table[b as usize] = if printable {
            char::from(b)
        } else {
            let c = char::from_u32(256 + extra).unwrap_or('?');
            extra += 1;
            c
        };
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy vocabulary: every byte, plus merges for "ab" and "abc".
    fn toy(split_digits: bool) -> Tokenizer {
        let alphabet = byte_level_alphabet();
        let mut tokens: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
        tokens.extend(["ab".to_owned(), "abc".to_owned(), "<|end|>".to_owned()]);
        let mut types = vec![1i64; tokens.len()];
        types[258] = 3;
        let merges = vec!["a b".to_owned(), "ab c".to_owned()];
        let pre = PreTokenizer { split_digits, pattern: Regex::new(GPT2_PATTERN).unwrap() };
        Tokenizer::build(tokens, &merges, &types, pre, Some(258), None, false).unwrap()
    }

    #[test]
    fn merges_apply_by_rank_and_specials_are_whole_tokens() {
        let t = toy(false);
        assert_eq!(t.encode("abc"), vec![257]);
        assert_eq!(t.encode("abcab<|end|>"), vec![257, 256, 258]);
        assert_eq!(t.decode(&t.encode("abcab<|end|>")), "abcab", "control tokens decode to nothing");
        assert_eq!(t.stop_tokens(), &[258]);
    }

    #[test]
    fn round_trips_any_text_byte_for_byte() {
        let t = toy(true);
        for text in ["héllo wörld 123", "tabs\tand\nnewlines  ", "🚀 emoji", "", "  lead"] {
            assert_eq!(t.decode(&t.encode(text)), text);
        }
    }

    #[test]
    fn digits_are_split_one_by_one_when_asked() {
        let split = toy(true);
        let joined = toy(false);
        // With splitting, " 12" is " ", "1", "2": three byte tokens either way here, but the
        // pieces differ: the space stands alone.
        assert_eq!(split.encode("a 12").len(), 4);
        assert_eq!(joined.encode("a 12").len(), 4);
        assert_eq!(split.decode(&split.encode("x1y22")), "x1y22");
    }
}
