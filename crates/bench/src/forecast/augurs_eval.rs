//! augurs MSTL + AutoETS on the same origins as our forecaster (built only with
//! `--features augurs`). Given every advantage DESIGN.md's measurements call for: hard-coded
//! daily (and, from 14 days, weekly) periods instead of its periodogram, a log1p transform
//! (no negative counts), gaps linearly interpolated (it rejects NaN), clamped at zero.
//! Fitted on every [`EVERY`]-th origin only: at ≈ 0.1–0.2 s a fit, all origins take minutes.

use augurs::ets::AutoETS;
use augurs::ets::trend::AutoETSTrendModel;
use augurs::mstl::MSTLModel;
use augurs::{Fit, Predict};
use autopilot_core::forecast::Series;

use super::cpu_time::CpuTimer;
use super::{Accuracy, BIN_MINUTES, MaseAcc, Scored};

pub const EVERY: usize = 4;
const DAY_BINS: usize = 288;

#[derive(Debug, Default)]
pub struct Evaluator {
    seen: usize,
    acc: MaseAcc,
    seconds: f64,
    fits: usize,
    pub failures: usize,
}

impl Evaluator {
    pub fn add(&mut self, window: &Series, values: &[f64], origin: usize, scale: f64) {
        self.seen += 1;
        if (self.seen - 1) % EVERY != 0 {
            return;
        }
        let step = f64::from(BIN_MINUTES);
        let y =
            interpolate(window.values.iter().map(|v| if v.is_nan() { f64::NAN } else { (v * step).ln_1p() }).collect());
        let days = y.len() / DAY_BINS;
        let periods = if days >= 14 { vec![DAY_BINS, 7 * DAY_BINS] } else { vec![DAY_BINS] };
        let timer = CpuTimer::start();
        let model = MSTLModel::new(periods, AutoETSTrendModel::from(AutoETS::non_seasonal()));
        let forecast = model.fit(&y).ok().and_then(|f| {
            let p90 = f.predict(DAY_BINS, 0.8).ok()?;
            let p99 = f.predict(DAY_BINS, 0.98).ok()?;
            Some((p90, p99))
        });
        self.seconds += timer.seconds().0;
        self.fits += 1;
        let Some((p90, p99)) = forecast else {
            self.failures += 1;
            return;
        };
        let back = |v: f64| v.exp_m1().max(0.0) / step;
        let upper = |f: &augurs::Forecast, k: usize| f.intervals.as_ref().map_or(f.point[k], |i| i.upper[k]);
        let f: Vec<(f64, f64, f64)> =
            (0..DAY_BINS).map(|k| (back(p90.point[k]), back(upper(&p90, k)), back(upper(&p99, k)))).collect();
        self.acc.add(&Scored::score(values, origin, &f), scale);
    }

    /// Accuracy and mean ms per fit (both predictions included).
    pub fn result(&self) -> Option<(Accuracy, f64)> {
        (self.fits > self.failures).then(|| (self.acc.accuracy(), 1000.0 * self.seconds / self.fits as f64))
    }
}

/// Linear interpolation over NaN runs (edges take the nearest value; all-NaN → zeros).
fn interpolate(mut v: Vec<f64>) -> Vec<f64> {
    let known: Vec<usize> = (0..v.len()).filter(|&i| !v[i].is_nan()).collect();
    let (Some(&first), Some(&last)) = (known.first(), known.last()) else { return vec![0.0; v.len()] };
    for i in 0..first {
        v[i] = v[first];
    }
    for i in last + 1..v.len() {
        v[i] = v[last];
    }
    for w in known.windows(2) {
        let (a, b) = (w[0], w[1]);
        for i in a + 1..b {
            v[i] = v[a] + (v[b] - v[a]) * (i - a) as f64 / (b - a) as f64;
        }
    }
    v
}
