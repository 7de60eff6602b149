//! Levels, findings and the verdict: what the guard answers.

use crate::rules::Rule;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How bad a finding is. The worst level of all findings is the verdict's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth showing; nothing wrong.
    Info,
    /// A suggestion (for example, revoke later).
    Low,
    /// Look before you sign.
    Medium,
    /// Likely harmful: needs an explicit confirmation.
    High,
    /// Almost certainly an attack: refuse.
    Critical,
}

impl Level {
    /// The name used on the wire and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Self::Info),
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "critical" => Ok(Self::Critical),
            other => Err(format!("unknown level {other:?}: use info, low, medium, high or critical")),
        }
    }
}

/// One rule that fired, with what made it fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The stable rule id (`G01` … `G20`), [`Rule::id`].
    pub id: String,
    /// How bad it is.
    pub level: Level,
    /// A short title, the same for every hit of the rule ([`Rule::title`]).
    pub title: String,
    /// One deterministic sentence that says what would happen.
    pub message: String,
    /// The facts behind it (addresses, amounts, decoded fields).
    pub evidence: Vec<String>,
}

impl Finding {
    /// A finding of `rule` at the rule's default level.
    pub fn new(rule: Rule, message: impl Into<String>) -> Self {
        Self::at(rule, rule.default_level(), message)
    }

    /// A finding of `rule` at `level`, for checks whose level depends on what was found.
    pub fn at(rule: Rule, level: Level, message: impl Into<String>) -> Self {
        Self {
            id: rule.id().to_owned(),
            level,
            title: rule.title().to_owned(),
            message: message.into(),
            evidence: Vec::new(),
        }
    }

    /// Adds a line of evidence.
    pub fn evidence(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }
}

/// How an asset would move, in numbers (the machine-readable side of `effects`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetChange {
    /// `lose`, `receive`, or `exposed` (what a counterparty could take next, for example
    /// through an approval or a signature).
    pub kind: ChangeKind,
    /// The token contract, or `None` for ETH.
    pub asset: Option<alloy::primitives::Address>,
    /// Amount in the asset's smallest unit (for NFTs, a count).
    pub amount: alloy::primitives::U256,
    /// Who receives it or could take it, when known.
    pub counterparty: Option<alloy::primitives::Address>,
}

/// The direction of an [`AssetChange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Leaves the user's account.
    Lose,
    /// Arrives in the user's account.
    Receive,
    /// Could be taken afterwards by the counterparty.
    Exposed,
}

/// The guard's answer for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The worst level among the findings (`info` when there are none).
    pub level: Level,
    /// The JSON-RPC method that was checked.
    pub method: String,
    /// Every finding, worst first.
    pub findings: Vec<Finding>,
    /// What the request would do, in plain sentences (balance changes, approvals, calls).
    pub effects: Vec<String>,
    /// The same in numbers.
    #[serde(default)]
    pub assets: Vec<AssetChange>,
    /// Which simulator produced the effects (`revm`, `node`, or `none` for requests that need no
    /// simulation).
    pub simulator: String,
    /// How long the analysis took, in milliseconds.
    pub elapsed_ms: u64,
    /// A plain-language summary written by the local model from the findings above, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The accounts a send pays: every call's target and every decoded token transfer's
    /// recipient (empty for signatures). The proxy adds them to the send history once the node
    /// accepts the send. Not part of the wire shape.
    #[serde(skip)]
    pub recipients: Vec<alloy::primitives::Address>,
}

impl Verdict {
    /// Sorts the findings worst first (stable within a level) and sets the level.
    pub fn new(method: &str, mut findings: Vec<Finding>, effects: Vec<String>, simulator: &str) -> Self {
        findings.sort_by(|a, b| b.level.cmp(&a.level).then_with(|| a.id.cmp(&b.id)));
        findings.dedup();
        let level = findings.first().map_or(Level::Info, |f| f.level);
        Self {
            level,
            method: method.to_owned(),
            findings,
            effects,
            assets: Vec::new(),
            simulator: simulator.to_owned(),
            elapsed_ms: 0,
            summary: None,
            recipients: Vec::new(),
        }
    }

    /// The total of one kind of change of one asset (`None` = ETH).
    pub fn total(
        &self,
        kind: ChangeKind,
        asset: Option<alloy::primitives::Address>,
    ) -> alloy::primitives::U256 {
        self.assets.iter().filter(|a| a.kind == kind && a.asset == asset).map(|a| a.amount).sum()
    }

    /// Whether a rule fired.
    pub fn has(&self, id: &str) -> bool {
        self.findings.iter().any(|f| f.id == id)
    }

    /// The worst level at which rule `id` fired.
    pub fn level_of(&self, id: &str) -> Option<Level> {
        self.findings.iter().filter(|f| f.id == id).map(|f| f.level).max()
    }

    /// One line naming why the request is refused, for an error message.
    pub fn reason(&self) -> String {
        match self.findings.first() {
            Some(first) => format!("{} ({} {}): {}", first.title, first.id, first.level, first.message),
            None => "no findings".to_owned(),
        }
    }

    /// A readable report for a terminal.
    pub fn report(&self) -> String {
        let mut out = format!(
            "verdict: {} ({} via {}, {} ms)\n",
            self.level.as_str().to_uppercase(),
            self.method,
            self.simulator,
            self.elapsed_ms
        );
        if !self.effects.is_empty() {
            out.push_str("\nwhat it does:\n");
            for effect in &self.effects {
                out.push_str(&format!("  - {effect}\n"));
            }
        }
        if self.findings.is_empty() {
            out.push_str("\nno findings\n");
        } else {
            out.push_str("\nfindings:\n");
            for f in &self.findings {
                out.push_str(&format!(
                    "  [{}] {} {}: {}\n",
                    f.level.as_str().to_uppercase(),
                    f.id,
                    f.title,
                    f.message
                ));
                for line in &f.evidence {
                    out.push_str(&format!("        {line}\n"));
                }
            }
        }
        if let Some(summary) = &self.summary {
            out.push_str(&format!("\nsummary (local model, rephrasing the findings):\n  {summary}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_level_wins_and_findings_sort_worst_first() {
        let v = Verdict::new(
            "eth_sendTransaction",
            vec![
                Finding::at(Rule::LongLivedPermission, Level::Medium, "m"),
                Finding::at(Rule::PermitSignature, Level::Critical, "m"),
                Finding::at(Rule::UnlimitedApproval, Level::High, "m"),
            ],
            vec![],
            "revm",
        );
        assert_eq!(v.level, Level::Critical);
        assert_eq!(v.findings.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), ["G05", "G01", "G19"]);
        assert_eq!(Verdict::new("personal_sign", vec![], vec![], "none").level, Level::Info);
        assert!(Level::High > Level::Medium && Level::Low > Level::Info);
        assert_eq!("HIGH".parse::<Level>().unwrap(), Level::High);
        assert!("severe".parse::<Level>().is_err());
    }
}
