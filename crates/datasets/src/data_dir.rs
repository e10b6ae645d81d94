//! Where the public data sets live: `../shared/data` relative to the project root, never
//! copied into the repository. Tests pass without it; benchmarks say when it is missing.

use std::path::{Path, PathBuf};

/// The data folder relative to the current directory (the project root when run from it).
pub const DEFAULT_DATA_DIR: &str = "../shared/data";

/// `../shared/data`, relative to the current directory.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from(DEFAULT_DATA_DIR)
}

/// A data folder that is not there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "data folder {} is missing (looked in {}): the public traces and benchmarks live in \
     ../shared/data beside the project; run from the project root, or pass another folder",
    path.display(), absolute.display()
)]
pub struct MissingData {
    pub path: PathBuf,
    pub absolute: PathBuf,
}

/// `sub` under the default data folder (e.g. `"traces"`), or an error that says where it
/// was looked for.
pub fn require_data_dir(sub: &str) -> Result<PathBuf, MissingData> {
    require_dir(&default_data_dir().join(sub))
}

/// The folder itself if it exists, or an error that says where it was looked for.
pub fn require_dir(path: &Path) -> Result<PathBuf, MissingData> {
    if path.is_dir() {
        Ok(path.to_path_buf())
    } else {
        let absolute = std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf());
        Err(MissingData { path: path.to_path_buf(), absolute })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_says_where_it_looked() {
        let e = require_dir(Path::new("surely/not/here")).unwrap_err().to_string();
        assert!(e.contains("surely/not/here") && e.contains("../shared/data"), "{e}");
    }
}
