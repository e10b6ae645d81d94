//! CPU time of the calling thread, so timings hold on a busy machine: the kernel's
//! per-thread scheduler statistics (`/proc/thread-self/schedstat`, first field: ns on CPU).
//! Wall time where that file does not exist (not Linux).

use std::time::Instant;

/// A stopwatch of this thread's CPU time (or wall time as a fallback).
#[derive(Debug)]
pub struct CpuTimer {
    start_ns: Option<u64>,
    wall: Instant,
}

fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

impl CpuTimer {
    pub fn start() -> Self {
        Self { start_ns: thread_cpu_ns(), wall: Instant::now() }
    }

    /// Seconds since `start`, and whether they are CPU seconds.
    pub fn seconds(&self) -> (f64, bool) {
        match (self.start_ns, thread_cpu_ns()) {
            (Some(a), Some(b)) => (b.saturating_sub(a) as f64 / 1e9, true),
            _ => (self.wall.elapsed().as_secs_f64(), false),
        }
    }
}
