//! Passive tuning before the optimum is bracketed: the first phase of a line search over
//! ln(memory).
//!
//! From production traffic the tuner learns one size per run. Until the best size it has
//! measured lies between two measured sizes that are worse by more than the tolerance (or
//! against a bound of the allowed range), the optimum may lie beyond the measured sizes, and
//! nothing measured says how far: the curve model can only extrapolate its prior there, and
//! a prior that averages CPU-bound code (cost flat below one vCPU) with code that waits
//! (cost in proportion to memory) predicts neither. So each run steps as far as the policy
//! allows past the farthest measured size on the open side — the bracketing of a line
//! search, which assumes no more of the cost curve than that it rises on both sides of its
//! minimum. Once bracketed, each side of the best wider than a quarter step (2^¼ at the
//! default step bound) is halved in ratio: a dip between two measured sizes that neither
//! shows is found no other way, and a probe inside the bracket costs at most about what its
//! worse neighbour does. Then the curve model and its expected improvement take over.
//!
//! With a single size measured below one vCPU, not even the direction is known (CPU-bound
//! code costs about the same at every size there, code that waits costs in proportion to
//! memory). The first move is half a step (in ratio) to the side the prior expects cheaper:
//! whichever way the slope turns out, the next full step can then go past the start instead
//! of coming back to it. From one vCPU up, the prior's side (down) is a full step.

use crate::domain::MemoryMb;

use super::landscape::{Landscape, Prediction};
use super::rollout::{next_hop, step_range, worth_a_change};

/// A bracketing move: the first bounded step and the size it heads for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub first: Prediction,
    pub target: Prediction,
    /// Expected improvement at the target over the best measured size (share of it).
    pub gain: f64,
}

/// The next bracketing (or zooming) move from `current`, or `None` when the best measured
/// size is bracketed by measured neighbours within a quarter step (or nothing measured meets
/// the constraints, or no such move can be reached through sizes that meet them).
pub fn step(l: &Landscape, current: MemoryMb) -> Option<Step> {
    let g = &l.policy.guardrails;
    let tol = l.settings.tolerance;
    let measured: Vec<Prediction> = l
        .evidence
        .sizes
        .iter()
        .filter(|s| s.invocations >= g.min_invocations && l.bounds.allows(s.memory))
        .map(|s| l.predict(s.memory))
        .collect();
    let feasible = |p: &Prediction| p.p_feasible >= g.confidence;
    let best = *measured.iter().filter(|p| feasible(p)).min_by(|a, b| a.score().total_cmp(&b.score()))?;
    let worse = |p: &Prediction| !feasible(p) || p.score() > best.score() * (1.0 + tol);
    let half = l.policy.constraints.max_step_factor.sqrt();
    let quarter = half.sqrt();

    // Each side: closed by a worse measured size, else open at the frontier (the farthest
    // measured size, none of them worse), to be pushed one step beyond — half a step while
    // only one size is measured.
    let mut open: Vec<Prediction> = Vec::new();
    let mut neighbours: Vec<Prediction> = Vec::new();
    for down in [true, false] {
        let side: Vec<&Prediction> =
            measured.iter().filter(|p| if down { p.memory < best.memory } else { p.memory > best.memory }).collect();
        if side.iter().any(|p| worse(p)) {
            let near = side.iter().copied();
            let near = if down { near.max_by_key(|p| p.memory) } else { near.min_by_key(|p| p.memory) };
            neighbours.extend(near.copied());
            continue;
        }
        let frontier = side.iter().map(|p| p.memory).fold(best.memory, |a, m| if down { a.min(m) } else { a.max(m) });
        // From one vCPU up a single size already says which way for all but threaded code
        // (single-threaded code gets no faster above it, so its cost grows with memory): a
        // full step.
        let unsure = measured.len() == 1 && best.memory < MemoryMb::ONE_VCPU;
        let factor = if unsure { half } else { l.policy.constraints.max_step_factor };
        if let Some(beyond) = beyond(l, frontier, factor, down) {
            open.push(l.predict(beyond));
        }
    }
    // Both open with one size measured: the side the model expects cheaper first. Both open
    // with several measured, all within the tolerance (flat cost: CPU-bound code below one
    // vCPU): the larger side first — as cheap, faster, and further from the memory pressure
    // that makes the smallest sizes slower than their CPU share; the model's preference
    // there is its prior's, which flat measurements have just contradicted.
    let reference = best.score();
    open.sort_by(|a, b| a.expected.total_cmp(&b.expected));
    if measured.len() > 1 && best.memory < MemoryMb::ONE_VCPU {
        open.sort_by_key(|p| std::cmp::Reverse(p.memory));
    }
    let gain = |t: &Prediction| l.improvement(t, reference) / reference;
    if !open.is_empty() {
        return open.into_iter().find_map(|target| {
            let first = reachable(l, current, &target)?;
            Some(Step { first, target, gain: gain(&target) })
        });
    }
    // Bracketed: halve (in ratio) each side wider than a quarter step — a minimum between two
    // measured sizes that neither shows is found no other way — the side where the model
    // expects the larger improvement first.
    let c = &l.policy.constraints;
    let mut middles: Vec<Step> = neighbours
        .into_iter()
        .filter_map(|n| {
            let (b, m) = (f64::from(best.memory.get()), f64::from(n.memory.get()));
            // 1% of slack: sizes are whole megabytes, so a quarter step is rarely exact.
            if (m / b).ln().abs() <= quarter.ln() + 0.01 {
                return None;
            }
            let target = l.predict(MemoryMb::clamped((b * m).sqrt().round()));
            let worth = worth_a_change(best.memory, target.memory, c) && worth_a_change(n.memory, target.memory, c);
            let first = if worth && target.memory != current { reachable(l, current, &target) } else { None }?;
            Some(Step { first, target, gain: gain(&target) })
        })
        .collect();
    middles.sort_by(|a, b| b.gain.total_cmp(&a.gain));
    middles.into_iter().next()
}

/// The size `factor` beyond `frontier` (down or up), within one step of it and the bounds
/// (the full step when `factor` is not a worthwhile change); the end of the allowed range
/// instead when that lands less than a worthwhile change from it (else the end could never
/// be reached: 304 → 152 MB leaves 128 MB 24 MB away). `None` when nothing worthwhile lies
/// beyond.
fn beyond(l: &Landscape, frontier: MemoryMb, factor: f64, down: bool) -> Option<MemoryMb> {
    let c = &l.policy.constraints;
    let (lo, hi) = step_range(frontier, c);
    let end = if down { l.bounds.lo } else { l.bounds.hi };
    let f = f64::from(frontier.get());
    let mut to = MemoryMb::clamped((if down { f / factor } else { f * factor }).round()).clamp(lo, hi);
    if !worth_a_change(frontier, to, c) {
        to = if down { lo } else { hi };
    }
    to = to.clamp(l.bounds.lo, l.bounds.hi);
    if to != end && !worth_a_change(to, end, c) {
        // The way there is split so that no run stops short of it (see [`next_hop`]).
        to = end;
    }
    (to != frontier && worth_a_change(frontier, to, c)).then_some(to)
}

/// The first hop toward `target` when every hop of the way is allowed, worth a change and
/// meets the constraints at the policy's confidence.
fn reachable(l: &Landscape, current: MemoryMb, target: &Prediction) -> Option<Prediction> {
    let c = &l.policy.constraints;
    let (mut at, mut first) = (current, None);
    while at != target.memory {
        let next = next_hop(at, target.memory, c);
        if !worth_a_change(at, next, c) || !l.bounds.allows(next) {
            return None;
        }
        let p = if next == target.memory { *target } else { l.predict(next) };
        if p.p_feasible < l.policy.guardrails.confidence {
            return None;
        }
        first.get_or_insert(p);
        at = next;
    }
    first
}
