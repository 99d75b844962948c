//! The lab: stateful simulators of the APIs Standby speaks, served on loopback.
//!
//! It is part of the product (the embedded default for a new user, a demo, a rehearsal space), not a
//! test double: the product reaches it through the very same HTTP clients it uses for real clusters
//! and subscriptions; only the base URLs and trusted certificates differ.

pub mod clock;
pub mod seed;
