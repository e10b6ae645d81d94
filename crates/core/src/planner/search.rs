//! The search: per slot, the best keep-warm top for every PC level; over the horizon, a
//! dynamic programme on the PC level carried from slot to slot, so that lowering PC pays for
//! the levels it exposes and raising it pays the extra billing step of its lead time.

use super::crowding::crowded_per_round;
use super::levels::SlotLevels;
use super::prices::UnitPrices;

/// With keep-warm allowed, PC levels busy less than this share of a slot are not considered:
/// they are (nearly) pure allocation cost, and a warm-up call keeps their environment for a
/// few thousandths of the price. Without keep-warm every level is a candidate: PC is then the
/// only way to hold an environment for a burst, and the price or the budget decides.
pub const MIN_PC_BUSY: f64 = 0.02;
/// With a budget, the planner removes as many cold starts as the budget allows: it searches
/// the price of a cold start up to this (far above what any slot spends, so that money only
/// breaks ties) for the highest price whose plan fits the budget.
pub const BUDGET_PENALTY_USD: f64 = 1.0;

/// What one slot does for a given PC level, and what it costs relative to on-demand alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    pub provisioned: u32,
    /// Highest level kept warm by warm-up rounds (0 = no warm-up); above `provisioned`.
    pub warm_top: u32,
    /// Expected extra money vs on-demand (PC, warm-ups, minus INIT saved).
    pub extra_money: f64,
    /// Expected cold starts left.
    pub cold: f64,
    /// `extra_money + penalty × cold`: what the plan minimises.
    pub objective: f64,
}

/// One slot's levels with the prefix sums the search reads.
#[derive(Debug)]
pub struct SlotEval<'a> {
    pub levels: &'a SlotLevels,
    prices: &'a UnitPrices,
    /// Warm-up rounds per slot.
    rounds: f64,
    keep_warm: bool,
    max_pc: u32,
    /// Price of a cold start in the objective.
    penalty: f64,
    /// Under a budget, INIT savings at level 1 count only as far as the history has shown
    /// them (see [`SlotLevels::first_cold_for_budget`]).
    budgeted: bool,
    /// `at[j]`, j in 0..=n+1: the sums of levels up to / from j (one allocation per slot).
    at: Vec<LevelSums>,
    /// [`Self::max_provisioned`], worked out once.
    max_provisioned: u32,
    /// Callers one round of several calls crowds out ([`crowded_per_round`]), worked out once.
    crowded: f64,
    /// [`Self::options`] of the lowest PC levels up to `max_provisioned`, worked out once:
    /// the slot's own best ([`Self::standalone`], from [`Self::choice`]) and the horizon's
    /// search both read them, and most slots have no other.
    first_options: [Option<[Choice; 2]>; FIRST_OPTIONS],
}

/// PC levels whose options a [`SlotEval`] keeps.
const FIRST_OPTIONS: usize = 4;

impl<'a> SlotEval<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        levels: &'a SlotLevels,
        prices: &'a UnitPrices,
        rounds: f64,
        keep_warm: bool,
        max_pc: u32,
        (penalty, budgeted): (f64, bool),
    ) -> Self {
        let n = levels.levels();
        let mut at = vec![LevelSums { best_top: n, ..LevelSums::default() }; n + 2];
        for j in 1..=n {
            let prev = at[j - 1];
            // Under a budget, as busy as is sure (`SlotLevels::count_sure_busy`).
            let busy = levels.busy_counted(j - 1, budgeted);
            let sums = &mut at[j];
            sums.pc_net = prev.pc_net + prices.pc_level - busy * prices.pc_busy_saving;
            sums.exposed_prefix = prev.exposed_prefix + levels.exposed[j - 1];
            sums.dead_prefix = prev.dead_prefix + (1.0 - levels.alive_start[j - 1]).clamp(0.0, 1.0);
        }
        for j in (1..=n).rev() {
            at[j].cold_suffix = at[j + 1].cold_suffix + levels.cold[j - 1];
        }
        let g = |at: &[LevelSums], k: usize| {
            rounds * prices.ping_on_demand * k as f64 + (prices.init + penalty) * at[k + 1].cold_suffix
        };
        // `g` of the best top from x + 1 up is carried down rather than worked out again.
        let mut g_best = g(&at, n);
        for x in (1..n).rev() {
            let (next, here) = (at[x + 1].best_top, g(&at, x));
            if here <= g_best {
                (at[x].best_top, g_best) = (x, here);
            } else {
                at[x].best_top = next;
            }
        }
        let mut eval = Self {
            levels,
            prices,
            rounds,
            keep_warm,
            max_pc,
            penalty,
            budgeted,
            at,
            max_provisioned: 0,
            crowded: crowded_per_round(levels.mean_rate * prices.hold_s),
            first_options: [None; FIRST_OPTIONS],
        };
        eval.max_provisioned = eval.useful_provisioned();
        for p in 0..(eval.max_provisioned as usize + 1).min(FIRST_OPTIONS) {
            eval.first_options[p] = Some([eval.best_for(p), eval.evaluate(p, 0)]);
        }
        eval
    }

    fn penalty(&self) -> f64 {
        self.penalty
    }

    /// Expected on-demand cold starts with nothing kept warm.
    pub fn baseline_cold(&self) -> f64 {
        self.at[1].cold_suffix
    }

    /// Highest PC level worth considering: with keep-warm, levels busy less than
    /// [`MIN_PC_BUSY`] of the slot are never the cheapest way to prevent their rare cold starts
    /// (a warm-up call or the cold start itself is); without, every level may be.
    pub fn max_provisioned(&self) -> u32 {
        self.max_provisioned
    }

    fn useful_provisioned(&self) -> u32 {
        let useful = if self.keep_warm {
            self.levels.busy.iter().take_while(|b| **b >= MIN_PC_BUSY).count() + 1
        } else {
            self.levels.levels()
        };
        self.max_pc.min(useful as u32).min(self.levels.levels() as u32)
    }

    fn evaluate(&self, p: usize, k: usize) -> Choice {
        let n = self.levels.levels();
        let (p, k) = (p.min(n), k.min(n));
        let warm = k > p;
        let top = p.max(k);
        // A round of k calls reaches level k (the first p land on provisioned environments).
        // One call alone needs no overlap and holds nothing; several hold their environments,
        // and a caller arriving then who finds no environment freed since starts cold
        // (counted as if the round took every idle one: see `crowding`).
        let single = warm && k == 1;
        let (pings, crowded) = if single {
            (self.rounds * self.prices.ping_single, 0.0)
        } else if warm {
            let calls = p as f64 * self.prices.ping_provisioned + (k - p) as f64 * self.prices.ping_on_demand;
            (self.rounds * calls, self.rounds * self.crowded)
        } else {
            (0.0, 0.0)
        };
        let cold = self.at[top + 1].cold_suffix + crowded;
        let unsure = match self.levels.cold.first() {
            Some(first) if self.budgeted && top >= 1 => first - self.levels.first_cold_for_budget(),
            _ => 0.0,
        };
        let extra_money = self.at[p].pc_net + pings + self.prices.init * (cold - self.baseline_cold() + unsure);
        Choice {
            provisioned: p as u32,
            warm_top: if warm { k as u32 } else { 0 },
            extra_money,
            cold,
            objective: extra_money + self.penalty() * cold,
        }
    }

    /// The best warm-up top for PC level `p`.
    pub fn choice(&self, p: u32) -> Choice {
        match self.first_options.get(p as usize) {
            Some(Some([known, _])) => *known,
            _ => self.best_for(p as usize),
        }
    }

    fn best_for(&self, p: usize) -> Choice {
        let n = self.levels.levels();
        let best = self.evaluate(p, 0);
        if !self.keep_warm || p >= n {
            return best;
        }
        // Rounds of several calls: the look-up; a round of one (only without PC) apart.
        let several = self.at[(p + 1).max(2).min(n + 1)].best_top;
        let one = if p == 0 { 1 } else { 0 };
        [several, one]
            .into_iter()
            .filter(|&k| k > p && k <= n)
            .map(|k| self.evaluate(p, k))
            .fold(best, |b, c| if c.objective < b.objective { c } else { b })
    }

    /// The best choice of this slot on its own.
    pub fn standalone(&self) -> Choice {
        let max = self.max_provisioned();
        (1..=max)
            .map(|p| self.choice(p))
            .fold(self.choice(0), |best, c| if c.objective < best.objective { c } else { best })
    }

    /// The choices the horizon's search weighs for PC level `p`: the best on its own, and no
    /// warm-up at all — a round that starts keeping levels warm lands cold on those gone
    /// since ([`Self::transition`]), so a slot that would keep warm on its own may do better
    /// not to start. (Offering every slot its best warm-up top as well, so that rounds could
    /// also go on through a slot that alone would not keep warm, kept rounds landing cold on
    /// a daily ramp and added cold starts over on-demand in `bench`'s synthetic day.)
    pub fn options(&self, p: u32) -> [Choice; 2] {
        match self.first_options.get(p as usize) {
            Some(Some(known)) => *known,
            _ => [self.best_for(p as usize), self.evaluate(p as usize, 0)],
        }
    }

    /// Money and cold starts of moving from what `prev` held (PC and warm-up top) to `choice`
    /// at the start of this slot.
    pub fn transition(&self, prev: Held, choice: &Choice) -> (f64, f64) {
        let n = self.levels.levels();
        let (held_pc, next) = (prev.provisioned as usize, choice.provisioned as usize);
        // Levels the new warm-up top reaches above everything held before: the first round
        // lands cold on those whose environment is gone (INIT, no caller waiting).
        let held = held_pc.max(prev.warm_top as usize).max(next).min(n);
        let top = (choice.warm_top as usize).min(n);
        let revived = if top > held { self.at[top].dead_prefix - self.at[held].dead_prefix } else { 0.0 };
        let revival = revived * self.prices.init;
        if next > held_pc {
            // Requested a lead time ahead: one more billing step for the added levels.
            return ((next - held_pc) as f64 * self.prices.pc_level + revival, 0.0);
        }
        let (from, to) = (next.min(n), held_pc.min(n));
        // Exposed levels under the warm-up top get a warm-up call that lands cold (INIT, no
        // waiting caller); the others meet their first caller cold.
        let warm_to = (choice.warm_top as usize).clamp(from, to);
        let pinged = (warm_to - from) as f64;
        let cold = self.at[to].exposed_prefix - self.at[warm_to].exposed_prefix;
        (pinged * self.prices.init + cold * self.prices.init + revival, cold)
    }

    pub fn transition_objective(&self, prev: Held, choice: &Choice) -> f64 {
        let (money, cold) = self.transition(prev, choice);
        money + self.penalty() * cold
    }
}

/// A slot's sums over its levels at one level j.
#[derive(Debug, Clone, Copy, Default)]
struct LevelSums {
    /// PC up to level j: allocation less the duration saved while busy.
    pc_net: f64,
    /// On-demand cold starts at levels j and above.
    cold_suffix: f64,
    /// Extra cold starts of levels up to j exposed at the start of the slot.
    exposed_prefix: f64,
    /// Expected levels up to j whose environment is gone when the slot starts (a round that
    /// starts keeping them warm lands cold on them: INIT, no caller).
    dead_prefix: f64,
    /// The warm-up top K ≥ j minimising `rounds·ping·K + (INIT + penalty)·cold above K`, the
    /// only part of the objective that depends on K (so each PC level's best warm-up top is a
    /// look-up, not a scan).
    best_top: usize,
}

/// What is kept warm when a slot starts: the PC level and the warm-up rounds' top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Held {
    pub provisioned: u32,
    pub warm_top: u32,
}

impl From<&Choice> for Held {
    fn from(c: &Choice) -> Self {
        Self { provisioned: c.provisioned, warm_top: c.warm_top }
    }
}

/// Whether a path from what is held now keeps within `budgets` (money each slot may add).
/// Its slots' own money may not run ahead of their shares: by every slot, what the slots so
/// far add is within what they may add (a share saved may be spent later, never one ahead).
/// Only the first slot is carried out before the next plan, so a plan that spent the horizon's
/// budget up front would, replanned every slot, spend it every slot. A transition (the
/// extra billing step of raising PC, a first round landing cold) is a one-off paid for by
/// the slots after it, so it counts against the horizon's total only.
pub fn path_fits(slots: &[SlotEval<'_>], path: &[Choice], current: Held, budgets: &[f64]) -> bool {
    let mut prev = current;
    let (mut money, mut running, mut allowed) = (0.0, 0.0, 0.0);
    for ((eval, c), budget) in slots.iter().zip(path).zip(budgets) {
        running += c.extra_money;
        money += c.extra_money + eval.transition(prev, c).0;
        allowed += budget;
        if running > allowed {
            return false;
        }
        prev = Held::from(c);
    }
    money <= allowed
}

/// The choice of each slot minimising the summed objective, starting from what is held now.
/// Candidate PC levels are the levels each slot would choose alone, the current level and
/// zero; each as the slot would take it alone and without warm-up ([`SlotEval::options`]), so
/// that the path carries both the PC level and whether rounds go out.
pub fn plan_levels(slots: &[SlotEval<'_>], alone: &[Choice], current: Held) -> Vec<Choice> {
    if slots.is_empty() {
        return Vec::new();
    }
    let mut candidates: Vec<u32> = alone.iter().map(|c| c.provisioned).collect();
    candidates.push(0);
    candidates.push(current.provisioned.min(slots.iter().map(SlotEval::max_provisioned).max().unwrap_or(0)));
    candidates.sort_unstable();
    candidates.dedup();
    // Row s of `choices` and `back` (m entries each) is slot s: one allocation each.
    let m = 2 * candidates.len();
    let mut choices: Vec<Choice> = Vec::with_capacity(m * slots.len());
    for s in slots {
        for &p in &candidates {
            choices.extend(s.options(p.min(s.max_provisioned())));
        }
    }
    let row = |s: usize| &choices[s * m..(s + 1) * m];
    let mut cost: Vec<f64> = row(0).iter().map(|c| c.objective + slots[0].transition_objective(current, c)).collect();
    let mut next = vec![f64::INFINITY; m];
    let mut back = vec![0usize; m * slots.len()];
    for s in 1..slots.len() {
        next.fill(f64::INFINITY);
        for (c, choice) in row(s).iter().enumerate() {
            if choice.objective.is_infinite() {
                continue;
            }
            for (prev, &prev_cost) in cost.iter().enumerate() {
                let total = prev_cost + slots[s].transition_objective(Held::from(&row(s - 1)[prev]), choice);
                if total < next[c] {
                    next[c] = total;
                    back[s * m + c] = prev;
                }
            }
            next[c] += choice.objective;
        }
        std::mem::swap(&mut cost, &mut next);
    }
    let mut c = (0..m).min_by(|&a, &b| cost[a].total_cmp(&cost[b])).unwrap_or(0);
    let mut path = vec![row(slots.len() - 1)[c]; slots.len()];
    for s in (1..slots.len()).rev() {
        c = back[s * m + c];
        path[s - 1] = row(s - 1)[c];
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::CostModel;
    use crate::domain::{Architecture, MemoryMb};
    use crate::forecast::Quantiles;
    use crate::policy::ConcurrencyPolicy;

    #[test]
    fn the_warm_up_top_look_up_matches_a_full_scan() {
        let policy = ConcurrencyPolicy::default();
        let memory = MemoryMb::new(512).unwrap();
        let prices = UnitPrices::new(&CostModel::default(), Architecture::X86_64, memory, 200.0, 300.0, &policy);
        for (rate, penalty) in [(0.3, 1e-4), (60.0, 1e-4), (3000.0, 1e-4), (3000.0, 1.0), (600.0, 1e-7)] {
            let q = Quantiles([0.7 * rate, 0.85 * rate, rate, 1.15 * rate, 1.3 * rate, 1.6 * rate]);
            let levels = SlotLevels::new(&q, rate, 0.2, (300.0, 300.0), super::super::levels::LevelsAtStart::Steady);
            let eval = SlotEval::new(&levels, &prices, 1.25, true, u32::MAX, (penalty, false));
            for p in 0..=levels.levels() {
                let scan = (p + 1..=levels.levels())
                    .map(|k| eval.evaluate(p, k))
                    .fold(eval.evaluate(p, 0), |b, c| if c.objective < b.objective { c } else { b });
                let got = eval.choice(p as u32);
                assert!((got.objective - scan.objective).abs() <= 1e-12 * scan.objective.abs().max(1e-9), "{rate} {p}");
            }
        }
    }

    #[test]
    fn a_budget_may_be_saved_for_later_slots_but_not_spent_ahead_of_them() {
        // Only a plan's first slot is carried out before the next plan: a path that spends a
        // later slot's share up front would, replanned every slot, spend it every slot.
        let policy = ConcurrencyPolicy::default();
        let memory = MemoryMb::new(512).unwrap();
        let prices = UnitPrices::new(&CostModel::default(), Architecture::X86_64, memory, 200.0, 300.0, &policy);
        let q = Quantiles([1.0; 6]);
        let levels = SlotLevels::new(&q, 1.0, 0.2, (300.0, 300.0), super::super::levels::LevelsAtStart::Steady);
        let slots: Vec<SlotEval<'_>> =
            (0..2).map(|_| SlotEval::new(&levels, &prices, 1.25, false, u32::MAX, (1e-4, true))).collect();
        let spend =
            |money: f64| Choice { provisioned: 0, warm_top: 0, extra_money: money, cold: 0.0, objective: money };
        let budgets = [1.0, 1.0];
        assert!(path_fits(&slots, &[spend(0.0), spend(2.0)], Held::default(), &budgets), "saved, then spent");
        assert!(path_fits(&slots, &[spend(1.0), spend(1.0)], Held::default(), &budgets));
        assert!(!path_fits(&slots, &[spend(2.0), spend(0.0)], Held::default(), &budgets), "spent ahead");
        assert!(!path_fits(&slots, &[spend(0.5), spend(1.6)], Held::default(), &budgets));
        // Raising PC by one level bills one extra step up front: a one-off the horizon pays.
        let raise = Choice { provisioned: 1, ..spend(0.0) };
        let level = prices.pc_level;
        assert!(path_fits(&slots, &[raise, raise], Held::default(), &[0.6 * level, 0.6 * level]), "amortised");
        assert!(!path_fits(&slots, &[raise, raise], Held::default(), &[0.4 * level, 0.4 * level]));
    }
}
