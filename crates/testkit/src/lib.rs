//! Test support for the workspace: where the local AWS emulator listens, unique resource
//! names for tests that run in parallel against one emulator, and workspace paths.
//!
//! Emulator-backed tests call [`emulator_endpoint`]; `scripts/test.sh` (the README's test
//! command) starts the emulator first, so in the normal test run it is always there.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Environment variable that overrides where the emulator listens.
pub const ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL";
/// File written by `scripts/local-aws.sh start`, relative to the workspace root.
pub const ENDPOINT_FILE: &str = ".local-aws/endpoint";

/// The workspace root (the directory of the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).expect("crates/testkit sits two levels below the workspace root").to_path_buf()
}

/// The emulator's base URL, from `AWS_ENDPOINT_URL` or the file the start script writes.
///
/// # Panics
/// When neither is present, with the command that starts the emulator: an emulator-backed
/// test must not silently pass without the emulator.
pub fn emulator_endpoint() -> String {
    if let Ok(url) = std::env::var(ENDPOINT_VAR)
        && !url.trim().is_empty()
    {
        return url.trim().to_owned();
    }
    let file = workspace_root().join(ENDPOINT_FILE);
    match std::fs::read_to_string(&file) {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => panic!(
            "this test needs the local AWS emulator: run `bash scripts/local-aws.sh start` \
             (or the README's test command, which starts it), or set {ENDPOINT_VAR}"
        ),
    }
}

/// A name no other test in this run (or a recent run) uses: `prefix-<pid>-<n>-<time>`,
/// at most 64 characters, safe for Lambda functions, tables and state machines.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() % 1_000_000_000).unwrap_or(0);
    let mut name = format!("{prefix}-{}-{n}-{t}", std::process::id());
    name.truncate(64);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_short() {
        let a = unique_name("t");
        let b = unique_name("t");
        assert_ne!(a, b);
        assert!(unique_name(&"x".repeat(80)).len() <= 64);
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
    }
}
