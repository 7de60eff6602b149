//! What can stop a benchmark.

/// The error type of a harness's inner steps: any failure, with its chain of causes.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The result of a harness's inner steps.
pub(crate) type Fallible<T> = std::result::Result<T, BoxError>;

/// Why a benchmark did not produce a report.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The configuration asks for something the harness cannot measure.
    #[error("invalid benchmark configuration: {0}")]
    Config(&'static str),
    /// The scratch devnet the chain benchmarks run on did not start.
    #[error("cannot start a scratch devnet")]
    Devnet(#[source] agora_chain::ChainError),
    /// A step of the run failed.
    #[error("`agora bench {bench}` failed")]
    Run {
        /// Which benchmark.
        bench: &'static str,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
}

/// The result of a benchmark.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;

pub(crate) fn run_error(bench: &'static str) -> impl FnOnce(BoxError) -> BenchError {
    move |source| BenchError::Run { bench, source }
}
