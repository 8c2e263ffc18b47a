//! Integration tests of portrait-model.
