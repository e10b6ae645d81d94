//! `autopilot bench forecast [--traces DIR]`.

use std::io::Write;
use std::path::PathBuf;

use autopilot_bench::forecast::run_dir;
use autopilot_datasets::data_dir::require_dir;
use clap::Args;

use crate::CliError;

/// Rolling-origin MASE of the forecaster against seasonal-naive at 1 h and 24 h horizons on
/// every series of at least 7 days, and the time to forecast a fleet of functions with 14
/// days of 1-minute history on one core. Built with `--features autopilot-bench/augurs`, it
/// also runs augurs MSTL + ETS on every 4th origin.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  autopilot bench forecast\n  autopilot bench forecast --traces my-traces/ --fleet 1000"
)]
pub struct ForecastArgs {
    /// Folder of trace CSVs (timestamp,count; Azure Functions 2019; request logs).
    #[arg(long, default_value = "../shared/data/traces")]
    pub traces: PathBuf,
    /// Synthetic functions in the speed test.
    #[arg(long, default_value_t = 10_000)]
    pub fleet: usize,
}

pub fn run(args: &ForecastArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), CliError> {
    let dir = require_dir(&args.traces)
        .map_err(|e| CliError::BadInput { path: args.traces.clone(), problem: e.to_string() })?;
    writeln!(err, "forecast: rolling origins on {}, then {} functions × 14 days ...", dir.display(), args.fleet)?;
    let report = run_dir(&dir, args.fleet)?;
    writeln!(
        out,
        "{:<28} {:>5} {:>7} | {:>8} {:>8} {:>5} {:>5} | {:>9} {:>9} | {:>10} {:>10} | {:>7}",
        "series",
        "days",
        "origins",
        "mase_1h",
        "mase_24h",
        "p90",
        "p99",
        "naive_1d",
        "naive_7d",
        "augurs_1h",
        "augurs_24h",
        "fit_ms"
    )?;
    for s in &report.series {
        let (a1, a24, ams) = s.augurs.map_or(("-".into(), "-".into(), String::new()), |(a, ms)| {
            (format!("{:.3}", a.mase_1h), format!("{:.3}", a.mase_24h), format!(" augurs {ms:.1} ms"))
        });
        writeln!(
            out,
            "{:<28} {:>5.1} {:>7} | {:>8.3} {:>8.3} {:>4.0}% {:>4.0}% | {:>9.3} {:>9.3} | {:>10} {:>10} | {:>7.3}{}",
            s.name.chars().take(28).collect::<String>(),
            s.days,
            s.origins,
            s.ours.mase_1h,
            s.ours.mase_24h,
            100.0 * s.ours.coverage_p90,
            100.0 * s.ours.coverage_p99,
            s.naive_day.mase_24h,
            s.naive_week.mase_24h,
            a1,
            a24,
            s.fit_ms,
            ams
        )?;
    }
    writeln!(
        out,
        "(fit_ms: CPU ms per fit + 24 h forecast; MASE: MAE of the p50 / in-sample MAE of the one-day-back forecast; p90/p99: share of 5-min bins at or under the forecast quantile over 24 h; naive_1d/7d: MASE at 24 h of the value one day / one week back)"
    )?;
    let f = &report.fleet;
    writeln!(
        out,
        "fleet: {} functions × {} days of 1-minute history forecast in {:.2} {} s on one thread ({:.3} ms per function; target ≤ 60 s)",
        f.functions,
        f.history_days,
        f.seconds,
        if f.cpu { "CPU" } else { "wall" },
        f.ms_per_series
    )?;
    writeln!(out, "{}", report.summary_line())?;
    Ok(())
}
