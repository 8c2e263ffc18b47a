//! End-to-end tests of the `portrait` binary: what users and scripts run.

mod bench;
mod cdnow;
mod churn;
#[cfg(feature = "cluster")]
mod cluster;
mod common;
mod corpus;
mod crash;
mod excel;
mod features;
mod febrl;
mod identity;
mod lookalike;
mod memory;
mod mining;
mod readonly;
mod roundtrip;
mod score;
mod shapes;
mod tags;
