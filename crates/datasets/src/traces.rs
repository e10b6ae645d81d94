//! Request-arrival traces: three CSV layouts, detected from the file itself.
//!
//! 1. **Timestamp and count**: two columns with a header row (names vary: `timestamp,value`,
//!    `time,requests`, ...). Timestamps are read by [`autopilot_core::calendar::parse_timestamp_ms`];
//!    the interval is the median step between rows; missing intervals become explicit gaps;
//!    an empty or `NaN` count is a gap too.
//! 2. **Azure Functions 2019**, one row per function:
//!    `HashOwner,HashApp,HashFunction,Trigger,<minute of day>...` with invocations per minute.
//!    One series per function, keeping its trigger.
//! 3. **Request log**, one row per request: a timestamp in the first column, other columns
//!    ignored (e.g. `TIMESTAMP,ContextTokens,GeneratedTokens`). One per-minute series, and the
//!    exact timestamps.

use std::fmt;
use std::path::{Path, PathBuf};

use autopilot_core::calendar::parse_timestamp_ms;
use serde::Serialize;

/// A problem with a trace file: which file, which line (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TraceError {
    pub path: PathBuf,
    /// 1-based line, when the problem is on one line.
    pub line: Option<usize>,
    pub problem: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.problem),
            None => write!(f, "{}: {}", self.path.display(), self.problem),
        }
    }
}

/// Which layout a file was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TraceFormat {
    TimestampCount,
    AzureFunctions2019,
    RequestLog,
}

/// Counts per fixed interval; `None` marks an interval with no data (a gap), which is not
/// the same as a zero count.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RateSeries {
    pub name: String,
    /// Start of the first interval, Unix ms (for the Azure format: ms since the start of
    /// the trace's day, which the trace does not date).
    pub start_ms: i64,
    pub interval_ms: i64,
    pub counts: Vec<Option<f64>>,
    /// The Azure trigger (`http`, `timer`, `queue`, ...), when the format has one.
    pub trigger: Option<String>,
}

impl RateSeries {
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    pub fn gaps(&self) -> usize {
        self.counts.iter().filter(|c| c.is_none()).count()
    }

    /// Mean count per interval over the intervals with data (0 when there are none).
    pub fn mean_count(&self) -> f64 {
        let (sum, n) = self.counts.iter().flatten().fold((0.0, 0usize), |(s, n), c| (s + c, n + 1));
        if n == 0 { 0.0 } else { sum / n as f64 }
    }

    /// Mean arrivals per minute over the intervals with data.
    pub fn mean_per_minute(&self) -> f64 {
        self.mean_count() * 60_000.0 / self.interval_ms as f64
    }

    /// Counts with each gap filled by linear interpolation between its neighbours (the edge
    /// value at the ends; zeros when there is no data at all).
    pub fn filled(&self) -> Vec<f64> {
        let known: Vec<(usize, f64)> = self.counts.iter().enumerate().filter_map(|(i, c)| c.map(|c| (i, c))).collect();
        let Some(&(first_i, first_v)) = known.first() else {
            return vec![0.0; self.counts.len()];
        };
        let mut out = vec![first_v; self.counts.len()];
        for w in known.windows(2) {
            let ((i0, v0), (i1, v1)) = (w[0], w[1]);
            for (i, slot) in out.iter_mut().enumerate().take(i1 + 1).skip(i0) {
                *slot = v0 + (v1 - v0) * (i - i0) as f64 / (i1 - i0) as f64;
            }
        }
        let &(last_i, last_v) = known.last().unwrap_or(&(first_i, first_v));
        out.iter_mut().skip(last_i).for_each(|v| *v = last_v);
        out
    }
}

/// One loaded trace file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trace {
    pub path: PathBuf,
    pub format: TraceFormat,
    /// One series for the timestamp/count and request-log layouts, one per function for Azure.
    pub series: Vec<RateSeries>,
    /// Exact request times (Unix ms, ascending) of a request log.
    #[serde(skip)]
    pub timestamps_ms: Option<Vec<i64>>,
}

/// Loads a trace file in any of the three layouts.
pub fn load(path: impl AsRef<Path>) -> Result<Trace, TraceError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| TraceError {
        path: path.to_path_buf(),
        line: None,
        problem: format!("cannot read: {e}"),
    })?;
    parse(path, &text)
}

/// Loads every `*.csv` in a folder, in name order.
pub fn load_dir(dir: impl AsRef<Path>) -> Result<Vec<Trace>, TraceError> {
    let dir = dir.as_ref();
    let err = |problem: String| TraceError { path: dir.to_path_buf(), line: None, problem };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| err(format!("cannot list folder: {e}")))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(err("no .csv files in this folder".into()));
    }
    paths.iter().map(load).collect()
}

/// Parses the text of a trace file; `path` names it in errors and gives request logs their name.
pub fn parse(path: &Path, text: &str) -> Result<Trace, TraceError> {
    let err = |line: Option<usize>, problem: String| TraceError { path: path.to_path_buf(), line, problem };
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let (_, header) =
        lines.by_ref().find(|(_, l)| !l.trim().is_empty()).ok_or_else(|| err(None, "empty file".into()))?;
    let header = header.trim_start_matches('\u{feff}');
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let rows: Vec<(usize, &str)> = lines.filter(|(_, l)| !l.trim().is_empty()).collect();
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if columns.len() > 4 && columns[..4].iter().zip(AZURE_KEYS).all(|(c, k)| c.eq_ignore_ascii_case(k)) {
        return azure::parse(path, &columns, &rows);
    }
    let (first_line, first) = *rows.first().ok_or_else(|| err(Some(1), "a header row but no data rows".into()))?;
    let cells: Vec<&str> = first.split(',').map(str::trim).collect();
    parse_timestamp_ms(cells[0]).map_err(|e| {
        err(Some(first_line), format!("first column should be a timestamp ({e}); header was {header:?}"))
    })?;
    if columns.len() == 2 && cells.len() == 2 && (cells[1].is_empty() || cells[1].parse::<f64>().is_ok()) {
        let series = counts::parse(path, name, &rows)?;
        Ok(Trace {
            path: path.to_path_buf(),
            format: TraceFormat::TimestampCount,
            series: vec![series],
            timestamps_ms: None,
        })
    } else {
        let (series, stamps) = requests::parse(path, name, &rows)?;
        Ok(Trace {
            path: path.to_path_buf(),
            format: TraceFormat::RequestLog,
            series: vec![series],
            timestamps_ms: Some(stamps),
        })
    }
}

const AZURE_KEYS: [&str; 4] = ["HashOwner", "HashApp", "HashFunction", "Trigger"];

fn error(path: &Path, line: usize, problem: String) -> TraceError {
    TraceError { path: path.to_path_buf(), line: Some(line), problem }
}

mod counts {
    use super::*;

    pub(super) fn parse(path: &Path, name: String, rows: &[(usize, &str)]) -> Result<RateSeries, TraceError> {
        let mut points: Vec<(usize, i64, Option<f64>)> = Vec::with_capacity(rows.len());
        for &(line, row) in rows {
            let cells: Vec<&str> = row.split(',').map(str::trim).collect();
            if cells.len() != 2 {
                return Err(error(path, line, format!("expected 2 columns (timestamp,count), found {}", cells.len())));
            }
            let t = parse_timestamp_ms(cells[0]).map_err(|e| error(path, line, e.to_string()))?;
            let v = match cells[1] {
                "" => None,
                s => {
                    let v: f64 = s.parse().map_err(|_| error(path, line, format!("count {s:?} is not a number")))?;
                    if v.is_nan() {
                        None
                    } else if v < 0.0 || v.is_infinite() {
                        return Err(error(path, line, format!("count {s} must be a finite number ≥ 0")));
                    } else {
                        Some(v)
                    }
                }
            };
            if let Some(&(prev_line, prev_t, _)) = points.last()
                && t <= prev_t
            {
                return Err(error(
                    path,
                    line,
                    format!("timestamp {} is not after the one on line {prev_line}", cells[0]),
                ));
            }
            points.push((line, t, v));
        }
        let mut steps: Vec<i64> = points.windows(2).map(|w| w[1].1 - w[0].1).collect();
        steps.sort_unstable();
        let interval = snap_interval(steps.get(steps.len() / 2).copied().unwrap_or(60_000));
        let start = points[0].1;
        let mut counts: Vec<Option<f64>> = Vec::with_capacity(points.len());
        for &(line, t, v) in &points {
            // Snap to the grid of the median step: late or early stamps land in their interval.
            let idx = ((t - start) as f64 / interval as f64).round() as usize;
            if idx < counts.len() {
                return Err(error(path, line, format!("two rows fall in the same {interval} ms interval")));
            }
            counts.resize(idx, None);
            counts.push(v);
        }
        Ok(RateSeries { name, start_ms: start, interval_ms: interval, counts, trigger: None })
    }
}

/// The median step snapped to a customary interval (1 s … 1 day) when within 5% of one, so
/// that jittered stamps (`10:05:05`, `10:09:58`) still give a 5-minute grid.
fn snap_interval(median_ms: i64) -> i64 {
    const CUSTOMARY_S: [i64; 17] =
        [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 21_600, 86_400];
    CUSTOMARY_S.iter().map(|s| s * 1_000).find(|&c| (median_ms - c).abs() * 20 <= c).unwrap_or(median_ms.max(1))
}

mod azure {
    use super::*;

    pub(super) fn parse(path: &Path, columns: &[&str], rows: &[(usize, &str)]) -> Result<Trace, TraceError> {
        let minutes: Vec<i64> = columns[4..]
            .iter()
            .map(|c| c.parse::<i64>().map_err(|_| error(path, 1, format!("column {c:?} is not a minute of the day"))))
            .collect::<Result<_, _>>()?;
        if minutes.windows(2).any(|w| w[1] <= w[0]) {
            return Err(error(path, 1, "minute columns must increase".into()));
        }
        let first = minutes[0];
        let span = (minutes[minutes.len() - 1] - first + 1) as usize;
        let mut series = Vec::with_capacity(rows.len());
        for &(line, row) in rows {
            let cells: Vec<&str> = row.split(',').map(str::trim).collect();
            if cells.len() != columns.len() {
                return Err(error(path, line, format!("expected {} columns, found {}", columns.len(), cells.len())));
            }
            let mut counts = vec![None; span];
            for (cell, &minute) in cells[4..].iter().zip(&minutes) {
                if cell.is_empty() {
                    continue;
                }
                let v: f64 = cell.parse().map_err(|_| error(path, line, format!("count {cell:?} is not a number")))?;
                if !(v >= 0.0 && v.is_finite()) {
                    return Err(error(path, line, format!("count {cell} must be a finite number ≥ 0")));
                }
                counts[(minute - first) as usize] = Some(v);
            }
            series.push(RateSeries {
                name: cells[2].to_owned(),
                start_ms: first * 60_000,
                interval_ms: 60_000,
                counts,
                trigger: Some(cells[3].to_owned()),
            });
        }
        if series.is_empty() {
            return Err(error(path, 1, "a header row but no functions".into()));
        }
        Ok(Trace { path: path.to_path_buf(), format: TraceFormat::AzureFunctions2019, series, timestamps_ms: None })
    }
}

mod requests {
    use super::*;

    pub(super) fn parse(
        path: &Path,
        name: String,
        rows: &[(usize, &str)],
    ) -> Result<(RateSeries, Vec<i64>), TraceError> {
        let mut stamps = Vec::with_capacity(rows.len());
        for &(line, row) in rows {
            let cell = row.split(',').next().unwrap_or("").trim();
            stamps.push(parse_timestamp_ms(cell).map_err(|e| error(path, line, e.to_string()))?);
        }
        stamps.sort_unstable();
        let start = stamps[0].div_euclid(60_000) * 60_000;
        let last = stamps[stamps.len() - 1];
        let mut counts = vec![Some(0.0); ((last - start) / 60_000 + 1) as usize];
        for &t in &stamps {
            if let Some(c) = &mut counts[((t - start) / 60_000) as usize] {
                *c += 1.0;
            }
        }
        Ok((RateSeries { name, start_ms: start, interval_ms: 60_000, counts, trigger: None }, stamps))
    }
}

#[cfg(test)]
mod tests;
