//! The scenario world lives in the test kit (feature `guard-world`), shared with the benchmark.

pub(crate) use agora_testkit::guard_world::*;
