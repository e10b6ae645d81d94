//! A tiny progress bar on stderr: shown only when stderr is a terminal and the work has
//! taken more than a second, redrawn at most ten times a second. (indicatif would bring a
//! terminal stack for one line.)

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Progress {
    label: String,
    started: Instant,
    last_draw: Option<Instant>,
    enabled: bool,
}

impl Progress {
    pub fn new(label: impl Into<String>) -> Self {
        Self { label: label.into(), started: Instant::now(), last_draw: None, enabled: std::io::stderr().is_terminal() }
    }

    pub fn update(&mut self, err: &mut dyn Write, done: u64, total: u64) {
        let now = Instant::now();
        if !self.enabled || now - self.started < Duration::from_secs(1) {
            return;
        }
        if self.last_draw.is_some_and(|t| now - t < Duration::from_millis(100)) && done < total {
            return;
        }
        self.last_draw = Some(now);
        let frac = if total == 0 { 1.0 } else { done as f64 / total as f64 };
        let filled = (frac * 30.0).round() as usize;
        // Progress is best effort: a failed write to stderr must not stop the run.
        let _ = write!(
            err,
            "\r{} [{}{}] {:3.0}% {:.1} s",
            self.label,
            "#".repeat(filled),
            ".".repeat(30 - filled.min(30)),
            frac * 100.0,
            self.started.elapsed().as_secs_f64()
        );
        let _ = err.flush();
    }

    /// Clears the line if anything was drawn.
    pub fn finish(&mut self, err: &mut dyn Write) {
        if self.last_draw.is_some() {
            let _ = write!(err, "\r{:70}\r", "");
            let _ = err.flush();
        }
    }
}
