//! Ziggurat sampling of the standard exponential and normal distributions (Marsaglia &
//! Tsang, "The Ziggurat Method for Generating Random Variables", Journal of Statistical
//! Software 5(8), 2000; 256 layers, their constants).
//!
//! The density is covered by 256 layers of equal area: a layer is chosen with 8 random bits,
//! a point in it with the other 53, and about 99% of the time the point lies under the
//! density with no further arithmetic — no logarithm, no square root. The simulator draws an
//! arrival time and a duration for every call it simulates, which is where this matters; the
//! other samplers in `rng.rs` stay as they are, since the benchmarks' published figures were
//! measured on their streams.

use std::sync::OnceLock;

const LAYERS: usize = 256;

/// Layer edges `x` (decreasing: `x[0]` is the base layer's virtual width, `x[1] = r`,
/// `x[LAYERS] = 0`) and the density at each edge.
pub(super) struct Table {
    x: [f64; LAYERS + 1],
    f: [f64; LAYERS + 1],
    /// Where the tail begins.
    r: f64,
}

impl Table {
    /// Layers of area `v` under the unnormalised density `pdf` (with inverse `inv`), the base
    /// layer ending at `r`.
    fn build(r: f64, v: f64, pdf: fn(f64) -> f64, inv: fn(f64) -> f64) -> Self {
        let mut x = [0.0; LAYERS + 1];
        x[0] = v / pdf(r);
        x[1] = r;
        for i in 2..LAYERS {
            // Layer i − 1 spans heights pdf(x[i−1]) .. pdf(x[i]) at width x[i−1], area v.
            x[i] = inv(pdf(x[i - 1]) + v / x[i - 1]);
        }
        let f = x.map(pdf);
        Self { x, f, r }
    }

    /// Top of the last layer: 1 (the density's peak) when the constants fit together.
    #[cfg(test)]
    pub(super) fn last_top(&self, v: f64) -> f64 {
        self.f[LAYERS - 1] + v / self.x[LAYERS - 1]
    }
}

fn exp_pdf(x: f64) -> f64 {
    (-x).exp()
}

fn exp_inv(y: f64) -> f64 {
    -y.ln()
}

fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp()
}

fn normal_inv(y: f64) -> f64 {
    (-2.0 * y.ln()).sqrt()
}

pub(super) const EXP_R: f64 = 7.697_117_470_131_05;
pub(super) const EXP_V: f64 = 0.003_949_659_822_581_557;
pub(super) const NORMAL_R: f64 = 3.654_152_885_361_009;
pub(super) const NORMAL_V: f64 = 0.004_928_673_233_99;

/// Both tables, built once per process; each [`super::Rng`] holds a reference, so a draw
/// reads them without going through the lazy initialisation.
pub(crate) struct Tables {
    pub(super) exp: Table,
    pub(super) normal: Table,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ziggurat tables")
    }
}

pub(super) fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| Tables {
        exp: Table::build(EXP_R, EXP_V, exp_pdf, exp_inv),
        normal: Table::build(NORMAL_R, NORMAL_V, normal_pdf, normal_inv),
    })
}

/// 53 random bits as a float in [0, 1).
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

impl super::Rng {
    /// Exponential with mean 1, by the ziggurat: the same distribution as [`Self::exp`],
    /// another stream.
    #[inline]
    pub fn exp_ziggurat(&mut self) -> f64 {
        let t = &self.zig.exp;
        let mut base = 0.0;
        loop {
            let bits = self.next_u64();
            let i = (bits & 0xFF) as usize;
            let z = unit(bits) * t.x[i];
            if z < t.x[i + 1] {
                return base + z;
            }
            if i == 0 {
                // Beyond r the exponential is r plus an exponential (memoryless).
                base += t.r;
                continue;
            }
            if t.f[i] + self.uniform() * (t.f[i + 1] - t.f[i]) < exp_pdf(z) {
                return base + z;
            }
        }
    }

    /// Standard normal, by the ziggurat: the same distribution as [`Self::normal`], another
    /// stream.
    #[inline]
    pub fn normal_ziggurat(&mut self) -> f64 {
        let t = &self.zig.normal;
        loop {
            let bits = self.next_u64();
            let i = (bits & 0xFF) as usize;
            let sign = if bits & 0x100 == 0 { 1.0 } else { -1.0 };
            let z = unit(bits) * t.x[i];
            if z < t.x[i + 1] {
                return sign * z;
            }
            if i == 0 {
                // Marsaglia's tail method (1964): exact for the normal beyond r.
                loop {
                    let a = -self.uniform().ln() / t.r;
                    let b = -self.uniform().ln();
                    if 2.0 * b > a * a {
                        return sign * (t.r + a);
                    }
                }
            }
            if t.f[i] + self.uniform() * (t.f[i + 1] - t.f[i]) < normal_pdf(z) {
                return sign * z;
            }
        }
    }
}
