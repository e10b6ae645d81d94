//! Runtimes and their cold starts.
//!
//! Built-in init durations are DESIGN.md's hello-world figures (mean: Rust ≈ 15 ms, Python
//! 75–100, Node 130–150, Java 200–290); [`InitModel::from_maxday`] refits them from
//! maxday/lambda-perf's measurements. Real applications add their own init work (SDK clients,
//! configuration, connection pools): [`FunctionSpec::init_offset_ms`](super::FunctionSpec).
//! Init does not depend on memory here: the cebert tables show hello-world init flat across
//! 128–2,048 MB (nodejs22 x86_64: 147–151 ms).

use autopilot_core::Architecture;
use autopilot_datasets::maxday::InitSamples;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Runtime {
    Rust,
    Python,
    Node,
    Java,
}

impl Runtime {
    pub const ALL: [Self; 4] = [Self::Rust, Self::Python, Self::Node, Self::Java];

    /// The Lambda runtime identifier this stands for.
    pub fn lambda_id(self) -> &'static str {
        match self {
            Self::Rust => "provided.al2023",
            Self::Python => "python3.13",
            Self::Node => "nodejs22.x",
            Self::Java => "java21",
        }
    }

    /// The key of this runtime in maxday's `last.json`.
    pub fn maxday_key(self) -> &'static str {
        match self {
            Self::Rust => "rust_on_provided_al2023",
            Self::Python => "python313",
            Self::Node => "nodejs22x",
            Self::Java => "java21",
        }
    }

    /// Built-in hello-world init: (mean ms, σ of its lognormal).
    pub fn default_init(self) -> InitModel {
        let (mean_ms, sigma) = match self {
            Self::Rust => (15.0, 0.15),
            Self::Python => (90.0, 0.12),
            Self::Node => (140.0, 0.10),
            Self::Java => (250.0, 0.12),
        };
        InitModel { mean_ms, sigma }
    }
}

/// Lognormal init duration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitModel {
    pub mean_ms: f64,
    pub sigma: f64,
}

impl InitModel {
    /// Fits the lognormal to maxday's zip-package samples of a runtime and architecture (all
    /// memory sizes together). `None` when there are none.
    pub fn from_maxday(samples: &[InitSamples], runtime: Runtime, arch: Architecture) -> Option<Self> {
        let logs: Vec<f64> = samples
            .iter()
            .filter(|s| s.runtime == runtime.maxday_key() && s.architecture == arch && s.package == "zip")
            .flat_map(|s| s.init_ms.iter().copied())
            .filter(|v| *v > 0.0)
            .map(f64::ln)
            .collect();
        if logs.len() < 2 {
            return None;
        }
        let mu = logs.iter().sum::<f64>() / logs.len() as f64;
        let var = logs.iter().map(|l| (l - mu).powi(2)).sum::<f64>() / (logs.len() - 1) as f64;
        Some(Self { mean_ms: (mu + var / 2.0).exp(), sigma: var.sqrt() })
    }

    pub fn mu(&self) -> f64 {
        self.mean_ms.ln() - self.sigma * self.sigma / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_design_facts() {
        assert_eq!(Runtime::Rust.default_init().mean_ms, 15.0);
        assert!((75.0..=100.0).contains(&Runtime::Python.default_init().mean_ms));
        assert!((130.0..=150.0).contains(&Runtime::Node.default_init().mean_ms));
        assert!((200.0..=290.0).contains(&Runtime::Java.default_init().mean_ms));
    }

    #[test]
    fn fits_maxday_samples() {
        let s = InitSamples {
            runtime: "python313".into(),
            display: "python3.13".into(),
            package: "zip".into(),
            architecture: Architecture::Arm64,
            memory_mb: 128,
            init_ms: vec![80.0, 90.0, 100.0, 85.0],
            memory_used_mb: 40.0,
            mean_warm_ms: 1.0,
            mean_cold_ms: 90.0,
        };
        let m = InitModel::from_maxday(&[s], Runtime::Python, Architecture::Arm64).unwrap();
        assert!((m.mean_ms - 88.8).abs() < 1.0 && m.sigma > 0.05 && m.sigma < 0.15, "{m:?}");
        assert!(InitModel::from_maxday(&[], Runtime::Python, Architecture::Arm64).is_none());
    }
}
