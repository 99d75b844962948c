//! Where Standby keeps its data: one folder, overridable so that tests never touch a user's data.

use std::path::{Path, PathBuf};

/// The app identifier; Tauri derives its own data folder from the same string (tauri.conf.json).
pub const APP_IDENTIFIER: &str = "io.standby.console";

#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error(
        "no home folder found to keep Standby's data in: pass --data-dir or set STANDBY_DATA_DIR"
    )]
    NoHome,
    #[error("cannot create the data folder {path}: {source}. Choose another with --data-dir or STANDBY_DATA_DIR")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<PathsError> for crate::ApiError {
    fn from(e: PathsError) -> Self {
        crate::ApiError::new(crate::ErrorCode::Storage, e.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPaths {
    pub data_dir: PathBuf,
    pub log_dir: PathBuf,
    pub catalog: PathBuf,
}

impl DataPaths {
    /// `explicit` (from `--data-dir` or `STANDBY_DATA_DIR`) wins; otherwise the platform's data
    /// folder for the app (`$XDG_DATA_HOME/io.standby.console` on Linux). Creates the folders.
    pub fn resolve(explicit: Option<&Path>) -> Result<Self, PathsError> {
        let data_dir = match explicit {
            Some(p) => p.to_path_buf(),
            None => directories::BaseDirs::new()
                .ok_or(PathsError::NoHome)?
                .data_dir()
                .join(APP_IDENTIFIER),
        };
        let paths = Self::under(&data_dir);
        for dir in [&paths.data_dir, &paths.log_dir] {
            std::fs::create_dir_all(dir).map_err(|source| PathsError::Create {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(paths)
    }

    fn under(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            log_dir: data_dir.join("logs"),
            catalog: data_dir.join("standby.sqlite3"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_folder_is_used_and_created() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nested/data");
        let p = DataPaths::resolve(Some(&dir)).unwrap();
        assert_eq!(p.data_dir, dir);
        assert!(p.log_dir.is_dir());
        assert_eq!(p.catalog, dir.join("standby.sqlite3"));
    }

    #[test]
    fn unwritable_folder_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a-file");
        std::fs::write(&file, "x").unwrap();
        let err = DataPaths::resolve(Some(&file.join("data"))).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("cannot create the data folder"), "{msg}");
        assert!(msg.contains("STANDBY_DATA_DIR"), "{msg}");
    }
}
