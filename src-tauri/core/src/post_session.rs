//! Post-session backups: when a user's session on a VM closes, back up what that session
//! changed. Frame lets an administrator set this for persistent desktops, enterprise profiles and
//! personal drives; Standby also offers it for the sandbox and utility servers.
//!
//! Settings are policies of kind `post_session`: one boolean per resource kind (scope
//! `sandbox`, `utility_server`, `persistent_desktop`, `enterprise_profile`, `personal_drive`)
//! and the Frame account (scope `""`). All off by default.
//!
//! The watcher reads each account's guest agent (docs/guest-agent.md) every so often, keeps the
//! sessions it saw, and when a session is gone (the VM shows no user, or another one) backs up,
//! through `backup::all` with kind `post_session`: the VM's own disk if its kind is on (the
//! desktop, the sandbox, a utility server), and the user's enterprise profile and personal drive
//! if those are on. A guest agent that does not answer changes nothing: the sessions seen before
//! are kept until it answers again, so a close is never invented from an outage. Each reading
//! also records what Standby saw of every volume's power (`volume_activity`), which the
//! scheduled backups' "not powered on since" rule reads.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::backup::BackupKind;
use crate::cancel::CancelFlag;
use crate::catalog::{Catalog, CatalogError};
use crate::disaster_recovery::Report;
use crate::guest::{GuestReport, Observed};
use crate::inventory::{DiscoveredResource, ResourceKind};
use crate::jobs::ProgressSink;
use crate::scheduler::{BackupAll, BackupAllAsk, Event};
use crate::secrets::SecretStore;

pub const POLICY_KIND: &str = "post_session";
/// The actor the audit log names for post-session backups.
pub const ACTOR: &str = "post-session";

/// The kinds a post-session backup can cover.
pub const KINDS: [ResourceKind; 5] = crate::scheduler::SCHEDULED_KINDS;

/// The scope a kind's switch is stored under.
pub fn scope(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Sandbox => "sandbox",
        ResourceKind::UtilityServer => "utility_server",
        ResourceKind::PersistentDesktop => "persistent_desktop",
        ResourceKind::EnterpriseProfile => "enterprise_profile",
        ResourceKind::PersonalDrive => "personal_drive",
        ResourceKind::TemplateImage => "template_image",
    }
}

pub fn parse_kind(s: &str) -> Option<ResourceKind> {
    let s = s.trim().to_ascii_lowercase().replace('-', "_");
    let s = s.trim_end_matches('s');
    KINDS.into_iter().find(|k| {
        scope(*k) == s
            || (s == "desktop" && *k == ResourceKind::PersistentDesktop)
            || (s == "profile" && *k == ResourceKind::EnterpriseProfile)
            || (s == "drive" && *k == ResourceKind::PersonalDrive)
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
struct Target {
    frame_account: String,
}

/// An account's post-session settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct PostSessionSettings {
    pub frame_account: Option<String>,
    /// The kinds backed up after a session, in the order of [`KINDS`].
    pub enabled: Vec<ResourceKind>,
}

/// The Frame account the post-session backups of an account are for, when set.
pub fn target(c: &Catalog, account_id: &str) -> Result<Option<String>, CatalogError> {
    Ok(c.policy::<Target>(account_id, POLICY_KIND, "")?
        .map(|t| t.frame_account))
}

pub fn settings(c: &Catalog, account_id: &str) -> Result<PostSessionSettings, CatalogError> {
    let mut enabled = Vec::new();
    for k in KINDS {
        if c.policy::<bool>(account_id, POLICY_KIND, scope(k))? == Some(true) {
            enabled.push(k);
        }
    }
    Ok(PostSessionSettings {
        frame_account: target(c, account_id)?,
        enabled,
    })
}

/// Sets the kinds named (others unchanged) and, if given, the Frame account.
pub fn set(
    c: &Catalog,
    account_id: &str,
    frame_account: Option<&str>,
    changes: &[(ResourceKind, bool)],
    at: &str,
) -> Result<PostSessionSettings, CatalogError> {
    if let Some(f) = frame_account {
        c.set_policy(
            account_id,
            POLICY_KIND,
            "",
            &Target {
                frame_account: f.trim().to_string(),
            },
            at,
        )?;
    }
    for (k, on) in changes {
        c.set_policy(account_id, POLICY_KIND, scope(*k), on, at)?;
    }
    settings(c, account_id)
}

/// A session that ended: who was on which VM.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Closed {
    pub vm: String,
    pub user: String,
}

/// Sessions by VM, as a guest agent reports them.
pub fn sessions(g: &GuestReport) -> BTreeMap<String, String> {
    g.volumes
        .iter()
        .filter_map(|v| Some((v.vm.clone()?, v.session_user.clone()?)))
        .collect()
}

/// The sessions in `before` that are not in `after` (gone, or another user on that VM).
pub fn closed(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<Closed> {
    before
        .iter()
        .filter(|(vm, user)| after.get(*vm).is_none_or(|u| !u.eq_ignore_ascii_case(user)))
        .map(|(vm, user)| Closed {
            vm: vm.clone(),
            user: user.clone(),
        })
        .collect()
}

/// What to back up after `c` closed: the VM's disk if its kind is enabled, the user's profile
/// and personal drive if theirs are. Provider ids, in discovery order.
pub fn volumes_for(
    c: &Closed,
    before: &GuestReport,
    resources: &[DiscoveredResource],
    enabled: &[ResourceKind],
) -> Vec<String> {
    resources
        .iter()
        .filter(|r| enabled.contains(&r.kind))
        .filter(|r| match r.kind {
            ResourceKind::Sandbox
            | ResourceKind::UtilityServer
            | ResourceKind::PersistentDesktop => {
                before
                    .volume(r)
                    .and_then(|v| v.vm.as_deref())
                    .is_some_and(|vm| vm.eq_ignore_ascii_case(&c.vm))
                    || r.name.eq_ignore_ascii_case(&c.vm)
            }
            ResourceKind::EnterpriseProfile | ResourceKind::PersonalDrive => r
                .owner
                .as_deref()
                .is_some_and(|o| o.eq_ignore_ascii_case(&c.user)),
            ResourceKind::TemplateImage => false,
        })
        .map(|r| r.provider_id.clone())
        .collect()
}

/// The watcher's memory: the last reading of each account's guest agent.
#[derive(Default)]
pub struct SessionWatch {
    last: HashMap<String, GuestReport>,
}

impl SessionWatch {
    /// Reads the guest agent of every account with post-session backups on, and backs up after
    /// each session that closed since the last reading.
    pub async fn poll(
        &mut self,
        report: &Report<'_>,
        store: &dyn SecretStore,
        sink: &dyn ProgressSink,
        backups: &dyn BackupAll,
        cancel: CancelFlag,
    ) -> Vec<Event> {
        let accounts: Vec<(String, PostSessionSettings)> = {
            let c = report.catalog.lock();
            let Ok(list) = c.list_accounts() else {
                return Vec::new();
            };
            list.into_iter()
                .filter_map(|a| {
                    let s = settings(&c, &a.id).ok()?;
                    (!s.enabled.is_empty() && s.frame_account.is_some()).then_some((a.id, s))
                })
                .collect()
        };
        let mut events = Vec::new();
        for (account_id, s) in accounts {
            if cancel.is_cancelled() {
                break;
            }
            self.poll_account(
                report,
                store,
                sink,
                backups,
                &account_id,
                &s,
                &mut events,
                cancel.clone(),
            )
            .await;
        }
        events
    }

    #[allow(clippy::too_many_arguments)]
    async fn poll_account(
        &mut self,
        report: &Report<'_>,
        store: &dyn SecretStore,
        sink: &dyn ProgressSink,
        backups: &dyn BackupAll,
        account_id: &str,
        s: &PostSessionSettings,
        events: &mut Vec<Event>,
        cancel: CancelFlag,
    ) {
        let now = report.clock.now();
        let g = match crate::guest::read_for(report.catalog, account_id).await {
            Observed::Read(g) => g,
            Observed::Unknown(why) => {
                tracing::debug!(
                    account = account_id,
                    "post-session: sessions unknown: {why}"
                );
                return;
            }
        };
        let power: Vec<(String, bool)> = g
            .volumes
            .iter()
            .filter_map(|v| Some((v.id.clone(), v.power_on?)))
            .collect();
        if let Err(e) = report
            .catalog
            .lock()
            .record_power_seen(account_id, &power, now)
        {
            tracing::warn!("power observations could not be recorded: {e}");
        }
        let Some(before) = self.last.insert(account_id.to_string(), g.clone()) else {
            // The first reading only tells who is in session now.
            return;
        };
        let gone = closed(&sessions(&before), &sessions(&g));
        if gone.is_empty() {
            return;
        }
        let frame = s.frame_account.clone().unwrap_or_default();
        let resources = match crate::inventory::discover(
            report.catalog,
            store,
            account_id,
            &frame,
            report.clock.clone(),
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                // Remember the sessions as they were, so the next reading sees the close again.
                self.last.insert(account_id.to_string(), before);
                events.push(Event::Error {
                    account_id: Some(account_id.into()),
                    message: format!(
                        "post-session: the account's volumes could not be listed: {e}"
                    ),
                });
                return;
            }
        };
        for c in gone {
            let volumes = volumes_for(&c, &before, &resources, &s.enabled);
            if volumes.is_empty() {
                continue;
            }
            let ask = BackupAllAsk {
                account_id: account_id.into(),
                frame_account: frame.clone(),
                kind: BackupKind::PostSession,
                volumes: Some(volumes),
                name: format!(
                    "After {}'s session on {} ({})",
                    c.user,
                    c.vm,
                    now.format("%Y-%m-%d %H:%M")
                ),
                actor: ACTOR.into(),
            };
            tracing::info!(account = account_id, user = %c.user, vm = %c.vm, "session closed: post-session backup");
            match backups
                .backup_all(report, store, sink, ask, cancel.clone())
                .await
            {
                Ok(job_id) => events.push(Event::PostSession {
                    account_id: account_id.into(),
                    user: c.user.clone(),
                    job_id,
                }),
                Err(e) => events.push(Event::Error {
                    account_id: Some(account_id.into()),
                    message: format!(
                        "post-session backup after {}'s session: {}",
                        c.user, e.message
                    ),
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::GuestVolume;

    fn vol(id: &str, vm: Option<&str>, user: Option<&str>) -> GuestVolume {
        GuestVolume {
            id: id.into(),
            name: id.into(),
            vm: vm.map(str::to_string),
            power_on: Some(true),
            session_user: user.map(str::to_string),
            size_bytes: None,
            free_bytes: None,
        }
    }

    fn report(v: Vec<GuestVolume>) -> GuestReport {
        GuestReport {
            source: "test".into(),
            volumes: v,
        }
    }

    fn res(id: &str, kind: ResourceKind, owner: Option<&str>) -> DiscoveredResource {
        DiscoveredResource {
            provider_id: id.into(),
            name: id.into(),
            kind,
            frame_account: "acme-pd".into(),
            owner: owner.map(str::to_string),
            desktop_state: None,
            size_bytes: 0.0,
            vm_id: None,
            power: None,
            power_detail: None,
            location: "westeurope".into(),
            not_protected_reason: None,
        }
    }

    #[test]
    fn a_session_is_closed_when_its_vm_shows_nobody_or_someone_else() {
        let before = report(vec![
            vol("d1", Some("desk-1"), Some("ann@x")),
            vol("p1", Some("desk-1"), Some("ann@x")),
            vol("d2", Some("desk-2"), Some("bob@x")),
            vol("d3", Some("desk-3"), Some("cy@x")),
        ]);
        let after = report(vec![
            vol("d1", Some("desk-1"), None),
            vol("d2", Some("desk-2"), Some("BOB@x")),
            vol("d3", Some("desk-3"), Some("dee@x")),
        ]);
        let got = closed(&sessions(&before), &sessions(&after));
        assert_eq!(
            got,
            [
                Closed {
                    vm: "desk-1".into(),
                    user: "ann@x".into()
                },
                Closed {
                    vm: "desk-3".into(),
                    user: "cy@x".into()
                },
            ]
        );
    }

    #[test]
    fn the_vm_disk_and_the_users_volumes_of_the_enabled_kinds_are_backed_up() {
        let before = report(vec![
            vol("d1", Some("desk-1"), Some("ann@x")),
            vol("s1", Some("sandbox"), Some("ann@x")),
        ]);
        let resources = vec![
            res("d1", ResourceKind::PersistentDesktop, Some("ann@x")),
            res("d2", ResourceKind::PersistentDesktop, Some("bob@x")),
            res("p1", ResourceKind::EnterpriseProfile, Some("Ann@x")),
            res("v1", ResourceKind::PersonalDrive, Some("ann@x")),
            res("p2", ResourceKind::EnterpriseProfile, Some("bob@x")),
            res("s1", ResourceKind::Sandbox, None),
        ];
        let c = Closed {
            vm: "desk-1".into(),
            user: "ann@x".into(),
        };
        let all = KINDS.to_vec();
        assert_eq!(
            volumes_for(&c, &before, &resources, &all),
            ["d1", "p1", "v1"]
        );
        let desk_only = [ResourceKind::PersistentDesktop];
        assert_eq!(volumes_for(&c, &before, &resources, &desk_only), ["d1"]);
        let profile_only = [ResourceKind::EnterpriseProfile];
        assert_eq!(volumes_for(&c, &before, &resources, &profile_only), ["p1"]);
        // The sandbox's session: its disk only when sandboxes are on.
        let s = Closed {
            vm: "sandbox".into(),
            user: "ann@x".into(),
        };
        assert_eq!(
            volumes_for(&s, &before, &resources, &[ResourceKind::Sandbox]),
            ["s1"]
        );
        assert!(volumes_for(&s, &before, &resources, &desk_only).is_empty());
    }

    #[test]
    fn kinds_are_read_in_the_words_an_administrator_types() {
        assert_eq!(
            parse_kind("desktops"),
            Some(ResourceKind::PersistentDesktop)
        );
        assert_eq!(
            parse_kind("utility-servers"),
            Some(ResourceKind::UtilityServer)
        );
        assert_eq!(
            parse_kind("personal_drive"),
            Some(ResourceKind::PersonalDrive)
        );
        assert_eq!(
            parse_kind("profiles"),
            Some(ResourceKind::EnterpriseProfile)
        );
        assert_eq!(parse_kind("sandbox"), Some(ResourceKind::Sandbox));
        assert_eq!(parse_kind("template"), None);
    }
}
