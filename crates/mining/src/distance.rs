//! Distances between points.

use serde::{Deserialize, Serialize};

use crate::{MiningError, Result};

/// 距离度量 — a Minkowski-family distance between two points of the same width.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub enum Distance {
    /// 欧氏距离 — Euclidean (L2): √Σ (aᵢ − bᵢ)².
    #[default]
    Euclidean,
    /// 曼哈顿距离 — Manhattan (L1, city block): Σ |aᵢ − bᵢ|.
    Manhattan,
    /// 切比雪夫距离 — Chebyshev (L∞): max |aᵢ − bᵢ|.
    Chebyshev,
    /// 闵可夫斯基距离 — Minkowski of order p ≥ 1: (Σ |aᵢ − bᵢ|ᵖ)^(1/p).
    Minkowski(f64),
}

impl Distance {
    /// Checks the order of a Minkowski distance.
    ///
    /// # Errors
    /// [`MiningError::InvalidParameter`] when p is not a finite number ≥ 1 (below 1 the triangle
    /// inequality fails).
    pub fn validate(&self) -> Result<()> {
        match *self {
            Distance::Minkowski(p) if !(p.is_finite() && p >= 1.0) => {
                Err(MiningError::param("p", "must be finite and >= 1"))
            }
            _ => Ok(()),
        }
    }

    /// Whether this is the Euclidean distance (Minkowski with p = 2 counts).
    pub fn is_euclidean(&self) -> bool {
        matches!(self, Distance::Euclidean) || matches!(self, Distance::Minkowski(p) if *p == 2.0)
    }

    /// The distance between `a` and `b`. Both must have the same length.
    pub fn eval(&self, a: &[f64], b: &[f64]) -> f64 {
        debug_assert_eq!(a.len(), b.len());
        let diffs = a.iter().zip(b).map(|(x, y)| (x - y).abs());
        match *self {
            Distance::Euclidean => squared_euclidean(a, b).sqrt(),
            Distance::Manhattan => diffs.sum(),
            Distance::Chebyshev => diffs.fold(0.0, f64::max),
            Distance::Minkowski(1.0) => diffs.sum(),
            Distance::Minkowski(2.0) => squared_euclidean(a, b).sqrt(),
            Distance::Minkowski(p) => diffs.map(|d| d.powf(p)).sum::<f64>().powf(1.0 / p),
        }
    }
}

impl std::str::FromStr for Distance {
    type Err = MiningError;

    /// Parses `euclidean`, `manhattan`, `chebyshev` or `minkowski:P` (e.g. `minkowski:3`),
    /// ignoring case; the order is checked.
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        let d = match s.as_str() {
            "euclidean" => Distance::Euclidean,
            "manhattan" => Distance::Manhattan,
            "chebyshev" => Distance::Chebyshev,
            other => match other.strip_prefix("minkowski:").map(str::parse::<f64>) {
                Some(Ok(p)) => Distance::Minkowski(p),
                _ => {
                    return Err(MiningError::param(
                        "distance",
                        "must be one of `euclidean`, `manhattan`, `chebyshev`, `minkowski:P`",
                    ));
                }
            },
        };
        d.validate()?;
        Ok(d)
    }
}

/// Squared Euclidean distance Σ (aᵢ − bᵢ)².
#[inline]
pub fn squared_euclidean(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_worked() {
        let a = [0.0, 0.0, 0.0];
        let b = [3.0, -4.0, 1.0];
        assert!((Distance::Euclidean.eval(&a, &b) - 26f64.sqrt()).abs() < 1e-12);
        assert_eq!(Distance::Manhattan.eval(&a, &b), 8.0);
        assert_eq!(Distance::Chebyshev.eval(&a, &b), 4.0);
        let m3 = Distance::Minkowski(3.0).eval(&a, &b);
        assert!((m3 - 92f64.powf(1.0 / 3.0)).abs() < 1e-12);
        assert_eq!(Distance::Minkowski(1.0).eval(&a, &b), 8.0);
        assert!(Distance::Minkowski(2.0).is_euclidean());
        assert_eq!(
            Distance::Minkowski(0.5).validate().unwrap_err().to_string(),
            "p must be finite and >= 1"
        );
        assert_eq!(
            "Manhattan".parse::<Distance>().unwrap(),
            Distance::Manhattan
        );
        assert_eq!(
            "minkowski:3".parse::<Distance>().unwrap(),
            Distance::Minkowski(3.0)
        );
        assert!("minkowski:0.5".parse::<Distance>().is_err());
        assert_eq!(
            "cosine".parse::<Distance>().unwrap_err().to_string(),
            "distance must be one of `euclidean`, `manhattan`, `chebyshev`, `minkowski:P`"
        );
    }
}
