//! The dense matrix every algorithm of the crate reads.

use serde::{Deserialize, Serialize};

use crate::{MiningError, Result};

/// 数据矩阵 — a dense row-major matrix of `f64`, n rows (customers) × d columns (inputs): row i
/// is `data[i * d..(i + 1) * d]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    data: Vec<f64>,
    n_rows: usize,
    n_cols: usize,
}

impl Matrix {
    /// Takes `data` as `n_rows` × `n_cols`, row-major.
    ///
    /// # Errors
    /// [`MiningError::ShapeMismatch`] when `data.len() != n_rows * n_cols`.
    pub fn new(data: Vec<f64>, n_rows: usize, n_cols: usize) -> Result<Self> {
        let expected = n_rows
            .checked_mul(n_cols)
            .ok_or_else(|| MiningError::param("n_rows * n_cols", "overflows usize"))?;
        if data.len() != expected {
            return Err(MiningError::ShapeMismatch {
                what: "matrix data length (n_rows * n_cols)",
                expected,
                found: data.len(),
            });
        }
        Ok(Matrix {
            data,
            n_rows,
            n_cols,
        })
    }

    /// An `n_rows` × `n_cols` matrix of zeros.
    pub fn zeros(n_rows: usize, n_cols: usize) -> Self {
        Matrix {
            data: vec![0.0; n_rows * n_cols],
            n_rows,
            n_cols,
        }
    }

    /// Builds a matrix from rows of equal length.
    ///
    /// # Errors
    /// [`MiningError::ShapeMismatch`] when a row's length differs from the first row's.
    pub fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Self> {
        let n_cols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * n_cols);
        for row in rows {
            let row = row.as_ref();
            if row.len() != n_cols {
                return Err(MiningError::ShapeMismatch {
                    what: "row length",
                    expected: n_cols,
                    found: row.len(),
                });
            }
            data.extend_from_slice(row);
        }
        Ok(Matrix {
            data,
            n_rows: rows.len(),
            n_cols,
        })
    }

    /// Builds a matrix from columns of equal length.
    ///
    /// # Errors
    /// [`MiningError::ShapeMismatch`] when a column's length differs from the first column's.
    pub fn from_columns<C: AsRef<[f64]>>(columns: &[C]) -> Result<Self> {
        let n_rows = columns.first().map_or(0, |c| c.as_ref().len());
        let n_cols = columns.len();
        let mut data = vec![0.0; n_rows * n_cols];
        for (j, column) in columns.iter().enumerate() {
            let column = column.as_ref();
            if column.len() != n_rows {
                return Err(MiningError::ShapeMismatch {
                    what: "column length",
                    expected: n_rows,
                    found: column.len(),
                });
            }
            for (i, v) in column.iter().enumerate() {
                data[i * n_cols + j] = *v;
            }
        }
        Ok(Matrix {
            data,
            n_rows,
            n_cols,
        })
    }

    /// Number of rows (points, customers).
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns (inputs).
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Row `i`. Panics when `i >= n_rows`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.n_cols..(i + 1) * self.n_cols]
    }

    /// Row `i`, mutable. Panics when `i >= n_rows`.
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.n_cols..(i + 1) * self.n_cols]
    }

    /// The rows in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f64]> + '_ {
        // `max(1)` keeps `chunks_exact` defined for a matrix without columns.
        self.data
            .chunks_exact(self.n_cols.max(1))
            .take(if self.n_cols == 0 { 0 } else { self.n_rows })
    }

    /// The element at row `i`, column `j`. Panics when out of range.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(j < self.n_cols, "column {j} out of range");
        self.data[i * self.n_cols + j]
    }

    /// Sets the element at row `i`, column `j`. Panics when out of range.
    pub fn set(&mut self, i: usize, j: usize, value: f64) {
        assert!(j < self.n_cols, "column {j} out of range");
        self.data[i * self.n_cols + j] = value;
    }

    /// Column `j`, copied. Panics when `j >= n_cols`.
    pub fn column(&self, j: usize) -> Vec<f64> {
        assert!(j < self.n_cols, "column {j} out of range");
        (0..self.n_rows)
            .map(|i| self.data[i * self.n_cols + j])
            .collect()
    }

    /// The underlying row-major slice.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// The underlying row-major slice, mutable.
    pub fn data_mut(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// The underlying row-major vector.
    pub fn into_data(self) -> Vec<f64> {
        self.data
    }

    /// The rows at `indices`, in that order. Panics when an index is out of range.
    pub fn select_rows(&self, indices: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(indices.len() * self.n_cols);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            data,
            n_rows: indices.len(),
            n_cols: self.n_cols,
        }
    }

    /// The columns at `indices`, in that order. Panics when an index is out of range.
    pub fn select_columns(&self, indices: &[usize]) -> Matrix {
        assert!(
            indices.iter().all(|&j| j < self.n_cols),
            "column out of range"
        );
        let mut data = Vec::with_capacity(self.n_rows * indices.len());
        for row in self.rows() {
            data.extend(indices.iter().map(|&j| row[j]));
        }
        Matrix {
            data,
            n_rows: self.n_rows,
            n_cols: indices.len(),
        }
    }

    /// The first row that holds a NaN or an infinity, with its column.
    pub(crate) fn first_non_finite(&self) -> Option<(usize, usize)> {
        let at = self.data.iter().position(|v| !v.is_finite())?;
        Some((at / self.n_cols.max(1), at % self.n_cols.max(1)))
    }

    /// Fails on an empty matrix or a value that is NaN or infinite.
    pub(crate) fn check_finite(&self) -> Result<()> {
        if self.n_cols == 0 {
            return Err(MiningError::param("columns", "cannot be empty"));
        }
        if let Some((row, col)) = self.first_non_finite() {
            return Err(MiningError::input(
                row,
                format!("column {col}"),
                "is missing or infinite; fill or cap it first",
            ));
        }
        Ok(())
    }
}

/// Rows drawn without replacement, `size` of `n` (all of them, in order, when `size >= n`),
/// the same for the same seed: the sample that hierarchical clustering and the sampled
/// silhouette run on.
pub fn sample_indices(n: usize, size: usize, seed: u64) -> Vec<usize> {
    use rand::SeedableRng;
    if size >= n {
        return (0..n).collect();
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut picked = rand::seq::index::sample(&mut rng, n, size).into_vec();
    picked.sort_unstable();
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_columns_and_selection() {
        let m = Matrix::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]).unwrap();
        assert_eq!(m.n_rows(), 3);
        assert_eq!(m.column(1), vec![2.0, 4.0, 6.0]);
        assert_eq!(m.select_rows(&[2, 0]).data(), &[5.0, 6.0, 1.0, 2.0]);
        assert_eq!(m.select_columns(&[1]).data(), &[2.0, 4.0, 6.0]);
        let c = Matrix::from_columns(&[vec![1.0, 3.0, 5.0], vec![2.0, 4.0, 6.0]]).unwrap();
        assert_eq!(c, m);
        assert!(Matrix::new(vec![1.0], 2, 1).is_err());
    }

    #[test]
    fn samples_are_seeded_and_sorted() {
        let a = sample_indices(1000, 10, 7);
        assert_eq!(a, sample_indices(1000, 10, 7));
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample_indices(5, 10, 1), vec![0, 1, 2, 3, 4]);
    }
}
