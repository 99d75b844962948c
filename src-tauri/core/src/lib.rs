//! Standby's domain: everything the window, the command line and the scheduler share.
//!
//! No tauri dependency here: the desktop shell (`src-tauri`) and `standbyctl` are thin front doors
//! over these functions, and all of it is tested without a window.

pub mod accounts;
pub mod audit;
pub mod autogrow;
pub mod backup;
pub mod cancel;
pub mod catalog;
pub mod clock;
pub mod clone;
pub mod connect;
pub mod disaster_recovery;
pub mod dr_export;
pub mod error;
pub mod guest;
pub mod health;
pub mod id_prefixes;
pub mod inventory;
pub mod jobs;
pub mod lab_registration;
pub mod limits;
pub mod logging;
pub mod model;
pub mod notifications;
pub mod overview;
pub mod paths;
pub mod post_session;
pub mod providers;
pub mod restore;
pub mod resumption;
pub mod retention;
pub mod schedule;
pub mod scheduler;
pub mod scheduler_lock;
pub mod secret;
pub mod secrets;
pub mod timeline;

pub use error::{ApiError, ErrorCode};
