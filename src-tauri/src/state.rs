use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use standby_core::catalog::{Catalog, CatalogError};
use standby_core::paths::DataPaths;

/// What the commands share. The catalog connection is not `Sync`, hence the mutex; calls are short.
pub struct AppState {
    pub paths: DataPaths,
    pub catalog: Mutex<Catalog>,
    quitting: AtomicBool,
}

impl AppState {
    pub fn open(paths: DataPaths) -> Result<Self, CatalogError> {
        let catalog = Catalog::open(&paths.catalog)?;
        Ok(Self {
            paths,
            catalog: Mutex::new(catalog),
            quitting: AtomicBool::new(false),
        })
    }

    pub fn set_quitting(&self) {
        self.quitting.store(true, Ordering::SeqCst);
    }

    pub fn quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }
}
