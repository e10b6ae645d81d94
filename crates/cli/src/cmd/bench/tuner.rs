//! `autopilot bench tuner [--data DIR]`.

use std::io::Write;
use std::path::PathBuf;

use autopilot_bench::tuner::{self, Options, load_curves, report};
use autopilot_datasets::data_dir::require_dir;
use autopilot_sim::model::Interpolation;
use clap::{Args, ValueEnum};

use crate::CliError;

/// The memory tuner against a faithful AWS Lambda Power Tuning replica on real duration
/// curves, at equal invocation budgets: active with a cost goal (num = 1, 2, 10), active
/// under a p99 SLO, and passive from production traffic (no synthetic invocations); the
/// same on held-out synthetic curves. Tables per curve and scenario, then the summary line.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  autopilot bench tuner\n  autopilot bench tuner --data ../shared/data/lambda-benchmarks/cebert-november-2025"
)]
pub struct TunerArgs {
    /// Folder of cebert benchmark tables (`<workload>-warm.md`, `<workload>-cold.md`).
    #[arg(long, default_value = "../shared/data/lambda-benchmarks/cebert-november-2025")]
    pub data: PathBuf,
    /// Noise draws per curve in the active scenarios.
    #[arg(long, default_value_t = 20)]
    pub repetitions: u64,
    /// Start sizes and cold-start shares per curve in the passive scenario.
    #[arg(long, default_value_t = 10)]
    pub passive_repetitions: u64,
    #[arg(long, default_value_t = 20_251_122)]
    pub seed: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// How the ground truth joins the measured sizes: `cubic` (monotone cubic in log-log,
    /// which can put a cost dip between two measurements that neither shows) or `power-law`
    /// (straight in log-log, so a curve's cost optimum lies at a measured size, which is
    /// where Power Tuning's ladder samples). Neither is known to be the truth between two
    /// measurements; the README gives the figures of both.
    #[arg(long, value_enum, default_value_t = Truth::Cubic)]
    pub truth: Truth,
    /// Instead of the benchmark: per-case diagnostics (to stderr) of the curves whose name
    /// contains this text (held-out synthetic curves included: `synthetic/`) — each active SLO choice that breaks the SLO with its probes, and
    /// each passive repetition that is slow to arrive or breaks the SLO, run by run.
    #[arg(long)]
    pub diagnose: Option<String>,
}

/// [`Interpolation`] on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Truth {
    PowerLaw,
    Cubic,
}

impl From<Truth> for Interpolation {
    fn from(t: Truth) -> Self {
        match t {
            Truth::PowerLaw => Interpolation::PowerLaw,
            Truth::Cubic => Interpolation::MonotoneCubic,
        }
    }
}

pub fn run(args: &TunerArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), CliError> {
    let dir =
        require_dir(&args.data).map_err(|e| CliError::BadInput { path: args.data.clone(), problem: e.to_string() })?;
    let curves = load_curves(&dir, args.truth.into())
        .map_err(|e| CliError::BadInput { path: args.data.clone(), problem: e.to_string() })?;
    if curves.is_empty() {
        return Err(CliError::BadInput {
            path: args.data.clone(),
            problem: "no curve with at least three warm sizes in these tables".into(),
        });
    }
    let opts = Options {
        seed: args.seed,
        repetitions: args.repetitions.max(1),
        passive_repetitions: args.passive_repetitions.max(1),
        truth: args.truth.into(),
        ..Options::default()
    };
    if let Some(name) = &args.diagnose {
        let settings = autopilot_core::tuner::Settings::default();
        let synthetic = tuner::synthetic::curves(opts.seed, opts.synthetic_curves, opts.truth);
        for t in curves.iter().chain(&synthetic).filter(|t| t.name.contains(name.as_str())) {
            writeln!(err, "{}", tuner::diagnose::curve(t, &opts, &settings))?;
        }
        return Ok(());
    }
    writeln!(
        err,
        "tuner: {} curves from {} (+{} held-out synthetic) on {} threads ...",
        curves.len(),
        dir.display(),
        opts.synthetic_curves,
        args.threads
    )?;
    // Progress from the worker threads goes to the process's stderr (the `err` writer is
    // not shareable across threads).
    let started = std::time::Instant::now();
    let bench = tuner::run(&curves, &opts, args.threads, &|done, total, curve| {
        let _ = writeln!(std::io::stderr(), "  [{done}/{total}] {curve}");
    });
    writeln!(err, "tuner: {:.1} s", started.elapsed().as_secs_f64())?;
    writeln!(out, "{}", report::render(&bench))?;
    Ok(())
}
