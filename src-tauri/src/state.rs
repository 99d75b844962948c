use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use standby_core::cancel::CancelFlag;

use standby_core::catalog::{Catalog, CatalogError, SharedCatalog};
use standby_core::paths::DataPaths;

/// What the commands share. The catalog connection is not `Sync`, hence the mutex; calls are short.
pub struct AppState {
    pub paths: DataPaths,
    pub catalog: SharedCatalog,
    /// Running when started with `--lab`; dropped (stopped) with the app.
    pub lab: Option<standby_lab::LabHandle>,
    /// Why `--lab` did not come up, for the window to show.
    pub lab_error: Option<standby_core::ApiError>,
    /// The operations the window started and has not seen end, by their ticket.
    pub operations: Mutex<HashMap<String, CancelFlag>>,
    /// One set of provider limits for the window's operations and the scheduler: copies per
    /// region, Prism tasks, a protection domain's snapshot turn.
    pub limits: std::sync::Arc<standby_core::limits::Limits>,
    quitting: AtomicBool,
}

impl AppState {
    pub fn open(paths: DataPaths) -> Result<Self, CatalogError> {
        let catalog = Catalog::open(&paths.catalog)?;
        Ok(Self {
            paths,
            catalog: catalog.shared(),
            lab: None,
            lab_error: None,
            operations: Mutex::new(HashMap::new()),
            limits: Default::default(),
            quitting: AtomicBool::new(false),
        })
    }

    /// Starts the lab and registers it. A failure is kept for the window to show; the console
    /// opens all the same.
    pub fn start_lab(&mut self) {
        if let Err(e) = self.try_start_lab() {
            tracing::error!("{}", e.message);
            self.lab_error = Some(e);
        }
    }

    fn try_start_lab(&mut self) -> Result<(), standby_core::ApiError> {
        use standby_core::{ApiError, ErrorCode};
        let config = crate::lab::config(&self.paths.data_dir);
        let lab = tauri::async_runtime::block_on(standby_lab::Lab::start(config)).map_err(|e| {
            ApiError::new(
                ErrorCode::Unavailable,
                format!("the lab did not start: {e}"),
            )
        })?;
        let (clusters, subscription) = crate::lab::registration(&lab);
        {
            let catalog = self.catalog.lock();
            let accounts = standby_core::accounts::Accounts {
                catalog: &catalog,
                store: &standby_core::secrets::Keyring,
            };
            let registered = standby_core::lab_registration::register(
                &accounts,
                clusters,
                subscription,
                chrono::Utc::now(),
            )?;
            tracing::info!(accounts = registered.len(), control = %lab.control_url, "lab started and registered");
            let names: Vec<&str> = registered.iter().map(|a| a.name.as_str()).collect();
            let note = standby_core::notifications::NewNotification::new(
                standby_core::notifications::NotificationLevel::Info,
                "The lab is running",
                format!(
                    "Simulated AHV clusters and Azure regions on this machine, registered as cloud accounts {}. Control API: {}",
                    names.join(", "),
                    lab.control_url
                ),
            );
            let notifier = standby_core::notifications::Notifier {
                catalog: &catalog,
                clock: &standby_core::clock::SystemClock,
                sink: &standby_core::notifications::NoSink,
            };
            if let Err(e) = notifier.post(&note) {
                tracing::warn!(
                    "the lab's start could not be recorded in the notification center: {e}"
                );
            }
        }
        self.lab = Some(lab);
        Ok(())
    }

    pub fn set_quitting(&self) {
        self.quitting.store(true, Ordering::SeqCst);
    }

    pub fn quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }
}
