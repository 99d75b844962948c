//! One scheduler per data folder: two schedulers on one catalog (the app in the tray and a
//! `standbyctl serve`, or two `serve`s) would both start the same due runs. The scheduler holds an
//! exclusive lock on `<data>/scheduler.lock` for its whole life, an OS file lock (`flock` on
//! Unix, `LockFileEx` on Windows) that the OS releases when the process ends, however it ends, so
//! a crash never leaves a stale lock behind. The holder writes who it is into the file, so the
//! second one can say who holds it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;

pub const FILE_NAME: &str = "scheduler.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot use the scheduler lock {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("another scheduler already runs on this data folder ({holder}); stop it first, or leave the schedules to it (lock: {path})")]
    Held { path: String, holder: String },
}

impl From<LockError> for crate::ApiError {
    fn from(e: LockError) -> Self {
        let code = match e {
            LockError::Held { .. } => crate::ErrorCode::Conflict,
            LockError::Io { .. } => crate::ErrorCode::Storage,
        };
        crate::ApiError::new(code, e.to_string())
    }
}

/// The lock, held until dropped.
#[derive(Debug)]
pub struct SchedulerLock {
    file: File,
    path: PathBuf,
}

impl SchedulerLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SchedulerLock {
    fn drop(&mut self) {
        // Forget who held it, so nobody is told a stopped process holds it; closing the file
        // releases the lock itself.
        let _ = self.file.set_len(0);
        let _ = FileExt::unlock(&self.file);
    }
}

/// Who holds the lock, as the holder wrote it ("pid 4242, standbyctl serve, since ...").
pub fn holder(data_dir: &Path) -> Option<String> {
    let mut s = String::new();
    File::open(data_dir.join(FILE_NAME))
        .ok()?
        .read_to_string(&mut s)
        .ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Takes the lock now, or says who holds it. `who` names this holder ("standbyctl serve",
/// "the Standby app"); `since` is written with it.
pub fn try_acquire(data_dir: &Path, who: &str, since: &str) -> Result<SchedulerLock, LockError> {
    let path = data_dir.join(FILE_NAME);
    let io = |source| LockError::Io {
        path: path.display().to_string(),
        source,
    };
    // Not truncated on open: the file holds the current holder's name until it is ours.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    if !FileExt::try_lock_exclusive(&file).map_err(io)? {
        return Err(LockError::Held {
            path: path.display().to_string(),
            holder: holder(data_dir).unwrap_or_else(|| "its process id is not known yet".into()),
        });
    }
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    write!(file, "pid {}, {who}, since {since}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(SchedulerLock { file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = try_acquire(dir.path(), "test one", "2026-01-01T00:00:00Z").unwrap();
        // A second handle (flock locks belong to the open file, so this is refused even in the
        // same process, as another process would be).
        let err = try_acquire(dir.path(), "test two", "2026-01-01T00:00:01Z").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("test one"), "{msg}");
        assert!(matches!(err, LockError::Held { .. }));
        drop(first);
        assert_eq!(holder(dir.path()), None);
        let second = try_acquire(dir.path(), "test two", "2026-01-01T00:00:02Z").unwrap();
        assert!(holder(dir.path()).unwrap().contains("test two"));
        drop(second);
    }
}
