//! Prism Element REST API v2.0: the client Standby uses for AHV clusters (real ones and the lab's).
//!
//! `client` holds the HTTP side (pinned TLS, session, retries, timeouts); the other modules hold
//! the calls, grouped by what they act on, plus inventory discovery and the DR setup wizard's
//! operations. See docs/prism-client.md.

pub mod client;
pub mod cluster;
pub mod containers;
pub mod error;
pub mod inventory;
pub mod protection;
pub mod remote_sites;
pub mod setup;
pub mod tasks;
pub mod types;
pub mod vms;
pub mod volume_groups;

pub use client::{PrismClient, PrismConfig, RetryPolicy};
pub use error::PrismError;
pub use inventory::MappingOverride;
pub use protection::{OobSnapshot, ProtectEntities, RestoreSpec, RestoreStarted, ScheduleSpec};
pub use remote_sites::{RemoteSiteSpec, RemoteSnapshots};
pub use tasks::{Cancellation, TaskProgress, WaitPolicy};
