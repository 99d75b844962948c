//! What a lab run is made of: seed size, where state lives, addresses, credentials and the Azure
//! platform's numbers. Defaults are the documented default run (`docs/lab.md`); tests override a few.

use std::path::PathBuf;

use crate::clock::LabClock;
use crate::seed::SeedSize;

/// The Frame account seeded on the primary cluster and the primary Azure region.
pub const PRIMARY_ACCOUNT: &str = "acme-pd";

#[derive(Debug, Clone)]
pub struct LabConfig {
    pub seed: SeedSize,
    /// Where state, certificates and the clock offset persist; `None` touches no disk at all.
    pub state_dir: Option<PathBuf>,
    /// A shared clock (tests pass a frozen one); `None` follows real time.
    pub clock: Option<LabClock>,
    /// The documented addresses of the default run (127.0.77.x, 9440, 2009/2020) instead of random
    /// loopback addresses and OS-chosen ports (tests run in parallel with random ones).
    pub fixed_addresses: bool,
    pub prism: PrismConfig,
    pub azure: AzureConfig,
}

impl Default for LabConfig {
    fn default() -> Self {
        Self {
            seed: SeedSize::Small,
            state_dir: None,
            clock: None,
            fixed_addresses: false,
            prism: PrismConfig::default(),
            azure: AzureConfig::default(),
        }
    }
}

impl LabConfig {
    /// The configuration tests use: random addresses, no disk, a clock frozen at a fixed instant.
    pub fn for_tests() -> Self {
        Self {
            clock: Some(LabClock::frozen_at(
                chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
                    .expect("valid literal")
                    .with_timezone(&chrono::Utc),
            )),
            azure: AzureConfig {
                page_size: 7,
                ..AzureConfig::default()
            },
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone)]
pub struct PrismConfig {
    pub primary_name: String,
    pub secondary_name: String,
    pub username: String,
    pub password: String,
    /// Each cluster has its own password, as real clusters do (and so that a mix-up between the
    /// two shows).
    pub secondary_password: String,
}

impl Default for PrismConfig {
    fn default() -> Self {
        Self {
            primary_name: "ahv-primary".into(),
            secondary_name: "ahv-secondary".into(),
            username: "admin".into(),
            password: "Nutanix/4u".into(),
            secondary_password: "Nutanix/4u-dr".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AzureConfig {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub subscription_id: String,
    /// Holds the seeded account (primary region).
    pub resource_group: String,
    /// A second resource group for replicas and restores in the secondary region (ARM accepts any
    /// region in any group; the product may use either).
    pub secondary_resource_group: String,
    pub primary_region: String,
    pub secondary_region: String,
    pub account_name: String,
    /// Items per page of ARM list answers before a `nextLink` (ARM pages at up to 1,000; tests use a
    /// small page so that paging is exercised).
    pub page_size: usize,
    pub token_lifetime_secs: i64,
    /// Simulated cross-region copy speed; copy progress is size / speed on the lab clock.
    pub copy_speed_mib_per_sec: f64,
    /// What long-running operations answer in `Retry-After` (real seconds for the client).
    pub retry_after_secs: u64,
    pub disk_api_versions: Vec<String>,
    pub compute_api_versions: Vec<String>,
    pub limits: AzureLimits,
    /// Simulated durations of VM power operations and disk creation (lab clock seconds).
    pub durations: OperationDurations,
}

impl Default for AzureConfig {
    fn default() -> Self {
        Self {
            tenant_id: "5b1e3b1a-7f3c-4c55-9d7e-1ab000000001".into(),
            client_id: "0c1d5e7a-52a3-4b8e-8f0e-1ab000000002".into(),
            client_secret: "lab~Standby-client-secret-0001".into(),
            subscription_id: "8f1c6d3e-2a4b-4c5d-9e6f-1ab000000003".into(),
            resource_group: format!("frame-{PRIMARY_ACCOUNT}"),
            secondary_resource_group: format!("frame-{PRIMARY_ACCOUNT}-dr"),
            primary_region: "westeurope".into(),
            secondary_region: "northeurope".into(),
            account_name: PRIMARY_ACCOUNT.into(),
            page_size: 100,
            token_lifetime_secs: 3599,
            copy_speed_mib_per_sec: 100.0,
            retry_after_secs: 2,
            disk_api_versions: vec!["2025-01-02".into()],
            compute_api_versions: vec!["2025-04-01".into()],
            limits: AzureLimits::default(),
            durations: OperationDurations::default(),
        }
    }
}

/// The platform limits the lab enforces (see `docs/lab.md` for the error each one answers).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AzureLimits {
    pub copies_in_flight_per_region: usize,
    pub snapshots_per_disk_window: usize,
    pub snapshot_window_secs: i64,
    pub snapshots_per_disk: usize,
    /// Quota limits reported by `usages` (per region).
    pub cores: u64,
    pub virtual_machines: u64,
    pub disks_per_sku: u64,
    pub snapshots: u64,
}

impl Default for AzureLimits {
    fn default() -> Self {
        Self {
            copies_in_flight_per_region: 100,
            snapshots_per_disk_window: 7,
            snapshot_window_secs: 300,
            snapshots_per_disk: 500,
            cores: 2_000,
            virtual_machines: 25_000,
            disks_per_sku: 50_000,
            snapshots: 75_000,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OperationDurations {
    pub deallocate_secs: i64,
    pub start_secs: i64,
    pub power_off_secs: i64,
    pub disk_create_secs: i64,
}

impl Default for OperationDurations {
    fn default() -> Self {
        Self {
            deallocate_secs: 30,
            start_secs: 20,
            power_off_secs: 15,
            disk_create_secs: 5,
        }
    }
}
