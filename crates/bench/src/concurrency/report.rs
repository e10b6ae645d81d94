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

    /// Cold starts removed vs on-demand, percent (negative = added; a case without on-demand
    /// cold starts counts −100% per cold start the policy added).
    pub fn reduction_pct(&self, name: &str) -> f64 {
        reduction_pct(self.policy(name), self.on_demand())
    }

    /// On-demand has cold starts to remove (the reduction medians are over these cases).
    pub fn has_cold_starts(&self) -> bool {
        self.on_demand().cold_starts > 0
    }

    pub fn cost_delta_pct(&self, name: &str) -> f64 {
        cost_delta_pct(self.policy(name), self.on_demand())
    }

    /// The definition: fewer cold starts than the target-tracking replica and no
    /// higher cost. Strict on cold starts: where target tracking has none (its minimum capacity
    /// of one keeps a quiet function provisioned around the clock), nothing has fewer, however
    /// cheaper — [`Self::versus_target_tracking`] tells those cases apart.
    pub fn beats_target_tracking(&self) -> bool {
        self.versus_target_tracking() == VersusTt::Better
    }

    pub fn versus_target_tracking(&self) -> VersusTt {
        let (ours, tt) = (self.policy("ours"), self.policy("target-tracking"));
        let cheaper = ours.total_cost() <= tt.total_cost();
        match (ours.cold_starts.cmp(&tt.cold_starts), cheaper) {
            (std::cmp::Ordering::Less, true) => VersusTt::Better,
            (std::cmp::Ordering::Equal, true) => VersusTt::TiedCheaper,
            (std::cmp::Ordering::Greater, true) => VersusTt::MoreColdCheaper,
            (std::cmp::Ordering::Less, false) => VersusTt::FewerColdDearer,
            (_, false) => VersusTt::Worse,
        }
    }

    /// A function with at most one call per 10 minutes on average: PC can never pay there.
    pub fn sparse(&self) -> bool {
        (self.on_demand().invocations as f64) < self.minutes as f64 / 10.0
    }
}

/// How ours compares with target tracking on one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersusTt {
    /// Fewer cold starts, no higher cost: the count.
    Better,
    /// As many cold starts (typically none either way), no higher cost.
    TiedCheaper,
    /// More cold starts, no higher cost (target tracking buys its few with PC around the clock).
    MoreColdCheaper,
    /// Fewer cold starts at a higher cost.
    FewerColdDearer,
    /// No fewer cold starts and a higher cost: target tracking dominates.
    Worse,
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
    /// The last line. X is the median over the cases whose on-demand run has cold
    /// starts to remove (a reduction of nothing is undefined); Y the median over all.
    pub fn summary_line(&self) -> String {
        let n = self.cases.len();
        let x = median(self.cases.iter().filter(|c| c.has_cold_starts()).map(|c| c.reduction_pct("ours")).collect());
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
            let with_cold = cases.iter().filter(|c| c.has_cold_starts()).count();
            let _ = write!(s, "{label:<32} {:>5}", format!("{}/{with_cold}", cases.len()));
            for p in &POLICIES[1..] {
                let r = median(cases.iter().filter(|c| c.has_cold_starts()).map(|c| c.reduction_pct(p)).collect());
                let d = median(cases.iter().map(|c| c.cost_delta_pct(p)).collect());
                let within = cases.iter().filter(|c| c.cost_delta_pct(p) <= COST_TARGET_PCT).count();
                let _ = write!(s, " {:>15}", format!("{r:.0}/{d:+.1} {within}"));
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(
            s,
            "(each cell: median cold-start reduction % over the cases with on-demand cold starts / median cost delta % \
             vs on-demand over all, then the cases within +{COST_TARGET_PCT}% cost; cases: all/with on-demand cold starts)"
        );
        s
    }

    /// Cases without on-demand cold starts in which each forecasting policy added some.
    pub fn added_cold_starts_line(&self) -> String {
        let quiet: Vec<&CaseResult> = self.cases.iter().filter(|c| !c.has_cold_starts()).collect();
        let parts: Vec<String> = ["ours", "ours-capped", "ours-pc-only", "ours-pc-only-cap"]
            .iter()
            .map(|p| {
                let added: Vec<u64> = quiet.iter().map(|c| c.policy(p).cold_starts).filter(|n| *n > 0).collect();
                format!("{p} {} ({} cold starts)", added.len(), added.iter().sum::<u64>())
            })
            .collect();
        format!(
            "cases without on-demand cold starts: {} (left out of the reduction medians); of those, cases where a policy added some: {}",
            quiet.len(),
            parts.join(", ")
        )
    }

    /// How ours compares with target tracking, beyond the count.
    pub fn target_tracking_line(&self) -> String {
        let count = |v: VersusTt| self.cases.iter().filter(|c| c.versus_target_tracking() == v).count();
        let dearer_tt: Vec<f64> = self
            .cases
            .iter()
            .filter(|c| c.versus_target_tracking() == VersusTt::MoreColdCheaper)
            .map(|c| c.cost_delta_pct("target-tracking") - c.cost_delta_pct("ours"))
            .collect();
        format!(
            "ours vs target tracking: fewer cold starts and no dearer {} (the issue's count); as many, no dearer {}; \
             more but cheaper {} (target tracking costs a median {:.0} points of the on-demand bill more there: \
             its minimum capacity of one keeps PC around the clock); fewer but dearer {}; dominated {}",
            count(VersusTt::Better),
            count(VersusTt::TiedCheaper),
            count(VersusTt::MoreColdCheaper),
            median(dearer_tt),
            count(VersusTt::FewerColdDearer),
            count(VersusTt::Worse),
        )
    }

    /// The forecasting policies over the whole simulated window, warm-up included, and the
    /// cold starts that warm-up rounds caused.
    pub fn whole_window_line(&self) -> String {
        let parts: Vec<String> = ["ours", "ours-capped", "pinger", "oracle-pc+kw"]
            .iter()
            .map(|p| {
                let r = median(
                    self.cases
                        .iter()
                        .filter(|c| c.on_demand().whole_cold_starts > 0)
                        .map(|c| {
                            let (o, od) =
                                (c.policy(p).whole_cold_starts as f64, c.on_demand().whole_cold_starts as f64);
                            100.0 * (od - o) / od
                        })
                        .collect(),
                );
                let d = median(
                    self.cases
                        .iter()
                        .map(|c| 100.0 * (c.policy(p).whole_cost / c.on_demand().whole_cost.max(1e-12) - 1.0))
                        .collect(),
                );
                format!("{p} {r:.0}/{d:+.1}")
            })
            .collect();
        format!("whole window, warm-up included (median reduction/cost %): {}", parts.join(", "))
    }

    /// Cold starts that landed behind warm-up rounds, and warm-ups that started cold.
    pub fn warmup_line(&self) -> String {
        let parts: Vec<String> = ["ours", "ours-capped", "pinger", "oracle-pc+kw"]
            .iter()
            .map(|p| {
                let (mut cs, mut behind, mut sent, mut cold) = (0, 0, 0, 0);
                for c in &self.cases {
                    let o = c.policy(p);
                    (cs, behind, sent, cold) =
                        (cs + o.cold_starts, behind + o.cold_behind_warmups, sent + o.warmups, cold + o.warmups_cold);
                }
                format!("{p} {behind} of {cs} cold starts behind warm-ups, {cold} of {sent} warm-ups cold")
            })
            .collect();
        parts.join("; ")
    }
}

/// Which cases a row of the group table covers.
type CaseFilter = Box<dyn Fn(&CaseResult) -> bool>;

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
