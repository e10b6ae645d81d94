//! The exact concurrency of a workload's window, slot by slot, from the very arrivals and
//! durations every policy meets (same seeds): what the perfect-foresight oracles and the
//! static baselines are sized from. Not an environment model: only how many callers are in
//! flight at each instant (INIT excluded), which no policy changes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use autopilot_sim::rng::Rng;

use super::arrivals::{Arrivals, ServiceModel};
use super::cases::Workload;
use super::setup;

pub const SLOT_MS: f64 = 300_000.0;

/// Per 5-minute slot: the most callers in flight at once, and how long each concurrency
/// level was busy.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub max: Vec<u32>,
    /// `busy[s][c-1]`: ms of slot s during which exactly c callers were in flight.
    pub busy: Vec<Vec<f64>>,
}

impl Profile {
    pub fn measure(workload: &Workload) -> Self {
        let slots = workload.eval_minutes.div_ceil(5);
        let mut p = Self { max: vec![0; slots], busy: vec![Vec::new(); slots] };
        let service = ServiceModel::standard();
        let mut arrivals = Arrivals::new(workload, setup::SEED);
        let mut durations = Rng::stream(setup::SEED, &workload.label(), "durations");
        let mut ends: BinaryHeap<Reverse<u64>> = BinaryHeap::new();
        let (mut level, mut last) = (0u32, 0.0f64);
        let mut times = Vec::new();
        for m in 0..workload.eval_minutes {
            arrivals.minute(m, &mut times);
            for &t in &times {
                while let Some(&Reverse(bits)) = ends.peek() {
                    let end = f64::from_bits(bits);
                    if end > t {
                        break;
                    }
                    ends.pop();
                    p.account(last, end, level);
                    last = end;
                    level -= 1;
                }
                p.account(last, t, level);
                last = t;
                level += 1;
                let s = ((t / SLOT_MS) as usize).min(slots - 1);
                p.max[s] = p.max[s].max(level);
                ends.push(Reverse((t + service.duration(&mut durations)).to_bits()));
            }
        }
        let window_end = workload.eval_minutes as f64 * 60_000.0;
        while let Some(Reverse(bits)) = ends.pop() {
            let end = f64::from_bits(bits).min(window_end);
            p.account(last, end.max(last), level);
            last = end.max(last);
            level -= 1;
        }
        p
    }

    /// Adds `[from, to)` at `level` callers in flight, split over slots.
    fn account(&mut self, from: f64, to: f64, level: u32) {
        if level == 0 || to <= from {
            return;
        }
        let mut a = from;
        while a < to {
            let s = (a / SLOT_MS) as usize;
            if s >= self.busy.len() {
                return;
            }
            let b = to.min((s + 1) as f64 * SLOT_MS);
            let row = &mut self.busy[s];
            if row.len() < level as usize {
                row.resize(level as usize, 0.0);
            }
            row[level as usize - 1] += b - a;
            a = b;
        }
    }

    /// Levels busy at least `share` of slot `s` (all levels ever busy when `share` is 0).
    pub fn levels_busy_at_least(&self, s: usize, share: f64) -> u32 {
        let Some(row) = self.busy.get(s) else { return 0 };
        if share <= 0.0 {
            return self.max[s];
        }
        // Level j is busy whenever at least j callers are in flight: a suffix sum.
        let mut at_least = 0.0;
        let mut levels = 0;
        for (j, t) in row.iter().enumerate().rev() {
            at_least += t;
            if at_least / SLOT_MS >= share {
                levels = j as u32 + 1;
                break;
            }
        }
        levels
    }

    pub fn slots(&self) -> usize {
        self.max.len()
    }

    /// The need of the whole window (peak) and of its median slot.
    pub fn peak_and_median(&self) -> (u32, u32) {
        let mut sorted = self.max.clone();
        sorted.sort_unstable();
        (sorted.last().copied().unwrap_or(0), sorted.get(sorted.len() / 2).copied().unwrap_or(0))
    }
}
