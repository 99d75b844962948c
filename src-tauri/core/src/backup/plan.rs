//! What a backup of many volumes would back up, and why it leaves the others out: a pure
//! function of what discovery, the guest agent and the catalog say, with the time passed in.
//!
//! Rules, in order (the first that applies decides):
//! 1. Template images are not part of a Frame account: never backed up (`template`).
//! 2. A volume whose user is in session is left alone (`in_session`): its desktop would have to be
//!    powered off under the user.
//! 3. Scheduled backups only: a volume that has not been on since its last scheduled backup has
//!    not changed (`unchanged`). Standby counts it unchanged only when its watching covers the
//!    whole time since that backup (`watched_since` at or before it, the watch still current) and
//!    it never saw the volume on in that time; anything less is backed up.
//! 4. A running persistent desktop is powered off for its backup and on again after. If its
//!    session cannot be checked (no guest agent, or the agent does not know it) it is skipped
//!    (`session_unknown`): Standby never powers off a desktop whose user might be working. A VM
//!    whose power state is neither on nor off is skipped too (`power_unknown`).
//!
//! Sandboxes, utility servers, profile disks and personal drives are backed up as they are
//! (crash-consistent snapshots): they are not powered off.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::BackupKind;
use crate::catalog::{VolumeActivity, MAX_GAP_SECS};
use crate::guest::Session;
use crate::inventory::{DiscoveredResource, PowerState, ResourceKind, TEMPLATE_NOT_PROTECTED};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    Template,
    InSession,
    SessionUnknown,
    PowerUnknown,
    Unchanged,
    NotFound,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Template => "template",
            Self::InSession => "in_session",
            Self::SessionUnknown => "session_unknown",
            Self::PowerUnknown => "power_unknown",
            Self::Unchanged => "unchanged",
            Self::NotFound => "not_found",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Skipped {
    pub volume_id: String,
    pub volume_name: String,
    pub reason: SkipReason,
    /// The reason in words, for the administrator.
    pub message: String,
}

/// A volume the run will back up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct PlannedVolume {
    /// The provider's id (VM uuid, volume group uuid, ARM disk id).
    pub volume_id: String,
    /// The resource's name as discovery shows it (a VM's name on AHV, a disk's on Azure).
    pub volume_name: String,
    pub kind: ResourceKind,
    /// The VM it belongs to, when there is one.
    pub vm_id: Option<String>,
    /// AHV storage container or Azure region.
    pub location: String,
    /// It was seen running: powered off before its backup and on again after.
    pub power_cycle: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct BackupPlan {
    pub eligible: Vec<PlannedVolume>,
    pub skipped: Vec<Skipped>,
}

/// What to choose from.
#[derive(Debug, Clone)]
pub struct Selection<'a> {
    pub kind: BackupKind,
    /// Empty: persistent desktops, or, with `volumes`, any protected kind.
    pub resource_kinds: &'a [ResourceKind],
    /// Empty: every volume of those kinds.
    pub volumes: &'a [String],
    pub now: DateTime<Utc>,
}

/// What is known of the volumes besides discovery.
pub struct Observations<'a> {
    pub session: &'a dyn Fn(&DiscoveredResource) -> Session,
    pub activity: &'a HashMap<String, VolumeActivity>,
    /// Volume id to the RFC 3339 time of its last available scheduled backup.
    pub last_scheduled: &'a HashMap<String, String>,
}

fn skipped(r: &DiscoveredResource, reason: SkipReason, message: String) -> Skipped {
    Skipped {
        volume_id: r.provider_id.clone(),
        volume_name: r.name.clone(),
        reason,
        message,
    }
}

/// Whether Standby watched the volume without a break since `since` and never saw it on.
fn unchanged_since(a: Option<&VolumeActivity>, since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let Some(a) = a else { return false };
    let covered_from = a.watched_since.is_some_and(|s| s <= since);
    let current = a
        .watched_until
        .is_some_and(|u| now - u <= chrono::Duration::seconds(MAX_GAP_SECS));
    let never_on = a.last_on_at.is_none_or(|t| t < since);
    covered_from && current && never_on
}

pub fn plan(
    resources: &[DiscoveredResource],
    sel: &Selection<'_>,
    obs: &Observations<'_>,
) -> BackupPlan {
    let mut out = BackupPlan::default();
    let chosen: Vec<&DiscoveredResource> = if sel.volumes.is_empty() {
        let kinds: &[ResourceKind] = if sel.resource_kinds.is_empty() {
            &[ResourceKind::PersistentDesktop]
        } else {
            sel.resource_kinds
        };
        resources
            .iter()
            .filter(|r| kinds.contains(&r.kind) || r.kind == ResourceKind::TemplateImage)
            .collect()
    } else {
        let mut chosen: Vec<&DiscoveredResource> = Vec::new();
        for v in sel.volumes {
            match super::find(resources, v) {
                Some(r) if sel.resource_kinds.is_empty() || sel.resource_kinds.contains(&r.kind) || r.kind == ResourceKind::TemplateImage => {
                    if !chosen.iter().any(|c| c.provider_id == r.provider_id) {
                        chosen.push(r);
                    }
                }
                Some(r) => out.skipped.push(skipped(
                    r,
                    SkipReason::NotFound,
                    format!("{} is a {:?}, not one of the kinds asked for", r.name, r.kind),
                )),
                None => out.skipped.push(Skipped {
                    volume_id: v.clone(),
                    volume_name: v.clone(),
                    reason: SkipReason::NotFound,
                    message: format!("{v} is not a volume of this Frame account (see `standbyctl inventory list`)"),
                }),
            }
        }
        chosen
    };
    for r in chosen {
        if !r.kind.is_protected() {
            let why = r
                .not_protected_reason
                .clone()
                .unwrap_or_else(|| TEMPLATE_NOT_PROTECTED.to_string());
            out.skipped.push(skipped(r, SkipReason::Template, why));
            continue;
        }
        let session = (obs.session)(r);
        if let Session::InSession { user } = &session {
            out.skipped.push(skipped(
                r,
                SkipReason::InSession,
                format!("{user} is in session on it; it will be backed up when the session ends"),
            ));
            continue;
        }
        if sel.kind == BackupKind::Scheduled {
            let last = obs
                .last_scheduled
                .get(&r.provider_id)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            if let Some(last) = last {
                if r.power != Some(PowerState::On)
                    && unchanged_since(obs.activity.get(&r.provider_id), last, sel.now)
                {
                    out.skipped.push(skipped(
                        r,
                        SkipReason::Unchanged,
                        format!(
                            "not powered on since its last scheduled backup ({}): nothing changed",
                            last.to_rfc3339()
                        ),
                    ));
                    continue;
                }
            }
        }
        let desktop = r.kind == ResourceKind::PersistentDesktop;
        let power_cycle = desktop && r.power == Some(PowerState::On);
        if desktop && r.power == Some(PowerState::Other) {
            out.skipped.push(skipped(
                r,
                SkipReason::PowerUnknown,
                format!(
                    "its power state is {}: neither on nor off; try again when it settles",
                    r.power_detail.as_deref().unwrap_or("unknown")
                ),
            ));
            continue;
        }
        if power_cycle {
            if let Session::Unknown { why } = &session {
                out.skipped.push(skipped(
                    r,
                    SkipReason::SessionUnknown,
                    format!("it is running and whether its user is in session cannot be checked ({why}); Standby does not power it off blind"),
                ));
                continue;
            }
        }
        out.eligible.push(PlannedVolume {
            volume_id: r.provider_id.clone(),
            volume_name: r.name.clone(),
            kind: r.kind,
            vm_id: r.vm_id.clone(),
            location: r.location.clone(),
            power_cycle,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(id: &str, kind: ResourceKind, power: Option<PowerState>) -> DiscoveredResource {
        DiscoveredResource {
            provider_id: id.into(),
            name: format!("name-{id}"),
            kind,
            frame_account: "acme".into(),
            owner: None,
            desktop_state: None,
            size_bytes: 0.0,
            vm_id: Some(format!("vm-{id}")),
            power,
            power_detail: None,
            location: "westeurope".into(),
            not_protected_reason: None,
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    struct Fixture {
        resources: Vec<DiscoveredResource>,
        activity: HashMap<String, VolumeActivity>,
        last: HashMap<String, String>,
    }

    fn fixture() -> Fixture {
        use PowerState::*;
        use ResourceKind::*;
        let resources = vec![
            res("off", PersistentDesktop, Some(Off)),
            res("on", PersistentDesktop, Some(On)),
            res("busy", PersistentDesktop, Some(On)),
            res("blind", PersistentDesktop, Some(On)),
            res("tpl", TemplateImage, Some(Off)),
            res("profile", EnterpriseProfile, None),
            res("quiet", PersistentDesktop, Some(Off)),
            res("gap", PersistentDesktop, Some(Off)),
            res("was-on", PersistentDesktop, Some(Off)),
            res("moving", PersistentDesktop, Some(Other)),
        ];
        let last_backup = "2026-11-20T02:00:00+00:00";
        let last: HashMap<String, String> = ["quiet", "gap", "was-on", "off"]
            .iter()
            .map(|v| (v.to_string(), last_backup.to_string()))
            .collect();
        let mut activity = HashMap::new();
        activity.insert(
            "quiet".to_string(),
            VolumeActivity {
                last_on_at: Some(t("2026-11-19T10:00:00Z")),
                watched_since: Some(t("2026-11-18T00:00:00Z")),
                watched_until: Some(t("2026-11-21T01:55:00Z")),
            },
        );
        activity.insert(
            "gap".to_string(),
            VolumeActivity {
                last_on_at: None,
                // The watch started after the last backup: the time between is not known.
                watched_since: Some(t("2026-11-20T09:00:00Z")),
                watched_until: Some(t("2026-11-21T01:55:00Z")),
            },
        );
        activity.insert(
            "was-on".to_string(),
            VolumeActivity {
                last_on_at: Some(t("2026-11-20T12:00:00Z")),
                watched_since: Some(t("2026-11-18T00:00:00Z")),
                watched_until: Some(t("2026-11-21T01:55:00Z")),
            },
        );
        Fixture {
            resources,
            activity,
            last,
        }
    }

    fn session(r: &DiscoveredResource) -> Session {
        match r.provider_id.as_str() {
            "busy" => Session::InSession {
                user: "ann@acme".into(),
            },
            "blind" => Session::Unknown {
                why: "no agent".into(),
            },
            _ => Session::None,
        }
    }

    fn run(kind: BackupKind, kinds: &[ResourceKind], volumes: &[String]) -> BackupPlan {
        let f = fixture();
        plan(
            &f.resources,
            &Selection {
                kind,
                resource_kinds: kinds,
                volumes,
                now: t("2026-11-21T02:00:00Z"),
            },
            &Observations {
                session: &session,
                activity: &f.activity,
                last_scheduled: &f.last,
            },
        )
    }

    fn reasons(p: &BackupPlan) -> Vec<(&str, SkipReason)> {
        p.skipped
            .iter()
            .map(|s| (s.volume_id.as_str(), s.reason))
            .collect()
    }

    fn eligible(p: &BackupPlan) -> Vec<(&str, bool)> {
        p.eligible
            .iter()
            .map(|e| (e.volume_id.as_str(), e.power_cycle))
            .collect()
    }

    #[test]
    fn a_scheduled_run_skips_sessions_templates_blind_and_unchanged_desktops() {
        let p = run(BackupKind::Scheduled, &[], &[]);
        assert_eq!(
            reasons(&p),
            [
                ("busy", SkipReason::InSession),
                ("blind", SkipReason::SessionUnknown),
                ("tpl", SkipReason::Template),
                ("quiet", SkipReason::Unchanged),
                ("moving", SkipReason::PowerUnknown),
            ]
        );
        // "off" has a scheduled backup but no watch: backed up. "gap": watched only since after
        // the backup. "was-on": seen on since. "on": running, power-cycled.
        assert_eq!(
            eligible(&p),
            [
                ("off", false),
                ("on", true),
                ("gap", false),
                ("was-on", false)
            ]
        );
        assert!(p.skipped[3].message.contains("not powered on since"));
    }

    #[test]
    fn other_kinds_back_up_unchanged_desktops_too() {
        let p = run(BackupKind::Manual, &[], &[]);
        assert!(eligible(&p).contains(&("quiet", false)));
        assert!(reasons(&p).contains(&("busy", SkipReason::InSession)));
        assert!(reasons(&p).contains(&("blind", SkipReason::SessionUnknown)));
    }

    #[test]
    fn kinds_and_an_explicit_list_choose_what_is_planned() {
        let p = run(BackupKind::Manual, &[ResourceKind::EnterpriseProfile], &[]);
        assert_eq!(eligible(&p), [("profile", false)]);
        assert_eq!(reasons(&p), [("tpl", SkipReason::Template)]);

        let asked = vec![
            "name-profile".to_string(),
            "name-on".to_string(),
            "nope".to_string(),
        ];
        let p = run(BackupKind::PostSession, &[], &asked);
        assert_eq!(eligible(&p), [("profile", false), ("on", true)]);
        assert_eq!(reasons(&p), [("nope", SkipReason::NotFound)]);
    }

    #[test]
    fn a_stale_watch_does_not_count_as_unchanged() {
        let mut f = fixture();
        f.activity.get_mut("quiet").unwrap().watched_until = Some(t("2026-11-20T20:00:00Z"));
        let p = plan(
            &f.resources,
            &Selection {
                kind: BackupKind::Scheduled,
                resource_kinds: &[],
                volumes: &[],
                now: t("2026-11-21T02:00:00Z"),
            },
            &Observations {
                session: &session,
                activity: &f.activity,
                last_scheduled: &f.last,
            },
        );
        assert!(eligible(&p).contains(&("quiet", false)));
    }
}
