//! Per-case diagnostics for one curve (`autopilot bench tuner --diagnose NAME`): every
//! active SLO choice that breaks the SLO, with the probes and the evidence behind it, and
//! every passive repetition that takes more than [`SLOW_RUNS`] runs to come within 2% of
//! the optimum, with its path and the decision of each run. Written to stderr: it explains
//! the figures, it is not one of them.

use std::fmt::Write as _;

use autopilot_core::MemoryMb;
use autopilot_core::cost::CostModel;
use autopilot_core::decision::MemoryDecision;
use autopilot_core::tuner::Settings;

use super::truth::Truth;
use super::{NUMS, Options, active, active_slo, passive, passive_curve, policy_for, warm_optimum};

/// A passive repetition slower than this many runs is shown.
pub const SLOW_RUNS: usize = 6;

/// The diagnostics of one curve as text; the active traces go to stderr as they run.
pub fn curve(t: &Truth, opts: &Options, settings: &Settings) -> String {
    let mut out = String::new();
    let cost = CostModel::default();
    let (opt, best) = warm_optimum(t, None);
    let slo = active_slo(t);
    let (opt_slo, best_slo) = warm_optimum(t, Some(slo));
    let _ = writeln!(
        out,
        "# {} range {}-{}: warm optimum {opt} ({:.4} $/M); SLO {slo:.1} ms → optimum {opt_slo} ({:.4} $/M)",
        t.name,
        t.lo,
        t.hi,
        best * 1e6,
        best_slo * 1e6
    );
    let _ = writeln!(out, "size MB   mean ms   p99 ms   cost/opt   ok-SLO");
    for m in sizes_of_interest(t, &[opt, opt_slo]) {
        let w = t.warm(m);
        let _ = writeln!(
            out,
            "{:>7} {:>9.2} {:>8.2} {:>10.4} {:>8}",
            m.get(),
            w.mean_ms,
            w.p99_ms(),
            t.warm_cost(&cost, m) / best,
            if w.p99_ms() <= slo { "yes" } else { "no" }
        );
    }
    active_slo_cases(&mut out, t, slo, opts, settings);
    passive_cases(&mut out, t, false, opts, settings);
    passive_cases(&mut out, t, true, opts, settings);
    out
}

fn sizes_of_interest(t: &Truth, extra: &[MemoryMb]) -> Vec<MemoryMb> {
    let mut v: Vec<MemoryMb> = t.measured.iter().filter_map(|&m| MemoryMb::new(u64::from(m)).ok()).collect();
    // Sizes between measured ones, where an interpolated dip would hide.
    for w in t.measured.windows(2) {
        v.push(MemoryMb::clamped((f64::from(w[0]) * f64::from(w[1])).sqrt()));
    }
    v.extend_from_slice(extra);
    v.sort();
    v.dedup();
    v
}

#[allow(clippy::print_stderr)]
fn active_slo_cases(out: &mut String, t: &Truth, slo: f64, opts: &Options, settings: &Settings) {
    let policy = policy_for(t, Some(slo));
    for num in NUMS {
        let budget = active::budget(t, num);
        for rep in 0..opts.repetitions {
            let mut noise = active::Noise::new(opts.seed, &t.name, rep * 100 + num);
            let _ = active::power_tuning(t, num, &mut noise);
            let ours = active::ours(t, &policy, budget, &mut noise, settings);
            let p99 = t.warm_p99(ours.memory);
            if p99 <= slo {
                continue;
            }
            let _ = writeln!(
                out,
                "active SLO num={num} rep={rep}: chose {} (true p99 {p99:.2} > SLO {slo:.2}) after {} invocations",
                ours.memory, ours.invocations
            );
            eprintln!("--- {} active SLO num={num} rep={rep} (trace)", t.name);
            let mut noise = active::Noise::new(opts.seed, &t.name, rep * 100 + num);
            let _ = active::power_tuning(t, num, &mut noise);
            let _ = active::ours_traced(t, &policy, budget, &mut noise, settings);
        }
    }
}

fn passive_cases(out: &mut String, t: &Truth, with_slo: bool, opts: &Options, settings: &Settings) {
    let cost = CostModel::default();
    let cell = passive_curve(t, with_slo, opts, settings);
    let label = if with_slo { "passive+SLO" } else { "passive" };
    for (rep, r) in cell.runs.iter().enumerate() {
        let slow = r.runs_needed.is_none_or(|n| n > SLOW_RUNS);
        if !slow && r.violations == 0 {
            continue;
        }
        let cold = cell.cold_shares[rep];
        let price = |m: MemoryMb| t.production_cost(&cost, m, cold);
        let best = price(r.optimum);
        let _ = writeln!(
            out,
            "{label} rep={rep}: cold share {:.4}, SLO {:?}, optimum {} — runs needed {:?}, violations {}, final regret {:.2}%",
            cold,
            cell.slos[rep].map(|s| (s * 100.0).round() / 100.0),
            r.optimum,
            r.runs_needed,
            r.violations,
            r.final_regret_pct
        );
        for (day, d) in r.decisions.iter().enumerate() {
            let m = r.sizes[day];
            let p99 = passive::production_p99(t, m, cold);
            let _ = writeln!(
                out,
                "  run {day:>2} at {:>5} MB cost/opt {:.4} p99 {:>9.2}: {}",
                m.get(),
                price(m) / best,
                p99,
                brief(d)
            );
        }
    }
}

fn brief(d: &MemoryDecision) -> String {
    match d {
        MemoryDecision::Keep { reason, .. } => format!("keep ({reason:?})"),
        MemoryDecision::Explore { to, reason, expected, .. } | MemoryDecision::Resize { to, reason, expected, .. } => {
            format!(
                "{} → {to} ({reason:?}; expected p99 {:.1} up {:.1}, $/M {:.4}, conf {:.2})",
                if matches!(d, MemoryDecision::Explore { .. }) { "explore" } else { "resize" },
                expected.p99_ms,
                expected.p99_upper_ms.unwrap_or(f64::NAN),
                expected.cost_per_million_usd,
                expected.confidence
            )
        }
        MemoryDecision::Rollback { to, verdict, .. } => format!("rollback → {to} ({verdict:?})"),
    }
}
