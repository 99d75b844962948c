//! Standby's domain: everything the window, the command line and the scheduler share.
//!
//! No tauri dependency here: the desktop shell (`src-tauri`) and `standbyctl` are thin front doors
//! over these functions, and all of it is tested without a window.

pub mod accounts;
pub mod audit;
pub mod backup;
pub mod cancel;
pub mod catalog;
pub mod clock;
pub mod connect;
pub mod disaster_recovery;
pub mod error;
pub mod guest;
pub mod health;
pub mod inventory;
pub mod jobs;
pub mod lab_registration;
pub mod logging;
pub mod model;
pub mod notifications;
pub mod paths;
pub mod providers;
pub mod resumption;
pub mod secret;
pub mod secrets;

pub use error::{ApiError, ErrorCode};
