//! A borrowed dense matrix: the input of the classifiers.

use crate::{ModelError, Result};

/// A dense row-major matrix of `f64` borrowed from the caller: row i is
/// `data[i * n_cols..(i + 1) * n_cols]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Matrix<'a> {
    data: &'a [f64],
    n_rows: usize,
    n_cols: usize,
}

impl<'a> Matrix<'a> {
    /// Views `data` as `n_rows` × `n_cols`.
    ///
    /// # Errors
    /// [`ModelError::ShapeMismatch`] when `data.len() != n_rows * n_cols`.
    pub fn new(data: &'a [f64], n_rows: usize, n_cols: usize) -> Result<Self> {
        let expected = n_rows
            .checked_mul(n_cols)
            .ok_or_else(|| ModelError::param("n_rows * n_cols", "overflows usize"))?;
        if data.len() != expected {
            return Err(ModelError::ShapeMismatch {
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

    /// Number of rows (observations).
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns (features).
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Row `i`. Panics when `i >= n_rows`.
    pub fn row(&self, i: usize) -> &'a [f64] {
        &self.data[i * self.n_cols..(i + 1) * self.n_cols]
    }

    /// The element at row `i`, column `j`. Panics when out of range.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(j < self.n_cols, "column {j} out of range");
        self.data[i * self.n_cols + j]
    }

    /// The underlying row-major slice.
    pub fn data(&self) -> &'a [f64] {
        self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_shape_checks() {
        let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let m = Matrix::new(&data, 2, 3).unwrap();
        assert_eq!(m.row(1), &[4.0, 5.0, 6.0]);
        assert_eq!(m.get(0, 2), 3.0);
        assert!(matches!(
            Matrix::new(&data, 4, 2),
            Err(ModelError::ShapeMismatch {
                expected: 8,
                found: 6,
                ..
            })
        ));
    }
}
