//! The restore pre-flight's decisions: facts in (gathered by the provider modules), a plan out.
//! Nothing here does I/O, so every rule is unit-tested on its own.

use serde::{Deserialize, Serialize};

use crate::backup::{Backup, BackupSite, BackupState};
use crate::guest::Session;
use crate::inventory::{DesktopState, DiscoveredResource, PowerState, ResourceKind};
use crate::model::ProviderKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    /// Not in the way, but an administrator must know (a desktop that will be powered off).
    Warning,
    /// The restore will not run until this is resolved.
    Blocked,
}

/// One line of the pre-flight: what was checked, how it came out, and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RestoreCheck {
    pub name: String,
    pub status: CheckStatus,
    pub message: String,
}

/// Whether the backup is still held by the provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Presence {
    Present,
    Missing { why: String },
    Unknown { why: String },
}

/// The quota counter the new disk counts against (Azure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum QuotaFact {
    Read {
        label: String,
        region: String,
        current: i64,
        limit: i64,
    },
    Unknown {
        why: String,
    },
}

/// What the provider modules found out about a backup and the volume it would restore.
#[derive(Debug, Clone)]
pub struct Facts {
    pub backup: Backup,
    pub provider: ProviderKind,
    pub account_name: String,
    /// The volume as discovered now; `None` with the reason when it cannot be found.
    pub target: Result<DiscoveredResource, crate::error::Unknown>,
    /// The VM that is powered off and on again around the restore (its name).
    pub vm_name: Option<String>,
    pub session: Session,
    /// The VM's power state now.
    pub power: Option<PowerState>,
    pub presence: Presence,
    /// A replica's copy progress as the provider reports it, when read.
    pub provider_percent: Option<f64>,
    pub quota: Option<QuotaFact>,
    /// False when the restore makes a copy beside the volume instead of replacing it (an AHV
    /// replica, restored on the DR cluster).
    pub in_place: bool,
    /// Where the restored volume will be: a region, or the cluster's account name.
    pub restored_on: String,
    /// The name prefix of a restored copy.
    pub copy_prefix: Option<String>,
}

/// Exactly what a restore will do, and every check with its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RestorePlan {
    pub backup_id: String,
    pub backup_name: String,
    pub account_id: String,
    pub account_name: String,
    pub provider: ProviderKind,
    pub frame_account: String,
    /// The volume restored: its provider id and name when the backup was taken.
    pub volume_id: String,
    pub volume_name: String,
    pub kind: Option<ResourceKind>,
    pub owner: Option<String>,
    /// Which copy is used: the primary backup or the secondary replica.
    pub site: BackupSite,
    /// Where that copy lives (region, or the account of the cluster that holds it).
    pub from_location: String,
    /// When the backup was taken (RFC 3339).
    pub point_in_time: String,
    /// Where the restored volume will be.
    pub restored_on: String,
    /// True when the volume's current disk is replaced; false when a copy is made beside it.
    pub in_place: bool,
    /// The VM powered off before and powered on again after (when it was on).
    pub vm: Option<String>,
    pub powers_off: bool,
    pub powers_on_after: bool,
    /// The safety snapshot taken first (the undo path), in words; `None` when nothing is replaced.
    pub safety_snapshot: Option<String>,
    /// The window demands typing `volume_name` for these; `standbyctl` demands `--confirm-volume`.
    pub replaces_assigned_desktop: bool,
    /// What will happen, in order.
    pub steps: Vec<String>,
    pub checks: Vec<RestoreCheck>,
    /// No check is blocked.
    pub can_run: bool,
}

impl RestorePlan {
    /// The blocked checks as one sentence, for an error.
    pub fn blockers(&self) -> String {
        blockers(&self.checks)
    }
}

/// The blocked ones of `checks` as one sentence, for an error.
pub(crate) fn blockers(checks: &[RestoreCheck]) -> String {
    checks
        .iter()
        .filter(|c| c.status == CheckStatus::Blocked)
        .map(|c| format!("{}: {}", c.name, c.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// One line of a pre-flight (a restore's or a clone's).
pub(crate) fn check(name: &str, status: CheckStatus, message: impl Into<String>) -> RestoreCheck {
    RestoreCheck {
        name: name.to_string(),
        status,
        message: message.into(),
    }
}

fn replaces_assigned(r: &DiscoveredResource) -> bool {
    match r.kind {
        ResourceKind::PersistentDesktop => r.desktop_state == Some(DesktopState::Assigned),
        // A user's profile and personal drive belong to their assigned desktop.
        ResourceKind::EnterpriseProfile | ResourceKind::PersonalDrive => r.owner.is_some(),
        _ => false,
    }
}

/// The plan for `f`: pure, so every rule is tested without a provider.
pub fn decide(f: &Facts) -> RestorePlan {
    use CheckStatus::*;
    let b = &f.backup;
    let mut checks = Vec::new();

    // The backup itself: finished, complete, and still at the provider.
    let usable = match b.state {
        BackupState::Available if b.percent >= 100.0 => {
            check("Backup", Ok, format!("{} ({}) is available", b.name, b.site.as_str()))
        }
        BackupState::Available | BackupState::Replicating => check(
            "Backup",
            Blocked,
            format!(
                "the replica is still being copied ({:.0}%): wait until `standbyctl backup list` shows it available, or restore the primary backup",
                b.percent
            ),
        ),
        BackupState::Creating => check(
            "Backup",
            Blocked,
            "the backup is still being taken: wait for its job to finish",
        ),
        BackupState::Failed => check(
            "Backup",
            Blocked,
            format!(
                "this backup failed ({}): choose another backup of the volume",
                b.error.as_deref().unwrap_or("no reason recorded")
            ),
        ),
    };
    checks.push(usable);
    if b.site == BackupSite::Replica {
        if let Some(p) = f.provider_percent.filter(|p| *p < 100.0) {
            checks.push(check(
                "Replica complete",
                Blocked,
                format!("the provider reports the copy at {p:.0}%: wait for it to reach 100%"),
            ));
        }
    }
    checks.push(match &f.presence {
        Presence::Present => check("Backup at the provider", Ok, format!("found in {}", b.location)),
        Presence::Missing { why } => check(
            "Backup at the provider",
            Blocked,
            format!("{why}: it was deleted or expired; choose another backup of the volume"),
        ),
        Presence::Unknown { why } => check(
            "Backup at the provider",
            Blocked,
            format!("could not be checked ({why}): check the account (`standbyctl account test`) and plan again"),
        ),
    });

    let target = f.target.as_ref().ok();
    checks.push(match &f.target {
        Result::Ok(r) => check(
            "Volume",
            Ok,
            match &f.vm_name {
                Some(vm) if *vm != r.name => {
                    format!("{} ({}), attached to {vm}", r.name, kind_words(r.kind))
                }
                _ => format!("{} ({})", r.name, kind_words(r.kind)),
            },
        ),
        Err(why) if f.in_place => check("Volume", Blocked, why.clone()),
        Err(why) => check(
            "Volume",
            Ok,
            format!("not needed for a copy on the DR site ({why})"),
        ),
    });

    let powered_on = f.power == Some(PowerState::On);
    if f.in_place {
        let off = f.power == Some(PowerState::Off) || (f.vm_name.is_none() && f.power.is_none());
        checks.push(match &f.session {
            Session::None => check("User in session", Ok, "nobody is in session"),
            Session::InSession { user } => check(
                "User in session",
                Blocked,
                format!(
                    "{user} is in session on {}: ask them to sign out (or end the session in Frame), then plan again",
                    f.vm_name.as_deref().unwrap_or("the desktop")
                ),
            ),
            Session::Unknown { why } if off => check(
                "User in session",
                Warning,
                format!("unknown ({why}); the desktop is powered off, so nobody can be in session"),
            ),
            Session::Unknown { why } => check(
                "User in session",
                Blocked,
                format!(
                    "unknown ({why}): configure the account's guest agent (`standbyctl account guest-agent`), or power the desktop off in Frame, then plan again"
                ),
            ),
        });
        checks.push(match (&f.vm_name, f.power) {
            (None, _) => check("Desktop power", Ok, "the volume is attached to no VM"),
            (Some(vm), Some(PowerState::On)) => check(
                "Desktop power",
                Warning,
                format!("{vm} is running: it will be powered off before the disk is replaced and powered on again after"),
            ),
            (Some(vm), Some(PowerState::Off)) => check(
                "Desktop power",
                Ok,
                format!("{vm} is powered off and stays off"),
            ),
            (Some(vm), _) => check(
                "Desktop power",
                Warning,
                format!("{vm}'s power state is not known: it will be powered off before the disk is replaced and left off"),
            ),
        });
    } else {
        checks.push(check(
            "User in session",
            Ok,
            "not needed: nothing on the primary is touched",
        ));
    }
    if let Some(q) = &f.quota {
        checks.push(match q {
            QuotaFact::Read { label, region, current, limit } if current < limit => check(
                "Quota",
                Ok,
                format!("{label} in {region}: {current} of {limit} used, one more fits"),
            ),
            QuotaFact::Read { label, region, current, limit } => check(
                "Quota",
                Blocked,
                format!("{label} in {region}: {current} of {limit} used, and the restore needs one more disk: delete unused disks or ask Azure for a higher limit"),
            ),
            QuotaFact::Unknown { why } => check(
                "Quota",
                Warning,
                format!("the usages could not be read ({why}): if the region is at its disk limit, the restore will fail when it creates the disk"),
            ),
        });
    }

    let volume_name = target
        .map(|r| r.name.clone())
        .unwrap_or_else(|| b.volume_name.clone());
    let vm = if f.in_place { f.vm_name.clone() } else { None };
    let mut steps = Vec::new();
    let safety = f.in_place.then(|| {
        format!(
            "a safety snapshot of {volume_name}'s current disk, kept as a backup of kind `safety`: restoring it undoes this restore"
        )
    });
    if let Some(s) = &safety {
        steps.push(format!("Take {s}."));
    }
    if f.provider == ProviderKind::Azure && b.site == BackupSite::Replica {
        steps.push(format!(
            "Copy the replica from {} back to {} and wait for the copy to finish.",
            b.location, f.restored_on
        ));
    }
    if let (Some(vm), true) = (&vm, powered_on || f.power != Some(PowerState::Off)) {
        steps.push(format!("Power {vm} off."));
    }
    match (f.provider, f.in_place) {
        (ProviderKind::Azure, _) => {
            steps.push(format!(
                "Create a new disk in {} from the backup taken {}.",
                f.restored_on, b.created_at
            ));
            steps.push(match &vm {
                Some(vm) => format!("Put the new disk in place of {volume_name} on {vm}; the old disk is kept, detached and tagged `standby.replaced-by`, until you delete it."),
                None => format!("The new disk replaces {volume_name} in the inventory; the old disk is kept, tagged `standby.replaced-by`."),
            });
        }
        (ProviderKind::Ahv, true) => steps.push(format!(
            "Restore {volume_name} in place on {} from the snapshot taken {}.",
            f.restored_on, b.created_at
        )),
        (ProviderKind::Ahv, false) => steps.push(format!(
            "Restore {volume_name} on the DR cluster {} as a new copy named {}{volume_name}, powered off; the desktop on the primary is not touched.",
            f.restored_on,
            f.copy_prefix.as_deref().unwrap_or("")
        )),
    }
    if let (Some(vm), true) = (&vm, powered_on) {
        steps.push(format!("Power {vm} on again."));
    }
    let can_run = !checks.iter().any(|c| c.status == Blocked);
    RestorePlan {
        backup_id: b.id.clone(),
        backup_name: b.name.clone(),
        account_id: b.account_id.clone(),
        account_name: f.account_name.clone(),
        provider: f.provider,
        frame_account: b.frame_account.clone(),
        volume_id: b.volume_id.clone(),
        volume_name,
        kind: target.map(|r| r.kind),
        owner: target.and_then(|r| r.owner.clone()),
        site: b.site,
        from_location: b.location.clone(),
        point_in_time: b.created_at.clone(),
        restored_on: f.restored_on.clone(),
        in_place: f.in_place,
        powers_off: vm.is_some() && f.power != Some(PowerState::Off),
        powers_on_after: vm.is_some() && powered_on,
        vm,
        safety_snapshot: safety,
        replaces_assigned_desktop: f.in_place && target.is_some_and(replaces_assigned),
        steps,
        checks,
        can_run,
    }
}

fn kind_words(k: ResourceKind) -> &'static str {
    match k {
        ResourceKind::Sandbox => "sandbox",
        ResourceKind::UtilityServer => "utility server",
        ResourceKind::PersistentDesktop => "persistent desktop",
        ResourceKind::EnterpriseProfile => "enterprise profile",
        ResourceKind::PersonalDrive => "personal drive",
        ResourceKind::TemplateImage => "template image",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::BackupKind;

    fn backup(site: BackupSite, state: BackupState, percent: f64) -> Backup {
        Backup {
            id: "b1".into(),
            job_id: None,
            account_id: "a1".into(),
            frame_account: "acme-pd".into(),
            volume_id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d1"
                .into(),
            volume_name: "d1".into(),
            name: "nightly".into(),
            kind: BackupKind::Manual,
            site,
            location: "westeurope".into(),
            provider_ref: Some("snap".into()),
            state,
            percent,
            replica_of: None,
            error: None,
            created_at: "2026-11-22T10:00:00+00:00".into(),
            updated_at: "2026-11-22T10:00:00+00:00".into(),
        }
    }

    fn desktop(state: DesktopState) -> DiscoveredResource {
        DiscoveredResource {
            provider_id: "d1".into(),
            name: "acme-pd-desk-0001".into(),
            kind: ResourceKind::PersistentDesktop,
            frame_account: "acme-pd".into(),
            owner: Some("ann@acme".into()),
            desktop_state: Some(state),
            size_bytes: 1.0,
            vm_id: Some("vm1".into()),
            power: Some(PowerState::On),
            power_detail: None,
            location: "westeurope".into(),
            not_protected_reason: None,
        }
    }

    fn facts() -> Facts {
        Facts {
            backup: backup(BackupSite::Primary, BackupState::Available, 100.0),
            provider: ProviderKind::Azure,
            account_name: "azure".into(),
            target: Ok(desktop(DesktopState::Assigned)),
            vm_name: Some("acme-pd-desk-0001".into()),
            session: Session::None,
            power: Some(PowerState::On),
            presence: Presence::Present,
            provider_percent: None,
            quota: Some(QuotaFact::Read {
                label: "Premium SSD managed disks".into(),
                region: "westeurope".into(),
                current: 10,
                limit: 100,
            }),
            in_place: true,
            restored_on: "westeurope".into(),
            copy_prefix: None,
        }
    }

    fn status(p: &RestorePlan, name: &str) -> CheckStatus {
        p.checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name}: {:#?}", p.checks))
            .status
    }

    #[test]
    fn a_running_assigned_desktop_is_powered_off_and_on_and_needs_its_name_typed() {
        let p = decide(&facts());
        assert!(p.can_run, "{:#?}", p.checks);
        assert!(p.replaces_assigned_desktop);
        assert!(p.powers_off && p.powers_on_after);
        assert_eq!(status(&p, "Desktop power"), CheckStatus::Warning);
        assert!(p.safety_snapshot.is_some());
        assert!(
            p.steps[0].starts_with("Take a safety snapshot"),
            "{:?}",
            p.steps
        );
        assert!(p.steps.last().unwrap().contains("on again"));
    }

    #[test]
    fn a_user_in_session_blocks_and_says_who() {
        let mut f = facts();
        f.session = Session::InSession {
            user: "ann@acme".into(),
        };
        let p = decide(&f);
        assert!(!p.can_run);
        assert_eq!(status(&p, "User in session"), CheckStatus::Blocked);
        assert!(p.blockers().contains("ann@acme"));
    }

    #[test]
    fn an_unknown_session_blocks_unless_the_desktop_is_off() {
        let mut f = facts();
        f.session = Session::Unknown {
            why: "no guest agent".into(),
        };
        let p = decide(&f);
        assert_eq!(status(&p, "User in session"), CheckStatus::Blocked);
        assert!(p.blockers().contains("no guest agent"));
        f.power = Some(PowerState::Off);
        let p = decide(&f);
        assert_eq!(status(&p, "User in session"), CheckStatus::Warning);
        assert!(p.can_run);
        assert!(!p.powers_off && !p.powers_on_after);
    }

    #[test]
    fn an_incomplete_replica_blocks() {
        let mut f = facts();
        f.backup = backup(BackupSite::Replica, BackupState::Replicating, 40.0);
        assert_eq!(status(&decide(&f), "Backup"), CheckStatus::Blocked);
        f.backup = backup(BackupSite::Replica, BackupState::Available, 100.0);
        f.provider_percent = Some(80.0);
        let p = decide(&f);
        assert_eq!(status(&p, "Replica complete"), CheckStatus::Blocked);
        f.provider_percent = Some(100.0);
        let p = decide(&f);
        assert!(p.can_run);
        assert!(p.steps.iter().any(|s| s.starts_with("Copy the replica")));
    }

    #[test]
    fn quota_missing_backup_and_missing_volume_block() {
        let mut f = facts();
        f.quota = Some(QuotaFact::Read {
            label: "Premium SSD managed disks".into(),
            region: "westeurope".into(),
            current: 100,
            limit: 100,
        });
        assert_eq!(status(&decide(&f), "Quota"), CheckStatus::Blocked);
        let mut f = facts();
        f.presence = Presence::Missing {
            why: "snapshot not found".into(),
        };
        assert_eq!(
            status(&decide(&f), "Backup at the provider"),
            CheckStatus::Blocked
        );
        let mut f = facts();
        f.target = Err("the disk is gone".into());
        assert_eq!(status(&decide(&f), "Volume"), CheckStatus::Blocked);
        let mut f = facts();
        f.quota = Some(QuotaFact::Unknown { why: "503".into() });
        assert_eq!(status(&decide(&f), "Quota"), CheckStatus::Warning);
    }

    #[test]
    fn an_unassigned_desktop_needs_no_typed_name_and_a_copy_on_the_dr_site_touches_nothing() {
        let mut f = facts();
        f.target = Ok(desktop(DesktopState::Unassigned));
        assert!(!decide(&f).replaces_assigned_desktop);
        let mut f = facts();
        f.provider = ProviderKind::Ahv;
        f.backup = backup(BackupSite::Replica, BackupState::Available, 100.0);
        f.in_place = false;
        f.quota = None;
        f.session = Session::InSession {
            user: "ann@acme".into(),
        };
        f.copy_prefix = Some("restored-".into());
        let p = decide(&f);
        assert!(p.can_run, "{:#?}", p.checks);
        assert!(!p.replaces_assigned_desktop && !p.powers_off && p.safety_snapshot.is_none());
        assert!(p
            .steps
            .iter()
            .any(|s| s.contains("restored-acme-pd-desk-0001")));
    }
}
