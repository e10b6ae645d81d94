//! The benchmark's figures as text: a table per scenario, a summary per scenario, and the
//! summary line the compass reads (always last).

use std::fmt::Write as _;

use super::{ActiveCell, CurveResult, NUMS, SUMMARY_NUM, TunerBench, percentile};

/// The figures of the last line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub curves: usize,
    pub median_regret_pct: f64,
    pub p90_regret_pct: f64,
    pub pt_median_regret_pct: f64,
    pub pt_p90_regret_pct: f64,
    /// Median over curves of Power Tuning's invocations at `num` = 2 (ours gets the same).
    pub budget_invocations: f64,
    /// Chosen sizes above the SLO in the SLO scenario, every `num` and repetition.
    pub slo_violations: usize,
    pub pt_slo_violations: usize,
    /// 90th percentile over curves × repetitions of passive runs needed.
    pub passive_runs_p90: f64,
}

impl Summary {
    pub fn line(&self) -> String {
        format!(
            "tuner: curves={} median_regret_pct={:.2} p90_regret_pct={:.2} pt_median_regret_pct={:.2} \
             pt_p90_regret_pct={:.2} budget_invocations={} slo_violations={} pt_slo_violations={} passive_runs_p90={}",
            self.curves,
            self.median_regret_pct,
            self.p90_regret_pct,
            self.pt_median_regret_pct,
            self.pt_p90_regret_pct,
            self.budget_invocations,
            self.slo_violations,
            self.pt_slo_violations,
            self.passive_runs_p90,
        )
    }
}

fn pooled(curves: &[CurveResult], pick: impl Fn(&CurveResult) -> &[ActiveCell], num: u64, ours: bool) -> Vec<f64> {
    curves
        .iter()
        .flat_map(|c| {
            pick(c).iter().filter(|a| a.num == num).flat_map(|a| if ours { a.ours.clone() } else { a.pt.clone() })
        })
        .map(|r| 100.0 * r)
        .collect()
}

pub fn summarise(curves: &[CurveResult], horizon: usize) -> Summary {
    let ours = pooled(curves, |c| &c.cost, SUMMARY_NUM, true);
    let pt = pooled(curves, |c| &c.cost, SUMMARY_NUM, false);
    let budgets: Vec<f64> =
        curves.iter().flat_map(|c| c.cost.iter().filter(|a| a.num == SUMMARY_NUM).map(|a| a.budget as f64)).collect();
    let runs: Vec<f64> = curves.iter().flat_map(|c| c.passive.runs_needed(horizon)).collect();
    Summary {
        curves: curves.len(),
        median_regret_pct: percentile(&ours, 50.0),
        p90_regret_pct: percentile(&ours, 90.0),
        pt_median_regret_pct: percentile(&pt, 50.0),
        pt_p90_regret_pct: percentile(&pt, 90.0),
        budget_invocations: percentile(&budgets, 50.0),
        slo_violations: curves.iter().flat_map(|c| &c.slo).map(|a| a.ours_violations).sum(),
        pt_slo_violations: curves.iter().flat_map(|c| &c.slo).map(|a| a.pt_violations).sum(),
        passive_runs_p90: percentile(&runs, 90.0),
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 }
}

fn active_table(out: &mut String, title: &str, curves: &[CurveResult], slo: bool) {
    let _ = writeln!(out, "\n## {title}");
    let _ = writeln!(
        out,
        "mean regret % over repetitions, ours / Power Tuning, at equal invocations (B = Power Tuning's at num){}",
        if slo { "; viol = chosen sizes above the SLO, ours / PT, all nums" } else { "" }
    );
    let mut head = format!("{:<36} {:>12} {:>7}", "curve", "range MB", "opt MB");
    if slo {
        head += &format!(" {:>9} {:>5}", "SLO ms", "binds");
    }
    for num in NUMS {
        head += &format!(" {:>17}", format!("num={num} (B)"));
    }
    head += if slo { "   viol" } else { "  inv@10" };
    let _ = writeln!(out, "{head}");
    for c in curves {
        let cells = if slo { &c.slo } else { &c.cost };
        let mut line =
            format!("{:<36} {:>12} {:>7}", c.name, format!("{}-{}", c.lo.get(), c.hi.get()), c.optimum.get());
        if slo {
            line += &format!(" {:>9.1} {:>5}", c.slo_ms, if c.slo_binds { "yes" } else { "no" });
        }
        for a in cells {
            line +=
                &format!(" {:>17}", format!("{:.2}/{:.2} ({})", 100.0 * mean(&a.ours), 100.0 * mean(&a.pt), a.budget));
        }
        if slo {
            let (o, p): (usize, usize) =
                (cells.iter().map(|a| a.ours_violations).sum(), cells.iter().map(|a| a.pt_violations).sum());
            line += &format!(" {:>6}", format!("{o}/{p}"));
        } else {
            line += &format!(" {:>7.1}", cells.iter().find(|a| a.num == 10).map_or(f64::NAN, |a| a.ours_invocations));
        }
        let _ = writeln!(out, "{line}");
    }
}

fn passive_table(out: &mut String, title: &str, curves: &[CurveResult], horizon: usize, slo: bool) {
    let _ = writeln!(out, "\n## {title}");
    let _ = writeln!(
        out,
        "per curve over repetitions (seeded start size and cold-start share): runs until within 2% of the optimal cost median/max, repetitions settled within 2% to the end, extra cost paid on the way vs the optimum all along, saving at the end vs the start, rollbacks, SLO violations (windows)"
    );
    let _ = writeln!(
        out,
        "{:<36} {:>12} {:>9} {:>9} {:>10} {:>10} {:>9} {:>6}",
        "curve", "range MB", "runs", "settled", "extra %", "saving %", "rollback", "viol"
    );
    for c in curves {
        let cell = if slo { &c.passive_slo } else { &c.passive };
        let runs = cell.runs_needed(horizon);
        let settled = cell.runs.iter().filter(|r| r.runs_needed.is_some()).count();
        let extra: Vec<f64> = cell.runs.iter().map(|r| r.extra_cost_pct).collect();
        let saving: Vec<f64> = cell.runs.iter().map(|r| r.saving_pct).collect();
        let _ = writeln!(
            out,
            "{:<36} {:>12} {:>9} {:>9} {:>10.2} {:>10.2} {:>9} {:>6}",
            c.name,
            format!("{}-{}", c.lo.get(), c.hi.get()),
            format!("{}/{}", percentile(&runs, 50.0), percentile(&runs, 100.0)),
            format!("{settled}/{}", cell.runs.len()),
            mean(&extra),
            mean(&saving),
            cell.runs.iter().map(|r| r.rollbacks).sum::<usize>(),
            cell.runs.iter().map(|r| r.violations).sum::<usize>(),
        );
    }
}

fn scenario_summary(out: &mut String, label: &str, curves: &[CurveResult], horizon: usize) {
    for num in NUMS {
        let (o, p) = (pooled(curves, |c| &c.cost, num, true), pooled(curves, |c| &c.cost, num, false));
        let _ = writeln!(
            out,
            "{label} active cost num={num:<2}: ours median {:.2}% p90 {:.2}% | Power Tuning median {:.2}% p90 {:.2}%",
            percentile(&o, 50.0),
            percentile(&o, 90.0),
            percentile(&p, 50.0),
            percentile(&p, 90.0)
        );
    }
    let binds = curves.iter().filter(|c| c.slo_binds).count();
    for num in NUMS {
        let (o, p) = (pooled(curves, |c| &c.slo, num, true), pooled(curves, |c| &c.slo, num, false));
        let (vo, vp): (usize, usize) = curves
            .iter()
            .flat_map(|c| c.slo.iter().filter(|a| a.num == num))
            .fold((0, 0), |(a, b), cell| (a + cell.ours_violations, b + cell.pt_violations));
        let _ = writeln!(
            out,
            "{label} active SLO  num={num:<2}: ours median {:.2}% p90 {:.2}% violations {vo} | Power Tuning median {:.2}% p90 {:.2}% violations {vp} (SLO binds on {binds}/{} curves)",
            percentile(&o, 50.0),
            percentile(&o, 90.0),
            percentile(&p, 50.0),
            percentile(&p, 90.0),
            curves.len()
        );
    }
    for (name, slo) in [("passive", false), ("passive+SLO", true)] {
        let cells: Vec<_> = curves.iter().map(|c| if slo { &c.passive_slo } else { &c.passive }).collect();
        let runs: Vec<f64> = cells.iter().flat_map(|c| c.runs_needed(horizon)).collect();
        let extra: Vec<f64> = cells.iter().flat_map(|c| c.runs.iter().map(|r| r.extra_cost_pct)).collect();
        let saving: Vec<f64> = cells.iter().flat_map(|c| c.runs.iter().map(|r| r.saving_pct)).collect();
        let never = cells.iter().flat_map(|c| &c.runs).filter(|r| r.runs_needed.is_none()).count();
        let settled: Vec<f64> = cells
            .iter()
            .flat_map(|c| &c.runs)
            .map(|r| r.runs_to_settle.map_or(horizon as f64 + 1.0, |v| v as f64))
            .collect();
        let unsettled = cells.iter().flat_map(|c| &c.runs).filter(|r| r.runs_to_settle.is_none()).count();
        let finals: Vec<f64> = cells.iter().flat_map(|c| c.runs.iter().map(|r| r.final_regret_pct)).collect();
        let _ = writeln!(
            out,
            "{label} {name:<11}: runs until within 2% median {} p90 {} (never {never}/{}); until settled within 2% median {} p90 {} (unsettled {unsettled}); final regret median {:.2}% p90 {:.2}%; extra cost median {:.2}% p90 {:.2}%, saving vs start median {:.2}%, rollbacks {}, violation windows {} (moved into by the tuner {})",
            percentile(&runs, 50.0),
            percentile(&runs, 90.0),
            runs.len(),
            percentile(&settled, 50.0),
            percentile(&settled, 90.0),
            percentile(&finals, 50.0),
            percentile(&finals, 90.0),
            percentile(&extra, 50.0),
            percentile(&extra, 90.0),
            percentile(&saving, 50.0),
            cells.iter().flat_map(|c| &c.runs).map(|r| r.rollbacks).sum::<usize>(),
            cells.iter().flat_map(|c| &c.runs).map(|r| r.violations).sum::<usize>(),
            cells.iter().flat_map(|c| &c.runs).map(|r| r.caused_violations).sum::<usize>(),
        );
    }
}

/// Tables, scenario summaries and, last, the summary line.
pub fn render(bench: &TunerBench) -> String {
    let h = bench.options.passive_runs;
    let mut out = String::new();
    for (label, curves) in [("real (cebert)", &bench.curves), ("held-out synthetic", &bench.synthetic)] {
        let _ = writeln!(out, "\n# {label}: {} curves", curves.len());
        active_table(&mut out, "active, cost goal", curves, false);
        active_table(&mut out, "active, cost under a p99 SLO", curves, true);
        passive_table(&mut out, "passive, production traffic (cost with INIT)", curves, h, false);
        passive_table(&mut out, "passive, production traffic under a p99 SLO", curves, h, true);
    }
    let _ = writeln!(out, "\n# summary");
    scenario_summary(&mut out, "real     ", &bench.curves, h);
    scenario_summary(&mut out, "held-out ", &bench.synthetic, h);
    out += &summarise(&bench.curves, h).line();
    out
}
