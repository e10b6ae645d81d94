//! A measured duration curve (e.g. a cebert table): mean and p99 at a few memory sizes,
//! interpolated between them.
//!
//! Interpolation is monotone cubic Hermite (Fritsch–Carlson, 1980) on (ln memory, ln mean):
//! durations follow power laws in memory, so log-log is where they are smooth, and a
//! monotone interpolant never invents a dip or a bump in the *duration* between two measured
//! sizes. Outside the measured range the end values are held (no extrapolated gains). The
//! p99/mean ratio is interpolated linearly in ln memory.
//!
//! [`Interpolation::PowerLaw`] is the alternative for uses that score sizes by cost (the
//! tuner benchmark's ground truth): straight lines in log-log, a power law `d ∝ m^β` on each
//! segment, so that cost `∝ m·d ∝ m^(1+β)` is monotone on each segment too and its minimum
//! over a range sits at a measured size or an end of the range. The cubic's tangents come
//! from the neighbouring segments, and where the slope of ln d crosses −1 inside a segment
//! they create a cost minimum between two measurements that neither measurement shows.

use serde::Serialize;

/// How a [`MeasuredCurve`] joins its measured points (ln mean against ln memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Interpolation {
    /// Monotone cubic Hermite (Fritsch–Carlson): smooth, never overshoots the duration.
    #[default]
    MonotoneCubic,
    /// Piecewise linear: a power law between each two measured sizes.
    PowerLaw,
}

impl Interpolation {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeasuredCurve {
    /// What it was measured on, e.g. `cebert nodejs22 x86_64 cpu-intensive`.
    pub source: String,
    /// (memory MB, mean ms, p99 ms), ascending memory, at least one point.
    points: Vec<(f64, f64, f64)>,
    slopes: Vec<f64>,
    #[serde(skip_serializing_if = "Interpolation::is_default")]
    interpolation: Interpolation,
}

impl MeasuredCurve {
    /// Builds the curve; points without a p99 get p99 = 1.2 × mean. Returns `None` for no
    /// usable point.
    pub fn new(source: impl Into<String>, points: &[(u32, f64, Option<f64>)]) -> Option<Self> {
        let mut pts: Vec<(f64, f64, f64)> = points
            .iter()
            .filter(|(_, mean, _)| *mean > 0.0 && mean.is_finite())
            .map(|&(mb, mean, p99)| (f64::from(mb), mean, p99.filter(|p| *p >= mean).unwrap_or(1.2 * mean)))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        pts.dedup_by(|a, b| a.0 == b.0);
        if pts.is_empty() {
            return None;
        }
        let slopes = fritsch_carlson(&pts.iter().map(|p| (p.0.ln(), p.1.ln())).collect::<Vec<_>>());
        Some(Self { source: source.into(), points: pts, slopes, interpolation: Interpolation::default() })
    }

    /// The same measurements joined the other way.
    #[must_use]
    pub fn with_interpolation(mut self, interpolation: Interpolation) -> Self {
        self.interpolation = interpolation;
        self
    }

    pub fn interpolation(&self) -> Interpolation {
        self.interpolation
    }

    /// The warm curve of a cebert table (mean and p99 per measured memory size).
    pub fn from_cebert(curve: &autopilot_datasets::cebert::Curve) -> Option<Self> {
        let source = format!("cebert {} {} {}", curve.runtime, curve.architecture, curve.workload);
        Self::new(source, &curve.warm())
    }

    pub fn points(&self) -> &[(f64, f64, f64)] {
        &self.points
    }

    /// Mean duration (ms) at a memory size.
    pub fn mean_ms(&self, memory_mb: f64) -> f64 {
        let (i, t, h) = match self.locate(memory_mb) {
            Locate::At(i) => return self.points[i].1,
            Locate::Between(i, t, h) => (i, t, h),
        };
        let (y0, y1) = (self.points[i].1.ln(), self.points[i + 1].1.ln());
        if self.interpolation == Interpolation::PowerLaw {
            return (y0 + t * (y1 - y0)).exp();
        }
        let (m0, m1) = (self.slopes[i], self.slopes[i + 1]);
        let t2 = t * t;
        let t3 = t2 * t;
        let y = (2.0 * t3 - 3.0 * t2 + 1.0) * y0
            + (t3 - 2.0 * t2 + t) * h * m0
            + (-2.0 * t3 + 3.0 * t2) * y1
            + (t3 - t2) * h * m1;
        y.exp()
    }

    /// p99 / mean at a memory size.
    pub fn p99_over_mean(&self, memory_mb: f64) -> f64 {
        let ratio = |i: usize| self.points[i].2 / self.points[i].1;
        match self.locate(memory_mb) {
            Locate::At(i) => ratio(i),
            Locate::Between(i, t, _) => ratio(i) + t * (ratio(i + 1) - ratio(i)),
        }
    }

    fn locate(&self, memory_mb: f64) -> Locate {
        let x = memory_mb.max(1.0).ln();
        let n = self.points.len();
        if n == 1 || x <= self.points[0].0.ln() {
            return Locate::At(0);
        }
        if x >= self.points[n - 1].0.ln() {
            return Locate::At(n - 1);
        }
        let i = self.points.iter().rposition(|p| p.0.ln() <= x).unwrap_or(0).min(n - 2);
        let (x0, x1) = (self.points[i].0.ln(), self.points[i + 1].0.ln());
        Locate::Between(i, (x - x0) / (x1 - x0), x1 - x0)
    }
}

enum Locate {
    At(usize),
    Between(usize, f64, f64),
}

/// Tangents of a monotone cubic Hermite interpolant through (x, y) points.
fn fritsch_carlson(p: &[(f64, f64)]) -> Vec<f64> {
    let n = p.len();
    if n < 2 {
        return vec![0.0; n];
    }
    let d: Vec<f64> = p.windows(2).map(|w| (w[1].1 - w[0].1) / (w[1].0 - w[0].0)).collect();
    let mut m = vec![0.0; n];
    m[0] = d[0];
    m[n - 1] = d[n - 2];
    for i in 1..n - 1 {
        m[i] = if d[i - 1] * d[i] <= 0.0 { 0.0 } else { (d[i - 1] + d[i]) / 2.0 };
    }
    for i in 0..n - 1 {
        if d[i] == 0.0 {
            m[i] = 0.0;
            m[i + 1] = 0.0;
            continue;
        }
        let (a, b) = (m[i] / d[i], m[i + 1] / d[i]);
        let s = a * a + b * b;
        if s > 9.0 {
            let tau = 3.0 / s.sqrt();
            m[i] = tau * a * d[i];
            m[i + 1] = tau * b * d[i];
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_through_the_measurements_and_stays_monotone_between_them() {
        let c = MeasuredCurve::new(
            "test",
            &[
                (128, 21_604.85, Some(22_853.99)),
                (256, 10_617.99, None),
                (1024, 2_716.51, None),
                (2048, 1_384.19, None),
            ],
        )
        .unwrap();
        assert!((c.mean_ms(128.0) - 21_604.85).abs() < 1e-6);
        assert!((c.mean_ms(1024.0) - 2_716.51).abs() < 1e-6);
        let mut prev = f64::INFINITY;
        for mb in (128..=2048).step_by(16) {
            let v = c.mean_ms(f64::from(mb));
            assert!(v <= prev + 1e-9, "{mb}: {v} > {prev}");
            prev = v;
        }
        assert!(
            (c.mean_ms(64.0) - 21_604.85).abs() < 1e-6 && (c.mean_ms(8_192.0) - 1_384.19).abs() < 1e-6,
            "ends held"
        );
        assert!((c.p99_over_mean(128.0) - 22_853.99 / 21_604.85).abs() < 1e-12);
        assert!((c.p99_over_mean(2048.0) - 1.2).abs() < 1e-12);
    }

    #[test]
    fn a_flat_then_rising_curve_does_not_overshoot() {
        let c = MeasuredCurve::new("t", &[(512, 100.0, None), (1024, 100.0, None), (2048, 140.0, None)]).unwrap();
        for mb in 512..=1024 {
            assert!((c.mean_ms(f64::from(mb)) - 100.0).abs() < 1e-9);
        }
        assert!(MeasuredCurve::new("t", &[(512, f64::NAN, None)]).is_none());
    }

    #[test]
    fn a_power_law_join_puts_the_cost_minimum_at_a_measured_size() {
        // ln d falls faster than ln m rises up to 2,048 MB (slopes −1.15, −1.21), then flattens:
        // the cubic's tangent at 2,048 MB is shallower than −1, so cost m·d dips inside the
        // segment; the power-law join keeps it monotone there.
        let pts = [(1024, 4_500.0, None), (1769, 2_400.0, None), (2048, 2_010.0, None), (4096, 1_900.0, None)];
        let cubic = MeasuredCurve::new("t", &pts).unwrap();
        let power = cubic.clone().with_interpolation(Interpolation::PowerLaw);
        assert_eq!(cubic.interpolation(), Interpolation::MonotoneCubic);
        let cost = |c: &MeasuredCurve, mb: u32| f64::from(mb) * c.mean_ms(f64::from(mb));
        let argmin = |c: &MeasuredCurve| (1024..=4096).min_by(|&a, &b| cost(c, a).total_cmp(&cost(c, b))).unwrap();
        assert!((1770..2048).contains(&argmin(&cubic)), "the cubic dips between measurements: {}", argmin(&cubic));
        assert_eq!(argmin(&power), 2048);
        // Both pass through the measurements; the power law is exact between two of them.
        for c in [&cubic, &power] {
            assert!((c.mean_ms(1769.0) - 2_400.0).abs() < 1e-9);
        }
        let mid = (1024f64 * 1769.0).sqrt();
        assert!((power.mean_ms(mid) - (4_500f64 * 2_400.0).sqrt()).abs() < 1e-9);
        // The default serialises as before; the power law says so.
        let json = serde_json::to_value(&power).unwrap();
        assert_eq!(json["interpolation"], "powerLaw");
        assert!(serde_json::to_value(&cubic).unwrap().get("interpolation").is_none());
    }
}
