//! Integration tests of portrait-model: the customer-value models on the CDNOW data set against
//! the published estimates and the Python package `lifetimes`.


mod cdnow;
