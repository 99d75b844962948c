//! Enabling disaster recovery for a Frame account: the backend of the Enable DR wizard, also
//! reached from `standbyctl dr enable-ahv|enable-azure`.
//!
//! AHV: join the two clusters with remote sites in both directions (vStore mappings), prove the
//! connection, then create or adopt the account's protection domain and protect its persistent
//! resources. Azure: check that the secondary region is another region of the same subscription
//! and warn, with numbers, where the account would pass a quota there. Either way the configuration
//! is recorded only when everything it depends on works, and the outcome (success, warnings, or
//! the failure and why) goes to the notification center.

use serde::{Deserialize, Serialize};

use crate::accounts::Accounts;
use crate::catalog::{Catalog, CatalogError, SharedCatalog};
use crate::clock::Clock;
use crate::connect::{self, ConnectError};
use crate::jobs::{Jobs, ProgressSink};
use crate::model::Check;
use crate::notifications::{NewNotification, NotificationLevel, NotificationSink, Notifier};
use crate::providers::azure::setup::DrNeeds;
use crate::providers::azure::ArmError;
use crate::providers::prism::setup::{
    self as prism_setup, ConnectionTestSpec, RemoteSitePlan, SetupError, VstoreMapping,
};
use crate::providers::prism::PrismError;
use crate::secrets::SecretStore;

/// Where an account's backups are replicated to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DrTarget {
    Ahv {
        secondary_account_id: String,
        secondary_account_name: String,
        /// The remote site on the primary that points at the secondary.
        site_on_primary: String,
        /// The remote site on the secondary that points back.
        site_on_secondary: String,
        mappings: Vec<VstoreMapping>,
        protection_domain: String,
    },
    Azure {
        secondary_region: String,
        secondary_resource_group: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct DrConfig {
    pub account_id: String,
    pub account_name: String,
    pub frame_account: String,
    pub target: DrTarget,
    /// RFC 3339.
    pub enabled_at: String,
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct EnableAhvDr {
    /// Id or name of the primary AHV cloud account.
    pub primary: String,
    pub secondary: String,
    pub frame_account: String,
    pub plan: RemoteSitePlan,
    /// Replication ports to reach on each cluster (tcp/2009 and tcp/2020 unless the clusters use
    /// others).
    pub primary_ports: Option<Vec<u16>>,
    pub secondary_ports: Option<Vec<u16>>,
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct EnableAzureDr {
    pub account: String,
    pub frame_account: String,
    pub secondary_region: String,
    pub secondary_resource_group: String,
    /// Replicas kept per resource in the secondary region (for the quota estimate).
    pub replicas_kept: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct DrEnabled {
    pub config: DrConfig,
    /// What was checked on the way (connection test, region, quota).
    pub checks: Vec<Check>,
    /// Not blocking, but an administrator must know (quota that would run short, skipped items).
    pub warnings: Vec<String>,
    pub protected_resources: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum DrError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Prism(#[from] PrismError),
    #[error(transparent)]
    Arm(#[from] ArmError),
    #[error("the primary and the secondary must be two different cloud accounts")]
    SameAccount,
    #[error("no persistent resource of Frame account {frame_account:?} was found on {account}: check the Frame account's name, or correct the inventory's mapping")]
    NothingToProtect {
        frame_account: String,
        account: String,
    },
    #[error("the clusters cannot replicate yet: {}", failed(.checks))]
    ConnectionFailed { checks: Vec<Check> },
    #[error("{region} cannot be the secondary region: {}", .problems.join("; "))]
    RegionUnusable {
        region: String,
        problems: Vec<String>,
    },
    #[error("the resource group {group:?} for replicas was not found: create it in {region} (or name another), then try again")]
    NoSecondaryGroup { group: String, region: String },
}

fn failed(checks: &[Check]) -> String {
    checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<DrError> for crate::ApiError {
    fn from(e: DrError) -> Self {
        use crate::ErrorCode;
        match e {
            DrError::Connect(e) => e.into(),
            DrError::Catalog(e) => e.into(),
            DrError::Prism(e) => e.into(),
            DrError::Arm(e) => e.into(),
            DrError::Setup(SetupError::Prism(e)) => e.into(),
            DrError::ConnectionFailed { .. } => {
                crate::ApiError::new(ErrorCode::Unavailable, e.to_string())
            }
            other => crate::ApiError::new(ErrorCode::InvalidInput, other.to_string()),
        }
    }
}

/// Where an operation's outcome goes: the catalog (the notification center), and whoever watches.
pub struct Report<'a> {
    pub catalog: &'a SharedCatalog,
    pub clock: std::sync::Arc<dyn Clock>,
    pub sink: &'a dyn NotificationSink,
}

impl Report<'_> {
    /// Journals and runs jobs against this report's catalog and clock, their progress to `sink`.
    pub fn jobs<'s>(&'s self, sink: &'s dyn ProgressSink) -> Jobs<'s> {
        Jobs {
            catalog: self.catalog,
            clock: self.clock.clone(),
            sink,
        }
    }

    /// Posts `note` to the notification center and to whoever watches. A note that cannot be
    /// recorded is logged, not returned: telling of an operation must not change its outcome.
    pub fn announce(&self, note: &NewNotification) {
        self.announce_in(&self.catalog.lock(), note);
    }

    /// [`Report::announce`] for a caller that already holds the catalog's lock.
    pub fn announce_in(&self, catalog: &Catalog, note: &NewNotification) {
        let notifier = Notifier {
            catalog,
            clock: self.clock.as_ref(),
            sink: self.sink,
        };
        if let Err(e) = notifier.post(note) {
            tracing::error!("a notification could not be recorded: {e}");
        }
    }
}

fn notify(
    report: &Report<'_>,
    level: NotificationLevel,
    account_id: Option<&str>,
    title: String,
    body: String,
) {
    let mut note = NewNotification::new(level, title, body);
    if let Some(id) = account_id {
        note = note.account(id);
    }
    report.announce(&note);
}

/// Tells the notification center that DR is on: a success, or a warning when something an
/// administrator must know came up (skipped resources, quota that would run short).
fn announce_enabled(report: &Report<'_>, config: &DrConfig, summary: String, warnings: &[String]) {
    let (level, body) = if warnings.is_empty() {
        (NotificationLevel::Success, summary)
    } else {
        (
            NotificationLevel::Warning,
            format!("{summary} Warnings: {}", warnings.join("; ")),
        )
    };
    notify(
        report,
        level,
        Some(&config.account_id),
        format!("Disaster recovery enabled for {}", config.frame_account),
        body,
    );
}

/// Records a failure in the notification center, then hands it back.
fn reported<T>(
    report: &Report<'_>,
    account_id: Option<&str>,
    what: &str,
    result: Result<T, DrError>,
) -> Result<T, DrError> {
    if let Err(e) = &result {
        notify(
            report,
            NotificationLevel::Error,
            account_id,
            format!("Disaster recovery not enabled for {what}"),
            e.to_string(),
        );
    }
    result
}

pub async fn enable_ahv(
    report: &Report<'_>,
    store: &dyn SecretStore,
    req: EnableAhvDr,
) -> Result<DrEnabled, DrError> {
    let (catalog, clock) = (report.catalog, report.clock.as_ref());
    let (primary, secondary) = {
        let c = catalog.lock();
        let accounts = Accounts { catalog: &c, store };
        (
            connect::ahv(&accounts, &req.primary),
            connect::ahv(&accounts, &req.secondary),
        )
    };
    let what = req.frame_account.clone();
    let primary = reported(report, None, &what, primary.map_err(DrError::from))?;
    let account_id = primary.account.id.clone();
    let result = async {
        let secondary = secondary?;
        if primary.account.id == secondary.account.id {
            return Err(DrError::SameAccount);
        }
        let overrides = catalog.lock().mapping_overrides(&primary.account.id)?;
        let resources = primary
            .client
            .discover_account(&req.frame_account, &overrides)
            .await?;
        if !resources.iter().any(|r| r.kind.is_protected()) {
            return Err(DrError::NothingToProtect {
                frame_account: req.frame_account.clone(),
                account: primary.account.name.clone(),
            });
        }
        prism_setup::setup_remote_sites(&primary.client, &secondary.client, &req.plan).await?;
        let mut spec =
            ConnectionTestSpec::new(&req.plan.secondary.site_name, &req.plan.primary.site_name);
        if let Some(p) = &req.primary_ports {
            spec.primary_ports = p.clone();
        }
        if let Some(p) = &req.secondary_ports {
            spec.secondary_ports = p.clone();
        }
        spec.account_containers = prism_setup::account_containers(&resources);
        let test = prism_setup::test_connection(&primary.client, &secondary.client, &spec).await?;
        if !test.ok {
            return Err(DrError::ConnectionFailed {
                checks: test.checks,
            });
        }
        let protection =
            prism_setup::ensure_protection(&primary.client, &req.frame_account, &resources).await?;
        let config = DrConfig {
            account_id: primary.account.id.clone(),
            account_name: primary.account.name.clone(),
            frame_account: req.frame_account.clone(),
            target: DrTarget::Ahv {
                secondary_account_id: secondary.account.id.clone(),
                secondary_account_name: secondary.account.name.clone(),
                site_on_primary: req.plan.secondary.site_name.clone(),
                site_on_secondary: req.plan.primary.site_name.clone(),
                mappings: req.plan.mappings.clone(),
                protection_domain: protection.protection_domain.clone(),
            },
            enabled_at: clock.now().to_rfc3339(),
        };
        catalog.lock().save_dr_config(&config)?;
        let warnings: Vec<String> = protection
            .skipped
            .iter()
            .map(|s| format!("{} not protected: {}", s.name, s.reason))
            .collect();
        let protected = protection.protected_vms + protection.protected_volume_groups;
        announce_enabled(
            report,
            &config,
            format!(
                "{} VMs and {} volume groups protected in {} on {}, replicated to {}.",
                protection.protected_vms,
                protection.protected_volume_groups,
                protection.protection_domain,
                primary.account.name,
                secondary.account.name,
            ),
            &warnings,
        );
        Ok(DrEnabled {
            config,
            checks: test.checks,
            warnings,
            protected_resources: protected,
        })
    }
    .await;
    reported(report, Some(&account_id), &what, result)
}

pub async fn enable_azure(
    report: &Report<'_>,
    store: &dyn SecretStore,
    req: EnableAzureDr,
) -> Result<DrEnabled, DrError> {
    let (catalog, clock) = (report.catalog, report.clock.clone());
    let what = req.frame_account.clone();
    let connected = {
        let c = catalog.lock();
        let accounts = Accounts { catalog: &c, store };
        connect::azure(&accounts, &req.account, clock.clone())
    };
    let account = reported(report, None, &what, connected.map_err(DrError::from))?;
    let account_id = account.account.id.clone();
    let result = async {
        let s = &account.settings;
        let overrides = catalog.lock().mapping_overrides(&account.account.id)?;
        let resources = account
            .client
            .discover(&req.frame_account, &s.resource_groups, &overrides)
            .await?;
        if !resources.iter().any(|r| r.kind.is_protected()) {
            return Err(DrError::NothingToProtect {
                frame_account: req.frame_account.clone(),
                account: account.account.name.clone(),
            });
        }
        let mut disks = Vec::new();
        for rg in &s.resource_groups {
            disks.extend(account.client.list_disks(rg).await?);
        }
        match account
            .client
            .list_disks(&req.secondary_resource_group)
            .await
        {
            Ok(_) => {}
            Err(ArmError::Api { status: 404, .. }) => {
                return Err(DrError::NoSecondaryGroup {
                    group: req.secondary_resource_group.clone(),
                    region: req.secondary_region.clone(),
                })
            }
            Err(e) => return Err(e.into()),
        }
        let needs = DrNeeds::for_account(&resources, &disks, req.replicas_kept.max(1));
        let region = account
            .client
            .check_dr_region(&s.primary_region, &req.secondary_region, &needs)
            .await?;
        if !region.usable() {
            return Err(DrError::RegionUnusable {
                region: region.secondary.clone(),
                problems: region.problems.clone(),
            });
        }
        let warnings = region.quota.warnings();
        let checks: Vec<Check> = std::iter::once(Check {
            name: "Secondary region".into(),
            ok: true,
            detail: format!(
                "{} is another region of subscription {}",
                region.secondary, s.subscription_id
            ),
        })
        .chain(region.quota.lines.iter().map(|l| Check {
            name: format!("Quota: {}", l.name),
            ok: l.ok,
            detail: l.message.clone().unwrap_or_else(|| {
                format!(
                    "{} of {} in use; this account needs {} more",
                    l.current, l.limit, l.needed
                )
            }),
        }))
        .collect();
        let config = DrConfig {
            account_id: account.account.id.clone(),
            account_name: account.account.name.clone(),
            frame_account: req.frame_account.clone(),
            target: DrTarget::Azure {
                secondary_region: region.secondary.clone(),
                secondary_resource_group: req.secondary_resource_group.clone(),
            },
            enabled_at: clock.now().to_rfc3339(),
        };
        catalog.lock().save_dr_config(&config)?;
        let protected = resources.iter().filter(|r| r.kind.is_protected()).count() as u32;
        announce_enabled(
            report,
            &config,
            format!(
                "{protected} disks of the account in {} will be backed up and replicated to {} ({}).",
                s.primary_region, region.secondary, req.secondary_resource_group,
            ),
            &warnings,
        );
        Ok(DrEnabled {
            config,
            checks,
            warnings,
            protected_resources: protected,
        })
    }
    .await;
    reported(report, Some(&account_id), &what, result)
}
