//! Identity resolution: which customer numbers belong to one person or company.
//!
//! Records are normalised ([`names`], [`normal`], [`record`]), paired by blocking rules
//! ([`block`]), compared field by field into comparison levels ([`compare`]), weighed in the
//! Fellegi–Sunter model with m and u estimated by EM ([`em`]), and clustered into parties
//! that never hold two different valid ID numbers ([`cluster`]). [`eval`] scores a result
//! against a ground truth.

// Index loops over parallel arrays of levels and positions read best as index loops.
#![allow(clippy::needless_range_loop)]

pub mod block;
pub mod cluster;
pub mod compare;
pub mod config;
pub mod em;
pub mod eval;
pub mod golden;
pub mod names;
pub mod normal;
pub mod record;
mod resolve;

pub use config::{ConfigError, ResolveConfig, USource};
pub use record::{IdKind, Input, Record};
pub use resolve::{Member, Override, Resolution, Stats, explain_blocking, party_id, resolve};
