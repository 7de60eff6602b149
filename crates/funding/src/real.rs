//! The two arithmetics the scoring runs in, from [`agora_fixed`] (shared with the markets).

pub use agora_fixed::{Real, WAD, Wad};
