//! Logs go to a daily rolling file in the data folder's `logs/` and to stderr.
//! `STANDBY_LOG` takes a tracing filter (default `info`).

use std::path::Path;

use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("cannot open the log folder {path}: {source}")]
    Open {
        path: String,
        source: tracing_appender::rolling::InitError,
    },
    #[error("logging was already set up in this process")]
    AlreadySet,
}

/// Keeps the background log writer alive; logs written before it drops are flushed.
pub struct LogGuard(#[allow(dead_code)] tracing_appender::non_blocking::WorkerGuard);

/// `file_prefix` names the program (`standby`, `standbyctl`), so both can share one folder.
/// `to_stderr`: the window app logs to stderr too; the command line keeps stderr for its own
/// messages and logs to the file only.
pub fn init(log_dir: &Path, file_prefix: &str, to_stderr: bool) -> Result<LogGuard, LoggingError> {
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(file_prefix)
        .filename_suffix("log")
        .max_log_files(14)
        .build(log_dir)
        .map_err(|source| LoggingError::Open {
            path: log_dir.display().to_string(),
            source,
        })?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_env("STANDBY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(filter)
        .with(to_stderr.then(|| fmt::layer().with_writer(std::io::stderr)))
        .with(fmt::layer().with_ansi(false).with_writer(writer))
        .try_init()
        .map_err(|_| LoggingError::AlreadySet)?;
    Ok(LogGuard(guard))
}
