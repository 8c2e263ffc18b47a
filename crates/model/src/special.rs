//! Special functions the likelihoods need: ln Γ, ψ (digamma) and the Gaussian hypergeometric
//! function ₂F₁.

use std::f64::consts::PI;

use crate::{ModelError, Result};

/// Lanczos parameter g of the coefficient set below.
const LANCZOS_G: f64 = 7.0;

/// Lanczos coefficients for g = 7, n = 9 (Paul Godfrey's set): relative error of Γ below about
/// 2e-15 for x > 0.
#[allow(
    clippy::excessive_precision,
    reason = "the coefficients as published, rounded by the compiler"
)]
const LANCZOS_COEF: [f64; 9] = [
    0.999_999_999_999_809_93,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_13,
    -176.615_029_162_140_59,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_571_6e-6,
    1.505_632_735_149_311_6e-7,
];

/// ½ ln(2π).
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// ln |Γ(x)|, by the Lanczos approximation (Lanczos 1964; Press et al., *Numerical Recipes*, §6.1)
/// for x ≥ ½ and the reflection formula Γ(x) Γ(1 − x) = π / sin(πx) below.
///
/// Accurate to about 1e-14 relative (1e-15 absolute near the zeros at 1 and 2). Returns +∞ at the
/// poles x = 0, −1, −2, … and NaN for NaN.
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return f64::INFINITY;
    }
    if x <= 0.0 && x == x.floor() {
        return f64::INFINITY;
    }
    if x < 0.5 {
        // Reflection keeps the Lanczos sum where it is accurate.
        return (PI / (PI * x).sin()).abs().ln() - ln_gamma(1.0 - x);
    }
    let z = x - 1.0;
    let mut sum = LANCZOS_COEF[0];
    for (i, c) in LANCZOS_COEF.iter().enumerate().skip(1) {
        sum += c / (z + i as f64);
    }
    let t = z + LANCZOS_G + 0.5;
    HALF_LN_2PI + (z + 0.5) * t.ln() - t + sum.ln()
}

/// ψ(x) = d/dx ln Γ(x), the digamma function: the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 10,
/// then the asymptotic series ψ(x) ~ ln x − 1/(2x) − Σ B₂ₖ / (2k x²ᵏ) (Abramowitz & Stegun
/// 6.3.18), and reflection ψ(1 − x) − ψ(x) = π cot(πx) for negative x.
///
/// Accurate to about 1e-15 absolute. NaN at the poles x = 0, −1, −2, ….
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || (x <= 0.0 && x == x.floor()) {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return f64::INFINITY;
    }
    let mut x = x;
    let mut acc = 0.0;
    if x < 0.0 {
        acc -= PI / (PI * x).tan();
        x = 1.0 - x;
    }
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    // B₂ₖ / (2k) for k = 1..7.
    let series = inv2
        * (1.0 / 12.0
            - inv2
                * (1.0 / 120.0
                    - inv2
                        * (1.0 / 252.0
                            - inv2
                                * (1.0 / 240.0
                                    - inv2
                                        * (1.0 / 132.0
                                            - inv2 * (691.0 / 32_760.0 - inv2 / 12.0))))));
    acc + x.ln() - 0.5 * inv - series
}

/// Most terms the ₂F₁ series may take before giving up; at z = 0.999 it needs about 40,000.
const HYP2F1_MAX_TERMS: usize = 1_000_000;

/// Relative precision the ₂F₁ series stops at.
const HYP2F1_EPS: f64 = 1e-16;

/// The Gaussian hypergeometric function ₂F₁(a, b; c; z) = Σₖ (a)ₖ (b)ₖ / ((c)ₖ k!) zᵏ
/// (Abramowitz & Stegun 15.1.1), summed as a power series for |z| < 1.
///
/// Negative z goes through Pfaff's transformation ₂F₁(a, b; c; z) = (1 − z)⁻ᵃ
/// ₂F₁(a, c − b; c; z / (z − 1)) (A&S 15.3.4) so the series always runs on [0, ½] or [0, 1).
/// The sum stops when the bound on its tail, |term| · ρ / (1 − ρ) with ρ the larger of the current
/// term ratio and |z|, falls below 1e-16 of the sum on two consecutive terms.
///
/// # Errors
/// [`ModelError::InvalidParameter`] for a non-finite argument, |z| ≥ 1, or c a non-positive
/// integer (a pole); [`ModelError::NoConvergence`] when the series has not converged after
/// 1,000,000 terms, overflows, or cancels so much that fewer than 8 digits of the sum are left.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64> {
    if !(a.is_finite() && b.is_finite() && c.is_finite() && z.is_finite()) {
        return Err(ModelError::param("2F1 arguments", "must be finite"));
    }
    if z.abs() >= 1.0 {
        return Err(ModelError::param(
            "z",
            "must satisfy |z| < 1 for the 2F1 series",
        ));
    }
    if c <= 0.0 && c == c.floor() {
        return Err(ModelError::param(
            "c",
            "cannot be zero or a negative integer in 2F1",
        ));
    }
    if z < 0.0 {
        let w = z / (z - 1.0);
        return Ok((1.0 - z).powf(-a) * hyp2f1_series(a, c - b, c, w)?);
    }
    hyp2f1_series(a, b, c, z)
}

/// The raw power series of [`hyp2f1`]; the caller has checked the arguments.
fn hyp2f1_series(a: f64, b: f64, c: f64, z: f64) -> Result<f64> {
    let mut term = 1.0_f64;
    let mut sum = 1.0_f64;
    let mut largest = 1.0_f64;
    let mut small_in_a_row = 0;
    for k in 0..HYP2F1_MAX_TERMS {
        let k = k as f64;
        let ratio = (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        term *= ratio;
        sum += term;
        largest = largest.max(term.abs());
        if term == 0.0 {
            // a or b is a non-positive integer: the series is a polynomial and has ended.
            break;
        }
        if !sum.is_finite() {
            return Err(ModelError::NoConvergence {
                method: "2F1 series",
                detail: format!("the sum overflowed after {} terms", k + 1.0),
            });
        }
        let rho = ratio.abs().max(z.abs());
        if rho < 1.0 && term.abs() * rho / (1.0 - rho) <= HYP2F1_EPS * sum.abs() {
            small_in_a_row += 1;
            if small_in_a_row == 2 {
                break;
            }
        } else {
            small_in_a_row = 0;
        }
        if k + 1.0 == HYP2F1_MAX_TERMS as f64 {
            return Err(ModelError::NoConvergence {
                method: "2F1 series",
                detail: format!(
                    "{HYP2F1_MAX_TERMS} terms were not enough at z = {z} (z too close to 1)"
                ),
            });
        }
    }
    if largest > 1e8 * sum.abs() {
        return Err(ModelError::NoConvergence {
            method: "2F1 series",
            detail: "cancellation between terms left fewer than 8 significant digits".into(),
        });
    }
    Ok(sum)
}

#[cfg(test)]
#[allow(
    clippy::excessive_precision,
    reason = "reference values as mpmath printed them, rounded by the compiler"
)]
mod tests {
    use super::*;

    fn assert_close(got: f64, want: f64, rel: f64) {
        let err = (got - want).abs() / want.abs().max(1.0);
        assert!(
            err <= rel,
            "got {got:e}, want {want:e}, error {err:e} > {rel:e}"
        );
    }

    /// Reference values from mpmath at 40 digits (`mpmath.loggamma`).
    #[test]
    fn ln_gamma_matches_known_values() {
        let cases = [
            (1e-8, 18.420_680_738_180_208_905),
            (0.001, 6.907_178_885_383_853_682_5),
            (0.1, 2.252_712_651_734_205_959_9),
            (0.5, 0.572_364_942_924_700_087_07),
            (1.0, 0.0),
            (1.5, -0.120_782_237_635_245_222_35),
            (2.0, 0.0),
            (2.5, 0.284_682_870_472_919_159_63),
            (3.5, 1.200_973_602_347_074_224_8),
            (7.25, 7.052_185_450_738_539_444_9),
            (10.0, 12.801_827_480_081_469_611),
            (33.3, 82.603_723_581_654_952_928),
            (100.0, 359.134_205_369_575_398_78),
            (1000.0, 5_905.220_423_209_181_211_8),
            (1e6, 12_815_504.569_147_611_66),
            (-0.5, 1.265_512_123_484_645_396_5),
            (-2.5, -0.056_243_716_497_674_050_673),
        ];
        for (x, want) in cases {
            let got = ln_gamma(x);
            assert_close(got, want, 1e-14);
        }
    }

    #[test]
    fn ln_gamma_follows_the_recurrence_and_factorials() {
        let mut ln_fact = 0.0_f64;
        for n in 1..=170_u32 {
            // ln Γ(n + 1) = ln n!
            ln_fact += f64::from(n).ln();
            assert_close(ln_gamma(f64::from(n) + 1.0), ln_fact, 1e-14);
        }
        for i in 1..2000 {
            let x = f64::from(i) * 0.0173;
            assert_close(ln_gamma(x + 1.0), ln_gamma(x) + x.ln(), 2e-14);
        }
    }

    #[test]
    fn ln_gamma_poles_and_nan() {
        assert_eq!(ln_gamma(0.0), f64::INFINITY);
        assert_eq!(ln_gamma(-3.0), f64::INFINITY);
        assert!(ln_gamma(f64::NAN).is_nan());
    }

    /// Reference values from mpmath (`mpmath.digamma`).
    #[test]
    fn digamma_matches_known_values() {
        let cases = [
            (0.001, -1_000.575_571_931_810_300_5),
            (0.1, -10.423_754_940_411_076_795),
            (0.5, -1.963_510_026_021_423_479_4),
            (1.0, -0.577_215_664_901_532_860_61),
            (2.0, 0.422_784_335_098_467_139_39),
            (3.5, 1.103_156_640_645_243_187_2),
            (10.0, 2.251_752_589_066_721_107_6),
            (100.0, 4.600_161_852_738_087_400_2),
            (12_345.6, 9.421_014_502_465_396_594_1),
        ];
        for (x, want) in cases {
            assert_close(digamma(x), want, 1e-14);
        }
        assert!(digamma(1.461_632_144_968_362_3).abs() < 1e-15);
    }

    #[test]
    fn digamma_is_the_derivative_of_ln_gamma() {
        for i in 1..200 {
            let x = f64::from(i) * 0.137;
            let h = 1e-5 * x.max(1.0);
            let numeric = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!((digamma(x) - numeric).abs() < 1e-7 * digamma(x).abs().max(1.0));
        }
    }

    /// Closed forms (A&S 15.1.3–15.1.8) and mpmath (`mpmath.hyp2f1`) values.
    #[test]
    fn hyp2f1_matches_closed_forms() {
        for i in 1..100 {
            let z = f64::from(i) / 101.0;
            // ₂F₁(1, 1; 2; z) = −ln(1 − z) / z
            assert_close(
                hyp2f1(1.0, 1.0, 2.0, z).unwrap(),
                -(1.0 - z).ln() / z,
                1e-14,
            );
            // ₂F₁(a, b; b; z) = (1 − z)⁻ᵃ
            assert_close(
                hyp2f1(0.7, 2.5, 2.5, z).unwrap(),
                (1.0 - z).powf(-0.7),
                1e-14,
            );
            // ₂F₁(½, ½; 3/2; z²) = arcsin(z) / z
            let s = z.sqrt();
            assert_close(hyp2f1(0.5, 0.5, 1.5, z).unwrap(), s.asin() / s, 1e-14);
            // ₂F₁(½, 1; 3/2; −z²) = arctan(z) / z
            assert_close(hyp2f1(0.5, 1.0, 1.5, -z).unwrap(), s.atan() / s, 1e-14);
        }
    }

    #[test]
    fn hyp2f1_matches_mpmath() {
        let cases = [
            ((1.2, 2.3, 3.4, 0.5), 1.700_334_619_628_604_056_4),
            ((0.2426, 2.4258, 2.2186, 0.5), 1.206_751_806_602_102_052_3),
            ((6.2426, 8.4258, 8.2186, 0.9), 2_671_864.149_955_364_497_7),
            ((2.24, 4.43, 5.22, 0.99), 1_913.783_324_276_180_984_9),
            ((0.3, 0.5, -0.2, 0.4), 0.448_197_377_336_575_032_89),
            ((1.5, 2.5, 3.5, -0.7), 0.555_720_664_438_963_325_7),
            ((10.0, 12.0, 3.0, 0.3), 25_687.671_676_789_334_837),
        ];
        for ((a, b, c, z), want) in cases {
            assert_close(hyp2f1(a, b, c, z).unwrap(), want, 1e-12);
        }
    }

    #[test]
    fn hyp2f1_polynomial_and_guards() {
        // (a)ₖ vanishes from k = 3 on: ₂F₁(−2, b; c; z) = 1 − 2bz/c + b(b+1)z²/(c(c+1)).
        let (b, c, z) = (1.5, 2.5, 0.4);
        let want = 1.0 - 2.0 * b * z / c + b * (b + 1.0) * z * z / (c * (c + 1.0));
        assert_close(hyp2f1(-2.0, b, c, z).unwrap(), want, 1e-15);
        assert!(matches!(
            hyp2f1(1.0, 1.0, 2.0, 1.0),
            Err(ModelError::InvalidParameter { name: "z", .. })
        ));
        assert!(matches!(
            hyp2f1(1.0, 1.0, -2.0, 0.5),
            Err(ModelError::InvalidParameter { name: "c", .. })
        ));
        assert!(hyp2f1(f64::NAN, 1.0, 2.0, 0.5).is_err());
        // Terms of alternating sign around 1e30 leave no correct digit in a sum near 1.
        assert!(matches!(
            hyp2f1(-60.0, 60.0, 0.5, 0.9),
            Err(ModelError::NoConvergence { .. })
        ));
    }
}
