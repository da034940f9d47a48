//! Is a borough (or any group) different from the rest of the force? Pure statistics for the
//! equality question, and [`group_tests`], which applies them to a decoded scorecard (its
//! Arrow form is [`crate::tables::disparity_batch`]).
//!
//! - [`two_proportion_z`]: pooled two-proportion z of a group against the rest;
//!   [`two_sided_p`] its p-value, [`holm`] the Holm step-down adjustment across groups.
//! - [`funnel_limits`]: Spiegelhalter's exact binomial control limits with the continuity
//!   adjustment ("Funnel plots for comparing institutional performance", Stat Med 2005),
//!   which stay inside [0, 1] and are right for small boroughs where the normal
//!   approximation is not.
//! - [`Overdispersion`]: when every borough differs (real forces are not binomial), the
//!   multiplicative phi from Winsorised z-scores or the additive tau-squared of the same paper.
//!
//! Nothing here needs a statistics crate: the normal tail is a series and a continued
//! fraction, and binomial probabilities are walked out from the mode by their ratio.

use std::collections::BTreeMap;

use crate::card::{Card, CardRow};
use crate::cube::ALL_LEVEL;

/// Standard normal quantile at 0.975 (two-sided 95%).
pub const Z_95: f64 = 1.959_963_984_540_054;
/// Standard normal quantile at 0.999 (two-sided 99.8%).
pub const Z_998: f64 = 3.090_232_306_167_813_5;

/// The complementary error function, to about 1e-15 relative for x >= 0.
///
/// Below 1.5, one minus a series for erf whose terms are all positive (erfc(1.5) is 0.03,
/// so 1 - erf keeps 14 digits); above, the Laplace continued fraction evaluated backwards,
/// which 120 terms take to full precision there.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    const FRAC_2_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;
    if x < 1.5 {
        // erf x = 2/sqrt(pi) exp(-x^2) sum 2^n x^(2n+1) / (1 3 5 ... (2n+1)): every term is
        // positive, so nothing cancels (the alternating Maclaurin series would).
        let (x2, mut term) = (x * x, x);
        let mut sum = x;
        for n in 1..400 {
            term *= 2.0 * x2 / (2 * n + 1) as f64;
            sum += term;
            if term < 1e-17 * sum {
                break;
            }
        }
        return 1.0 - FRAC_2_SQRT_PI * (-x2).exp() * sum;
    }
    if x > 27.0 {
        return 0.0; // below the smallest f64
    }
    // erfc x = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
    let mut f = x;
    for k in (1..=120).rev() {
        f = x + (k as f64 / 2.0) / f;
    }
    (-x * x).exp() * FRAC_2_SQRT_PI / 2.0 / f
}

/// Standard normal distribution function.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Two-sided p-value of a standard normal z.
pub fn two_sided_p(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
}

/// Pooled two-proportion z of `k1/n1` against `k2/n2`; `None` when a side is empty or the
/// pooled proportion is 0 or 1 (no variance: the two cannot be told apart).
pub fn two_proportion_z(k1: u64, n1: u64, k2: u64, n2: u64) -> Option<f64> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let pooled = (k1 + k2) as f64 / (n1f + n2f);
    let var = pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f);
    (var > 0.0).then(|| (k1 as f64 / n1f - k2 as f64 / n2f) / var.sqrt())
}

/// Holm's step-down adjustment: the adjusted p-values, in the input's order. Controls the
/// family-wise error rate across the groups compared, without Bonferroni's loss of power.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

/// The probabilities of Binomial(n, p) that matter (the rest sum to under 1e-20 of the
/// total), found by walking the ratio `P(k+1)/P(k)` out from the mode: no factorials, no
/// underflow at large n.
struct Binomial {
    /// Value of `pmf[0]`.
    first: u64,
    /// Probabilities of `first, first + 1, ...`, normalised to sum to 1.
    pmf: Vec<f64>,
}

impl Binomial {
    fn new(n: u64, p: f64) -> Self {
        let mode = (((n + 1) as f64) * p).floor().min(n as f64) as u64;
        let odds = p / (1.0 - p);
        let mut up = vec![1.0];
        let mut k = mode;
        while k < n {
            let next = up[up.len() - 1] * (n - k) as f64 / (k + 1) as f64 * odds;
            if next < 1e-20 {
                break;
            }
            up.push(next);
            k += 1;
        }
        let mut down = Vec::new();
        let (mut k, mut w) = (mode, 1.0);
        while k > 0 {
            w *= k as f64 / (n - k + 1) as f64 / odds;
            if w < 1e-20 {
                break;
            }
            down.push(w);
            k -= 1;
        }
        let first = mode - down.len() as u64;
        let mut pmf: Vec<f64> = down.into_iter().rev().chain(up).collect();
        let total: f64 = pmf.iter().sum();
        pmf.iter_mut().for_each(|v| *v /= total);
        Binomial { first, pmf }
    }

    /// `(r, F(r), P(r))`: the smallest r with `F(r) >= q`.
    fn quantile(&self, q: f64) -> (u64, f64, f64) {
        let mut cdf = 0.0;
        for (i, &p) in self.pmf.iter().enumerate() {
            cdf += p;
            if cdf >= q {
                return (self.first + i as u64, cdf, p);
            }
        }
        let last = self.pmf.last().copied().unwrap_or(1.0);
        (self.first + self.pmf.len() as u64 - 1, 1.0, last)
    }

    /// Spiegelhalter's continuity-adjusted limit at probability `q`, as a count.
    fn limit(&self, q: f64) -> f64 {
        let (r, f, p) = self.quantile(q);
        let alpha = if p > 0.0 { (f - q) / p } else { 0.0 };
        r as f64 - alpha
    }
}

/// Funnel-plot control limits around a proportion at one sample size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FunnelLimits {
    /// Lower 99.8% limit.
    pub lo998: f64,
    /// Lower 95% limit.
    pub lo95: f64,
    /// Upper 95% limit.
    pub hi95: f64,
    /// Upper 99.8% limit.
    pub hi998: f64,
}

impl FunnelLimits {
    /// Where a proportion falls against these limits.
    pub fn position(&self, y: f64) -> FunnelPosition {
        if y > self.hi998 {
            FunnelPosition::Above998
        } else if y > self.hi95 {
            FunnelPosition::Above95
        } else if y < self.lo998 {
            FunnelPosition::Below998
        } else if y < self.lo95 {
            FunnelPosition::Below95
        } else {
            FunnelPosition::Inside
        }
    }
}

/// Exact binomial funnel limits for proportion `p0` at sample size `n` (Spiegelhalter 2005):
/// `r_q` is the q-quantile of Binomial(n, p0), `alpha = (F(r_q) - q) / (F(r_q) - F(r_q - 1))`
/// and the limit is `(r_q - alpha) / n`. `None` when `n` is 0 or `p0` is not in [0, 1].
pub fn funnel_limits(p0: f64, n: u64) -> Option<FunnelLimits> {
    if n == 0 || !(0.0..=1.0).contains(&p0) {
        return None;
    }
    if p0 == 0.0 || p0 == 1.0 {
        // No variation is possible: the funnel collapses onto its centre.
        return Some(FunnelLimits {
            lo998: p0,
            lo95: p0,
            hi95: p0,
            hi998: p0,
        });
    }
    let b = Binomial::new(n, p0);
    let nf = n as f64;
    let at = |q: f64| (b.limit(q) / nf).clamp(0.0, 1.0);
    Some(FunnelLimits {
        lo998: at(0.001),
        lo95: at(0.025),
        hi95: at(0.975),
        hi998: at(0.999),
    })
}

/// Where a group falls on the funnel plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunnelPosition {
    /// Above the upper 99.8% limit.
    Above998,
    /// Between the upper 95% and 99.8% limits.
    Above95,
    /// Inside the 95% limits.
    Inside,
    /// Between the lower 95% and 99.8% limits.
    Below95,
    /// Below the lower 99.8% limit.
    Below998,
}

impl FunnelPosition {
    /// Text used in outputs.
    pub fn name(self) -> &'static str {
        match self {
            FunnelPosition::Above998 => "above 99.8%",
            FunnelPosition::Above95 => "above 95%",
            FunnelPosition::Inside => "inside",
            FunnelPosition::Below95 => "below 95%",
            FunnelPosition::Below998 => "below 99.8%",
        }
    }

    /// Outside the 95% limits.
    pub fn is_outlier(self) -> bool {
        self != FunnelPosition::Inside
    }
}

/// Allowance for over-dispersion: real boroughs vary more than the binomial says, and with
/// large counts every one of them would otherwise be an "outlier".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overdispersion {
    /// Plain binomial limits.
    #[default]
    None,
    /// Limits widened by `sqrt(phi)`, phi estimated from Winsorised z-scores.
    Multiplicative,
    /// A between-group variance tau-squared added to each group's variance
    /// (DerSimonian-Laird style, as in Spiegelhalter 2005).
    Additive,
}

/// Over-dispersion estimates over a set of groups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dispersion {
    /// Multiplicative factor (1 when the groups are no more variable than binomial).
    pub phi: f64,
    /// Additive between-group variance (0 likewise).
    pub tau2: f64,
}

/// The z-score of proportion `y` at size `n` around `p0`: `(y - p0) / sqrt(p0 (1 - p0) / n)`.
fn funnel_z(y: f64, n: u64, p0: f64) -> Option<f64> {
    let var = p0 * (1.0 - p0) / n as f64;
    (n > 0 && var > 0.0).then(|| (y - p0) / var.sqrt())
}

/// Estimates phi and tau-squared from groups `(y_i, n_i)` around `p0` (Spiegelhalter 2005,
/// section 6): z-scores Winsorised at their 10th and 90th percentiles, `phi = mean(z^2)`;
/// `tau2 = max(0, (I phi - (I - 1)) / (sum w - sum w^2 / sum w))` with `w = 1 / s^2`.
/// `None` with fewer than two groups with a z-score.
pub fn dispersion(groups: &[(f64, u64)], p0: f64) -> Option<Dispersion> {
    let zs: Vec<(f64, f64)> = groups
        .iter()
        .filter_map(|&(y, n)| funnel_z(y, n, p0).map(|z| (z, n as f64 / (p0 * (1.0 - p0)))))
        .collect();
    let i = zs.len();
    if i < 2 {
        return None;
    }
    let mut sorted: Vec<f64> = zs.iter().map(|z| z.0).collect();
    sorted.sort_by(f64::total_cmp);
    let k = i / 10; // the 10% most extreme at each end are pulled in
    let (lo, hi) = (sorted[k], sorted[i - 1 - k]);
    let phi = sorted.iter().map(|z| z.clamp(lo, hi).powi(2)).sum::<f64>() / i as f64;
    let sw: f64 = zs.iter().map(|z| z.1).sum();
    let sw2: f64 = zs.iter().map(|z| z.1 * z.1).sum();
    let denom = sw - sw2 / sw;
    let tau2 = if denom > 0.0 {
        ((i as f64 * phi - (i as f64 - 1.0)) / denom).max(0.0)
    } else {
        0.0
    };
    Some(Dispersion { phi, tau2 })
}

/// The z-score of `(y, n)` around `p0` allowing for over-dispersion: divided by `sqrt(phi)`
/// (only when phi > 1: under-dispersion never narrows the limits), or with tau-squared added
/// to the binomial variance.
pub fn adjusted_z(y: f64, n: u64, p0: f64, d: Dispersion, how: Overdispersion) -> Option<f64> {
    let var = p0 * (1.0 - p0) / n as f64;
    if n == 0 || var <= 0.0 {
        return None;
    }
    let var = match how {
        Overdispersion::None => var,
        Overdispersion::Multiplicative => var * d.phi.max(1.0),
        Overdispersion::Additive => var + d.tau2,
    };
    Some((y - p0) / var.sqrt())
}

/// Where a z-score falls against the normal 95% and 99.8% limits.
pub fn position_of_z(z: f64) -> FunnelPosition {
    if z > Z_998 {
        FunnelPosition::Above998
    } else if z > Z_95 {
        FunnelPosition::Above95
    } else if z < -Z_998 {
        FunnelPosition::Below998
    } else if z < -Z_95 {
        FunnelPosition::Below95
    } else {
        FunnelPosition::Inside
    }
}

/// One group of a (window, measure, level) against the rest of the force at that level.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupTest<'a> {
    /// The group's scorecard row.
    pub row: &'a CardRow,
    /// Measured and within, over the other groups of the level.
    pub rest: (u64, u64),
    /// Force-wide compliance at the level (the funnel's centre line).
    pub centre: f64,
    /// Pooled two-proportion z against the rest.
    pub z: Option<f64>,
    /// Its two-sided p-value.
    pub p: Option<f64>,
    /// Holm-adjusted across the groups of the window, measure and level.
    pub holm_p: Option<f64>,
    /// Exact binomial funnel limits at the group's size.
    pub limits: Option<FunnelLimits>,
    /// Over-dispersion estimates of the level (when asked for).
    pub dispersion: Option<Dispersion>,
    /// z-score around the centre allowing for over-dispersion (when asked for).
    pub z_adjusted: Option<f64>,
}

fn u(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Tests every group of every (window, measure, level) other than [`ALL_LEVEL`] (a single
/// group: there is no rest of the force to compare it with), in the card's window, measure,
/// level order. Groups with nothing measured get no statistics.
pub fn group_tests(card: &Card, how: Overdispersion) -> Vec<GroupTest<'_>> {
    let mut sets: BTreeMap<(i32, &str, &str), Vec<&CardRow>> = BTreeMap::new();
    for r in card.rows.iter().filter(|r| r.level != ALL_LEVEL) {
        sets.entry((r.start, r.measure.as_str(), r.level.as_str()))
            .or_default()
            .push(r);
    }
    let mut out = Vec::new();
    for rows in sets.into_values() {
        let n: u64 = rows.iter().map(|r| u(r.n_measured)).sum();
        let k: u64 = rows.iter().map(|r| u(r.n_within)).sum();
        let centre = if n > 0 { k as f64 / n as f64 } else { f64::NAN };
        let ys: Vec<(f64, u64)> = rows
            .iter()
            .filter(|r| r.n_measured > 0)
            .map(|r| (r.n_within as f64 / r.n_measured as f64, u(r.n_measured)))
            .collect();
        let disp = (how != Overdispersion::None)
            .then(|| dispersion(&ys, centre))
            .flatten();
        let first = out.len();
        for r in rows {
            let (ni, ki) = (u(r.n_measured), u(r.n_within));
            let rest = (n - ni, k - ki);
            let z = two_proportion_z(ki, ni, rest.1, rest.0);
            let y = (ni > 0).then(|| ki as f64 / ni as f64);
            out.push(GroupTest {
                row: r,
                rest,
                centre,
                z,
                p: z.map(two_sided_p),
                holm_p: None,
                limits: funnel_limits(centre, ni),
                dispersion: disp,
                z_adjusted: y
                    .zip(disp)
                    .and_then(|(y, d)| adjusted_z(y, ni, centre, d, how)),
            });
        }
        let tested: Vec<usize> = (first..out.len()).filter(|&i| out[i].p.is_some()).collect();
        let ps: Vec<f64> = tested.iter().filter_map(|&i| out[i].p).collect();
        for (i, h) in tested.into_iter().zip(holm(&ps)) {
            out[i].holm_p = Some(h);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::wilson_95;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    #[test]
    fn erfc_matches_reference_values() {
        // Reference values from Abramowitz & Stegun / mpmath at 16 digits.
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_13),
            (2.0, 0.004_677_734_981_047_266),
            (2.9, 4.109_787_809_945_886e-5),
            (3.0, 2.209_049_699_858_544e-5),
            (5.0, 1.537_459_794_428_034_8e-12),
            (10.0, 2.088_487_583_762_545e-45),
        ] {
            let got = erfc(x);
            assert!(
                ((got - want) / want).abs() < 1e-11,
                "erfc({x}) = {got}, want {want}"
            );
        }
        close(erfc(-1.0), 2.0 - 0.157_299_207_050_285_13, 1e-15);
        close(normal_cdf(Z_95), 0.975, 1e-13);
        close(normal_cdf(-Z_998), 0.001, 1e-14);
    }

    #[test]
    fn issue_reference_values() {
        let (lo, hi) = wilson_95(870, 1000).unwrap();
        close(lo, 0.84773, 5e-6);
        close(hi, 0.88944, 5e-6);
        let z = two_proportion_z(870, 1000, 820, 1000).unwrap();
        close(z, 3.0893, 5e-5);
        close(two_sided_p(z), 0.002_006, 2e-6);
        let l = funnel_limits(0.1, 100).unwrap();
        close(l.lo95, 0.04038, 5e-6);
        close(l.hi95, 0.15772, 5e-6);
        close(l.lo998, 0.01418, 5e-6);
        close(l.hi998, 0.19836, 5e-6);
    }

    #[test]
    fn funnel_limits_approach_the_normal_ones_at_large_n() {
        let (p0, n) = (0.9, 1_000_000u64);
        let l = funnel_limits(p0, n).unwrap();
        let s = (p0 * (1.0 - p0) / n as f64).sqrt();
        close(l.hi95, p0 + Z_95 * s, 2e-6);
        close(l.lo998, p0 - Z_998 * s, 2e-6);
        let degenerate = funnel_limits(1.0, 10).unwrap();
        assert_eq!(degenerate.lo998, 1.0);
        assert_eq!(funnel_limits(0.5, 0), None);
        // Small n: the limits stay inside [0, 1].
        let l = funnel_limits(0.98, 3).unwrap();
        assert!((0.0..=1.0).contains(&l.lo998) && l.hi998 <= 1.0);
    }

    #[test]
    fn holm_is_monotone_and_capped() {
        let adj = holm(&[0.01, 0.04, 0.03, 0.5]);
        // sorted 0.01*4, 0.03*3, 0.04*2, 0.5*1 -> 0.04, 0.09, 0.09 (monotone), 0.5
        let want = [0.04, 0.09, 0.09, 0.5];
        for (a, w) in adj.iter().zip(want) {
            close(*a, w, 1e-12);
        }
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn dispersion_detects_overdispersed_groups() {
        // Binomial-looking groups: phi near 1, tau2 zero.
        let p0 = 0.8;
        let calm: Vec<(f64, u64)> = (0..20)
            .map(|i| (p0 + if i % 2 == 0 { 0.005 } else { -0.005 }, 1600))
            .collect();
        let d = dispersion(&calm, p0).unwrap();
        close(d.phi, 0.25, 1e-9); // s = sqrt(0.8 * 0.2 / 1600) = 0.01, so z = +-0.5
        assert_eq!(d.tau2, 0.0);
        // Every group 5 standard errors off: phi 25 after Winsorising (all equal in size).
        let wild: Vec<(f64, u64)> = (0..20)
            .map(|i| (p0 + if i % 2 == 0 { 0.05 } else { -0.05 }, 1600))
            .collect();
        let d = dispersion(&wild, p0).unwrap();
        close(d.phi, 25.0, 1e-9);
        // tau2 = (I phi - (I-1)) / (sum w - sum w^2 / sum w), w = n / (p0 (1 - p0)) = 10000
        close(
            d.tau2,
            (20.0 * 25.0 - 19.0) / (20.0 * 10_000.0 - 10_000.0),
            1e-12,
        );
        let z = adjusted_z(0.85, 1600, p0, d, Overdispersion::Multiplicative).unwrap();
        close(z, 1.0, 1e-9);
        assert_eq!(position_of_z(z), FunnelPosition::Inside);
        assert_eq!(dispersion(&[(0.5, 10)], 0.5), None);
    }
}
