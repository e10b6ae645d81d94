//! maxday/lambda-perf's `last.json`: a daily hello-world cold-start benchmark. Each entry of
//! `runtimeData` is one runtime × package × architecture × memory with about ten measured
//! init durations (`i`, ms), the mean cold and warm durations (`acd`, `ad`, ms) and the
//! memory used (`mu`, MB).

use std::fmt;
use std::path::{Path, PathBuf};

use autopilot_core::Architecture;
use serde::{Deserialize, Serialize};

/// A problem with the file: its path, the 1-based line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MaxdayError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub problem: String,
}

impl fmt::Display for MaxdayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.problem),
            None => write!(f, "{}: {}", self.path.display(), self.problem),
        }
    }
}

/// Init durations of one configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitSamples {
    /// Runtime key from the entry's id, e.g. `python313`, `nodejs22x`, `java21`,
    /// `rust_on_provided_al2023`.
    pub runtime: String,
    /// The display name, e.g. `python3.13`, `rust (prov.al2023)`.
    pub display: String,
    /// `zip` or `image`.
    pub package: String,
    pub architecture: Architecture,
    pub memory_mb: u32,
    pub init_ms: Vec<f64>,
    pub memory_used_mb: f64,
    pub mean_warm_ms: f64,
    pub mean_cold_ms: f64,
}

impl InitSamples {
    pub fn mean_init_ms(&self) -> Option<f64> {
        (!self.init_ms.is_empty()).then(|| self.init_ms.iter().sum::<f64>() / self.init_ms.len() as f64)
    }
}

#[derive(Deserialize)]
struct File {
    #[serde(rename = "runtimeData")]
    runtime_data: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    r: String,
    p: String,
    d: String,
    i: Vec<f64>,
    m: u32,
    a: String,
    mu: f64,
    ad: f64,
    acd: f64,
}

pub fn load(path: impl AsRef<Path>) -> Result<Vec<InitSamples>, MaxdayError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| MaxdayError {
        path: path.to_path_buf(),
        line: None,
        problem: format!("cannot read: {e}"),
    })?;
    parse(path, &text)
}

pub fn parse(path: &Path, json: &str) -> Result<Vec<InitSamples>, MaxdayError> {
    let err = |line: Option<usize>, problem: String| MaxdayError { path: path.to_path_buf(), line, problem };
    let file: File = serde_json::from_str(json).map_err(|e| err(Some(e.line()), e.to_string()))?;
    file.runtime_data
        .into_iter()
        .enumerate()
        .map(|(n, e)| {
            let architecture =
                e.a.parse()
                    .map_err(|_| err(None, format!("runtimeData[{n}] ({}): unknown architecture {:?}", e.r, e.a)))?;
            let suffix = format!("-{}-{}-{}", e.p, e.m, e.a);
            let runtime = e.r.trim_start_matches("lambda-perf-").trim_end_matches(suffix.as_str()).to_owned();
            Ok(InitSamples {
                runtime,
                display: e.d,
                package: e.p,
                architecture,
                memory_mb: e.m,
                init_ms: e.i,
                memory_used_mb: e.mu,
                mean_warm_ms: e.ad,
                mean_cold_ms: e.acd,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_become_init_samples() {
        let json = r#"{"metadata":{"generatedAt":"x"},"runtimeData":[
            {"r":"lambda-perf-python313-zip-256-arm64","p":"zip","d":"python3.13","i":[80,90,100],"m":256,"a":"arm64","mu":40,"ad":1.5,"acd":95.0}]}"#;
        let s = parse(Path::new("last.json"), json).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].runtime.as_str(), s[0].architecture, s[0].memory_mb), ("python313", Architecture::Arm64, 256));
        assert_eq!(s[0].mean_init_ms(), Some(90.0));
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse(Path::new("last.json"), "{\n\"runtimeData\": [\n{\"r\": 1}]}").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.to_string().starts_with("last.json:3:"), "{e}");
        let bad_arch =
            r#"{"runtimeData":[{"r":"x","p":"zip","d":"x","i":[],"m":128,"a":"sparc","mu":1,"ad":1,"acd":1}]}"#;
        assert!(parse(Path::new("last.json"), bad_arch).unwrap_err().to_string().contains("sparc"));
    }

    #[test]
    fn real_file_when_present() {
        let path = autopilot_testkit::workspace_root()
            .join(crate::data_dir::DEFAULT_DATA_DIR)
            .join("lambda-benchmarks/maxday-lambda-perf/last.json");
        if !path.is_file() {
            eprintln!("SKIPPED real_file_when_present: {} is absent", path.display());
            return;
        }
        let s = load(&path).unwrap();
        assert_eq!(s.len(), 620);
        let rust = s
            .iter()
            .find(|x| {
                x.runtime == "rust_on_provided_al2023"
                    && x.package == "zip"
                    && x.memory_mb == 512
                    && x.architecture == Architecture::X86_64
            })
            .unwrap();
        let mean = rust.mean_init_ms().unwrap();
        assert!((14.0..25.0).contains(&mean), "Rust hello-world init ≈ 15 ms (DESIGN.md), got {mean}");
    }
}
