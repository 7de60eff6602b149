use crate::{JobError, Result};
use agora_infer::{ChatMessage, SamplingParams};
use agora_receipts::{CanonicalRequest, RequestInput};
use alloy::primitives::B256;
use serde::{Deserialize, Serialize};

/// The `kind` of agora's inference job specs.
pub const SPEC_KIND: &str = "agora.inference-job/v1";

/// The most tokens a job may ask for: what every validator must be ready to re-run.
pub const MAX_JOB_TOKENS: usize = 4096;

/// An inference job: the model file and the request, with every parameter that decides the
/// output. Its canonical JSON ([`JobSpec::description`]) is the ERC-8183 job's description, so
/// the job on chain is all anyone needs to re-run it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobSpec {
    /// [`SPEC_KIND`].
    pub kind: String,
    /// sha256 of the GGUF file (also the evaluator's `modelHash`).
    pub model_sha256: B256,
    /// The request, seed included.
    pub request: CanonicalRequest,
}

impl JobSpec {
    /// A job asking `model_sha256` to answer `messages` with `sampling`.
    pub fn new(model_sha256: B256, messages: Vec<ChatMessage>, sampling: SamplingParams) -> Self {
        Self {
            kind: SPEC_KIND.to_owned(),
            model_sha256,
            request: CanonicalRequest::new(RequestInput::Chat(messages), sampling),
        }
    }

    /// The canonical JSON, as put on chain.
    pub fn description(&self) -> String {
        // Plain structs of strings and numbers always serialise.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a job's description, refusing what agora cannot (or should not) run.
    pub fn parse(description: &str) -> Result<Self> {
        let spec: Self = serde_json::from_str(description).map_err(|e| JobError::BadSpec(e.to_string()))?;
        if spec.kind != SPEC_KIND {
            return Err(JobError::BadSpec(format!("kind {:?}, expected {SPEC_KIND:?}", spec.kind)));
        }
        if spec.request.messages.is_empty() {
            return Err(JobError::BadSpec("no messages".into()));
        }
        let tokens = spec.request.sampling.max_tokens;
        if tokens == 0 || tokens > MAX_JOB_TOKENS {
            return Err(JobError::BadSpec(format!("max_tokens {tokens} is not within 1..={MAX_JOB_TOKENS}")));
        }
        if spec.request.sampling.ignore_eos {
            return Err(JobError::BadSpec("ignore_eos is for benchmarks, not jobs".into()));
        }
        Ok(spec)
    }

    /// The evaluator's `modelHash` for this job.
    pub fn model_hash(&self) -> B256 {
        self.model_sha256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> JobSpec {
        JobSpec::new(
            B256::repeat_byte(7),
            vec![ChatMessage::new("user", "Name a prime.")],
            SamplingParams { seed: 3, max_tokens: 16, ..Default::default() },
        )
    }

    #[test]
    fn a_spec_round_trips_through_its_description() {
        let spec = spec();
        let description = spec.description();
        assert!(description.starts_with(r#"{"kind":"agora.inference-job/v1","modelSha256":"0x0707"#));
        assert_eq!(JobSpec::parse(&description).unwrap(), spec);
    }

    #[test]
    fn specs_agora_cannot_run_are_refused() {
        type Edit = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|v| v["kind"] = "other/v1".into()), "kind"),
            (Box::new(|v| v["request"]["messages"] = serde_json::json!([])), "no messages"),
            (Box::new(|v| v["request"]["sampling"]["max_tokens"] = 100_000.into()), "max_tokens"),
            (Box::new(|v| v["request"]["sampling"]["max_tokens"] = 0.into()), "max_tokens"),
            (Box::new(|v| v["request"]["sampling"]["ignore_eos"] = true.into()), "ignore_eos"),
            (Box::new(|v| v["extra"] = 1.into()), "unknown field"),
            (Box::new(|v| v["modelSha256"] = "0x12".into()), "modelSha256"),
        ];
        for (edit, expected) in cases {
            let mut value = serde_json::to_value(spec()).unwrap();
            edit(&mut value);
            let err = JobSpec::parse(&value.to_string()).unwrap_err().to_string();
            assert!(err.contains(expected) || err.contains("invalid"), "{expected}: {err}");
        }
        assert!(JobSpec::parse("not json").is_err());
    }
}
