//! Figures of the concurrency benchmark: per case and policy, and the summary line.

use std::fmt::Write as _;

use super::cases::Scaling;
use super::driver::Outcome;
use super::{COST_TARGET_PCT, POLICIES};

/// Every policy's outcome on one case, in [`POLICIES`] order.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    pub scaling: Scaling,
    pub trigger: Option<String>,
    pub reclaim_minutes: u32,
    pub minutes: usize,
    pub peak_need: u32,
    pub median_need: u32,
    pub outcomes: Vec<Outcome>,
}

impl CaseResult {
    pub fn on_demand(&self) -> &Outcome {
        &self.outcomes[0]
    }

    pub fn policy(&self, name: &str) -> &Outcome {
        let i = POLICIES.iter().position(|p| *p == name).unwrap_or(0);
        &self.outcomes[i]
    }

    /// Cold starts removed vs on-demand, percent (negative = added).
    pub fn reduction_pct(&self, name: &str) -> f64 {
        reduction_pct(self.policy(name), self.on_demand())
    }

    pub fn cost_delta_pct(&self, name: &str) -> f64 {
        cost_delta_pct(self.policy(name), self.on_demand())
    }

    /// Fewer cold starts (or none either way) at no higher cost than target tracking.
    pub fn beats_target_tracking(&self) -> bool {
        let (ours, tt) = (self.policy("ours"), self.policy("target-tracking"));
        let fewer = ours.cold_starts < tt.cold_starts || (ours.cold_starts == 0 && tt.cold_starts == 0);
        fewer && ours.total_cost() <= tt.total_cost()
    }

    /// A function with at most one call per 10 minutes on average: PC can never pay there.
    pub fn sparse(&self) -> bool {
        (self.on_demand().invocations as f64) < self.minutes as f64 / 10.0
    }
}

pub fn reduction_pct(o: &Outcome, base: &Outcome) -> f64 {
    100.0 * (base.cold_starts as f64 - o.cold_starts as f64) / (base.cold_starts.max(1) as f64)
}

pub fn cost_delta_pct(o: &Outcome, base: &Outcome) -> f64 {
    let b = base.total_cost();
    if b > 0.0 { 100.0 * (o.total_cost() - b) / b } else { 0.0 }
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct Report {
    pub cases: Vec<CaseResult>,
    pub seconds: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

impl Report {
    /// The last line.
    pub fn summary_line(&self) -> String {
        let n = self.cases.len();
        let x = median(self.cases.iter().map(|c| c.reduction_pct("ours")).collect());
        let y = median(self.cases.iter().map(|c| c.cost_delta_pct("ours")).collect());
        let k = self.cases.iter().filter(|c| c.beats_target_tracking()).count();
        let w = median(
            self.cases
                .iter()
                .filter(|c| c.scaling == Scaling::Mean50)
                .map(|c| {
                    if c.cost_delta_pct("ours-pc-only") <= COST_TARGET_PCT {
                        c.reduction_pct("ours-pc-only")
                    } else {
                        0.0
                    }
                })
                .collect(),
        );
        format!(
            "concurrency: traces={n} cold_start_reduction_pct={x:.1} cost_delta_pct={y:.2} \
             pareto_vs_target_tracking={k}/{n} pc_only_busy_reduction_pct={w:.1}"
        )
    }

    /// Per-case table: cold-start reduction / cost delta (percent vs on-demand) per policy.
    pub fn case_table(&self) -> String {
        let mut s = String::new();
        let _ = write!(s, "{:<34} {:>3} {:>7} {:>6} {:>5}", "case", "rcl", "calls", "od_cs%", "need");
        for p in &POLICIES[1..] {
            let _ = write!(s, " {p:>15}");
        }
        let _ = writeln!(s, " {:>6}", "pc_use");
        for c in &self.cases {
            let od = c.on_demand();
            let label = format!(
                "{} @{}{}",
                c.name,
                c.scaling.label(),
                c.trigger.as_deref().map(|t| format!(" {t}")).unwrap_or_default()
            );
            let _ = write!(
                s,
                "{:<34} {:>3} {:>7} {:>6.2} {:>5}",
                truncate(&label, 34),
                c.reclaim_minutes,
                od.invocations,
                100.0 * od.cold_rate(),
                format!("{}/{}", c.median_need, c.peak_need)
            );
            for p in &POLICIES[1..] {
                let _ = write!(s, " {:>15}", format!("{:.0}/{:+.1}", c.reduction_pct(p), c.cost_delta_pct(p)));
            }
            let util = c.policy("ours").pc_utilisation().map_or("-".to_owned(), |u| format!("{:.0}%", 100.0 * u));
            let _ = writeln!(s, " {util:>6}");
        }
        s
    }

    /// Medians per policy over groups of cases.
    pub fn group_table(&self) -> String {
        let groups: [(&str, CaseFilter); 5] = [
            ("all", Box::new(|_| true)),
            ("aggregate @1/s", Box::new(|c| c.scaling == Scaling::Mean1)),
            ("aggregate @50/s", Box::new(|c| c.scaling == Scaling::Mean50)),
            ("azure, not sparse", Box::new(|c| c.scaling == Scaling::Real && !c.sparse())),
            ("azure, sparse (<1 call/10 min)", Box::new(|c| c.scaling == Scaling::Real && c.sparse())),
        ];
        let mut s = String::new();
        let _ = write!(s, "{:<32} {:>5}", "median reduction%/cost%", "cases");
        for p in &POLICIES[1..] {
            let _ = write!(s, " {p:>15}");
        }
        let _ = writeln!(s);
        for (label, keep) in &groups {
            let cases: Vec<&CaseResult> = self.cases.iter().filter(|c| keep(c)).collect();
            let _ = write!(s, "{label:<32} {:>5}", cases.len());
            for p in &POLICIES[1..] {
                let r = median(cases.iter().map(|c| c.reduction_pct(p)).collect());
                let d = median(cases.iter().map(|c| c.cost_delta_pct(p)).collect());
                let within = cases.iter().filter(|c| c.cost_delta_pct(p) <= COST_TARGET_PCT).count();
                let _ = write!(s, " {:>15}", format!("{r:.0}/{d:+.1} {within}"));
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(
            s,
            "(each cell: median cold-start reduction % / median cost delta % vs on-demand, then the cases within +{COST_TARGET_PCT}% cost)"
        );
        s
    }
}

/// Which cases a row of the group table covers.
type CaseFilter = Box<dyn Fn(&CaseResult) -> bool>;

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
