//! The markdown tables of cebert/aws-lambda-performance-benchmarks, read as they are
//! published (`published-results/<month>/tables/`): for each workload a `<workload>-warm.md`
//! and a `<workload>-cold.md`; in each, per runtime (`## nodejs22`), a "Performance
//! Comparison" table (ARM64/x86 mean duration, init and p99 per memory size), a "Cost
//! Analysis" table (cost per 1M invocations) and, in cold files, an "Init Duration" table
//! (init mean and p99). Columns are found by their header text, so their order may change;
//! `N/A` cells are absent values.
//!
//! The result is one [`Curve`] per (runtime, architecture, workload).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use autopilot_core::Architecture;
use serde::Serialize;

/// A problem with a benchmark table: file, 1-based line, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CebertError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub problem: String,
}

impl fmt::Display for CebertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.problem),
            None => write!(f, "{}: {}", self.path.display(), self.problem),
        }
    }
}

/// Warm or cold invocations: the two files of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Start {
    Warm,
    Cold,
}

/// Everything published for one memory size of one curve (ms and USD per 1M invocations).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CurvePoint {
    pub memory_mb: u32,
    pub warm_mean_ms: Option<f64>,
    pub warm_p99_ms: Option<f64>,
    pub cold_mean_ms: Option<f64>,
    pub cold_p99_ms: Option<f64>,
    pub init_mean_ms: Option<f64>,
    pub init_p99_ms: Option<f64>,
    pub warm_cost_per_million: Option<f64>,
    pub cold_cost_per_million: Option<f64>,
}

/// Duration and cost against memory for one runtime, architecture and workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Curve {
    pub runtime: String,
    pub architecture: Architecture,
    pub workload: String,
    /// Ascending memory.
    pub points: Vec<CurvePoint>,
}

impl Curve {
    pub fn point(&self, memory_mb: u32) -> Option<&CurvePoint> {
        self.points.iter().find(|p| p.memory_mb == memory_mb)
    }

    /// Points with a measured warm mean, as (memory MB, mean ms, p99 ms if published).
    pub fn warm(&self) -> Vec<(u32, f64, Option<f64>)> {
        self.points.iter().filter_map(|p| p.warm_mean_ms.map(|m| (p.memory_mb, m, p.warm_p99_ms))).collect()
    }
}

type Key = (String, Architecture, String);

/// Reads every `<workload>-warm.md` / `<workload>-cold.md` of a folder.
pub fn load_dir(dir: impl AsRef<Path>) -> Result<Vec<Curve>, CebertError> {
    let dir = dir.as_ref();
    let err = |problem: String| CebertError { path: dir.to_path_buf(), line: None, problem };
    let mut files: Vec<(PathBuf, String, Start)> = std::fs::read_dir(dir)
        .map_err(|e| err(format!("cannot list folder: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let stem = p.file_name()?.to_str()?.strip_suffix(".md")?.to_owned();
            let (workload, start) = match stem.rsplit_once('-')? {
                (w, "warm") => (w.to_owned(), Start::Warm),
                (w, "cold") => (w.to_owned(), Start::Cold),
                _ => return None,
            };
            Some((p, workload, start))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(err("no <workload>-warm.md or <workload>-cold.md tables in this folder".into()));
    }
    let mut curves: BTreeMap<Key, BTreeMap<u32, CurvePoint>> = BTreeMap::new();
    for (path, workload, start) in &files {
        let text = std::fs::read_to_string(path).map_err(|e| CebertError {
            path: path.clone(),
            line: None,
            problem: format!("cannot read: {e}"),
        })?;
        parse_into(path, &text, workload, *start, &mut curves)?;
    }
    Ok(into_curves(curves))
}

/// Parses one table file (the workload and start kind come from its name).
pub fn parse(path: &Path, text: &str, workload: &str, start: Start) -> Result<Vec<Curve>, CebertError> {
    let mut curves = BTreeMap::new();
    parse_into(path, text, workload, start, &mut curves)?;
    Ok(into_curves(curves))
}

fn into_curves(curves: BTreeMap<Key, BTreeMap<u32, CurvePoint>>) -> Vec<Curve> {
    curves
        .into_iter()
        .map(|((runtime, architecture, workload), points)| Curve {
            runtime,
            architecture,
            workload,
            points: points.into_values().collect(),
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Section {
    None,
    Performance,
    Cost,
    Init,
}

fn parse_into(
    path: &Path,
    text: &str,
    workload: &str,
    start: Start,
    curves: &mut BTreeMap<Key, BTreeMap<u32, CurvePoint>>,
) -> Result<(), CebertError> {
    let err = |line: usize, problem: String| CebertError { path: path.to_path_buf(), line: Some(line), problem };
    let mut runtime: Option<String> = None;
    let mut section = Section::None;
    let mut header: Option<Vec<String>> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if let Some(h) = line.strip_prefix("## ") {
            runtime = Some(h.trim().to_owned());
            section = Section::None;
        } else if let Some(h) = line.strip_prefix("### ") {
            let h = h.to_ascii_lowercase();
            section = if h.starts_with("performance comparison") {
                Section::Performance
            } else if h.starts_with("cost analysis") {
                Section::Cost
            } else if h.contains("init duration") {
                Section::Init
            } else {
                Section::None
            };
            header = None;
        } else if line.starts_with('|') && section != Section::None {
            let cells: Vec<String> = line.trim_matches('|').split('|').map(|c| c.trim().to_owned()).collect();
            let Some(columns) = &header else {
                header = Some(cells);
                continue;
            };
            if cells.iter().all(|c| c.chars().all(|ch| matches!(ch, '-' | ':'))) {
                continue;
            }
            let rt =
                runtime.clone().ok_or_else(|| err(line_no, "a table row before any '## <runtime>' heading".into()))?;
            if cells.len() != columns.len() {
                return Err(err(line_no, format!("{} cells in a {}-column table", cells.len(), columns.len())));
            }
            let memory: u32 = cells[0]
                .parse()
                .map_err(|_| err(line_no, format!("first cell {:?} is not a memory size in MB", cells[0])))?;
            for arch in Architecture::ALL {
                let prefix = match arch {
                    Architecture::Arm64 => "arm64",
                    Architecture::X86_64 => "x86",
                };
                let cell = |name: &str| -> Result<Option<f64>, CebertError> {
                    let wanted = format!("{prefix} {name}");
                    match columns.iter().position(|c| c.to_ascii_lowercase().starts_with(&wanted)) {
                        Some(col) => {
                            number(&cells[col]).map_err(|p| err(line_no, format!("column {:?}: {p}", columns[col])))
                        }
                        None => Ok(None),
                    }
                };
                let point = curves
                    .entry((rt.clone(), arch, workload.to_owned()))
                    .or_default()
                    .entry(memory)
                    .or_insert(CurvePoint { memory_mb: memory, ..CurvePoint::default() });
                match (section, start) {
                    (Section::Performance, Start::Warm) => {
                        point.warm_mean_ms = cell("duration")?.or(point.warm_mean_ms);
                        point.warm_p99_ms = cell("p99")?.or(point.warm_p99_ms);
                    }
                    (Section::Performance, Start::Cold) => {
                        point.cold_mean_ms = cell("duration")?.or(point.cold_mean_ms);
                        point.cold_p99_ms = cell("p99")?.or(point.cold_p99_ms);
                        point.init_mean_ms = point.init_mean_ms.or(cell("init")?);
                    }
                    (Section::Cost, Start::Warm) => point.warm_cost_per_million = cell("cost")?,
                    (Section::Cost, Start::Cold) => point.cold_cost_per_million = cell("cost")?,
                    (Section::Init, _) => {
                        point.init_mean_ms = cell("init")?.or(point.init_mean_ms);
                        point.init_p99_ms = cell("p99")?.or(point.init_p99_ms);
                    }
                    (Section::None, _) => {}
                }
            }
        } else if !line.starts_with('|') {
            header = None;
        }
    }
    // Drop memory sizes where nothing was measured for an architecture (all N/A).
    for points in curves.values_mut() {
        points.retain(|_, p| {
            p.warm_mean_ms.is_some()
                || p.cold_mean_ms.is_some()
                || p.init_mean_ms.is_some()
                || p.warm_cost_per_million.is_some()
        });
    }
    curves.retain(|_, points| !points.is_empty());
    Ok(())
}

/// `21604.85`, `$ 45.2119`, `N/A` (absent). Percentages are not read.
fn number(cell: &str) -> Result<Option<f64>, String> {
    let s = cell.trim().trim_start_matches('$').trim().replace(',', "");
    if s.is_empty() || s.eq_ignore_ascii_case("n/a") || s == "-" {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
        _ => Err(format!("{cell:?} is not a non-negative number")),
    }
}

#[cfg(test)]
mod tests;
