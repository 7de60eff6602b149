//! The node's operations: each CLI verb that is not `up` is one call here that returns a typed
//! value, which the binary renders as text or JSON. The capability crates do the work; this
//! layer resolves what a data directory holds (the node key, the store, the deployments, the
//! chain) and hands it to them.

pub mod agents;
pub mod chain;
pub mod credits;
pub mod dev;
pub mod guard;
pub mod jobs;
pub mod payments;
pub mod status;
