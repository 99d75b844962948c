//! Standby's hands: HTTP clients for Prism Element v2.0 and Azure Resource Manager.
//!
//! Both talk to real systems and, in tests and the default run, to the lab: only base URLs and
//! trusted certificates differ.

pub mod azure;
pub mod prism;
pub mod tls;
