//! The clone pre-flight's decisions: facts in (gathered by `clone::gather`), a plan out. Nothing
//! here does I/O, so every rule is unit-tested on its own.
//!
//! Rules (docs/restore.md, "Clone"):
//! - only assigned persistent desktops with an owner are cloned: an unassigned or shadow desktop
//!   holds no user's data (Frame makes those from the sandbox image), so it is skipped and says so;
//! - an owner who already has an assigned desktop in the destination is skipped, unless
//!   *replace assigned volumes* is on: then that desktop is retired (powered off, kept) and the
//!   clone takes its place;
//! - a desktop the source protection domain does not protect cannot be snapshotted: skipped;
//! - a user in session makes the clone wait (a warning); a running desktop whose sessions cannot
//!   be seen blocks, as in a restore.

use serde::{Deserialize, Serialize};

use crate::guest::Session;
use crate::inventory::{DesktopState, DiscoveredResource, PowerState, ResourceKind};
use crate::restore::plan::check;
use crate::restore::{CheckStatus, RestoreCheck};

/// One side of a clone: the cloud account (an AHV cluster) and the Frame account on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct CloneSide {
    /// Empty when the account was not found.
    pub account_id: String,
    pub account_name: String,
    pub frame_account: String,
}

/// The remote site on the source cluster that points at the destination cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteFact {
    pub name: String,
    /// Prism's `status` (`RELATIONSHIP_ESTABLISHED`, ...).
    pub status: String,
    pub established: bool,
    /// Source storage containers the site maps to a container of the destination.
    pub mapped_containers: Vec<String>,
}

/// A source desktop as discovered now, with what the guest agent and the protection domain say.
#[derive(Debug, Clone)]
pub struct SourceDesktop {
    pub resource: DiscoveredResource,
    pub session: Session,
    /// In the source protection domain (so in its snapshot).
    pub protected: bool,
}

/// Everything the decisions need.
#[derive(Debug, Clone)]
pub struct Facts {
    pub source: CloneSide,
    /// The destination and its Frame account's resources, or why it cannot be used.
    pub destination: Result<(CloneSide, Vec<DiscoveredResource>), (CloneSide, String)>,
    pub same_cluster: bool,
    pub site: Result<SiteFact, crate::error::Unknown>,
    pub protection_domain: String,
    /// `Err` with the reason when the source protection domain is missing or unreadable.
    pub protection_domain_found: Result<(), crate::error::Unknown>,
    /// The source Frame account's resources (persistent desktops are the ones considered).
    pub desktops: Vec<SourceDesktop>,
    /// Names or uuids asked for (`--volumes`); empty means every persistent desktop.
    pub selection: Vec<String>,
    pub replace_assigned: bool,
    pub keep_running: bool,
    /// The clones' name prefix on the destination.
    pub prefix: String,
    pub session_timeout_secs: u64,
}

/// What happens to one source desktop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum DesktopAction {
    /// A new desktop on the destination.
    Clone {
        new_name: String,
    },
    /// A new desktop on the destination in place of the owner's assigned one there, which is
    /// powered off and kept (never deleted).
    Replace {
        new_name: String,
        replaces: String,
        replaces_uuid: String,
    },
    Skip {
        reason: String,
    },
}

/// One source desktop in the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct PlannedDesktop {
    pub name: String,
    /// The VM's uuid on the source cluster.
    pub uuid: String,
    pub owner: Option<String>,
    /// Running now (powered off for the snapshot, and on again after).
    pub running: bool,
    /// The storage container of its disk on the source.
    pub container: String,
    pub session: Session,
    pub action: DesktopAction,
    /// The power actions it goes through, in words.
    pub power: Vec<String>,
}

impl PlannedDesktop {
    pub fn is_copied(&self) -> bool {
        !matches!(self.action, DesktopAction::Skip { .. })
    }

    /// The name of its clone on the destination.
    pub fn new_name(&self) -> Option<&str> {
        match &self.action {
            DesktopAction::Clone { new_name } | DesktopAction::Replace { new_name, .. } => {
                Some(new_name)
            }
            DesktopAction::Skip { .. } => None,
        }
    }
}

/// Exactly what a clone will do, and every check with its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ClonePlan {
    pub source: CloneSide,
    pub destination: CloneSide,
    /// The remote site on the source cluster that replicates to the destination.
    pub remote_site: Option<String>,
    pub protection_domain: String,
    pub name_prefix: String,
    pub replace_assigned: bool,
    pub keep_running: bool,
    /// How long the clone waits for users in session before it gives up (seconds).
    #[specta(type = f64)]
    pub session_timeout_secs: u64,
    pub desktops: Vec<PlannedDesktop>,
    /// What will happen, in order.
    pub steps: Vec<String>,
    pub checks: Vec<RestoreCheck>,
    /// No check is blocked.
    pub can_run: bool,
}

impl ClonePlan {
    /// The blocked checks as one sentence, for an error.
    pub fn blockers(&self) -> String {
        crate::restore::plan::blockers(&self.checks)
    }

    pub fn copied(&self) -> impl Iterator<Item = &PlannedDesktop> {
        self.desktops.iter().filter(|d| d.is_copied())
    }
}

fn assigned_owner(r: &DiscoveredResource) -> Option<&str> {
    (r.kind == ResourceKind::PersistentDesktop && r.desktop_state == Some(DesktopState::Assigned))
        .then_some(r.owner.as_deref())
        .flatten()
        .filter(|o| !o.trim().is_empty())
}

fn minutes(secs: u64) -> String {
    match secs {
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// The plan. Pure.
pub fn decide(f: &Facts) -> ClonePlan {
    let mut checks = Vec::new();
    let pd = &f.protection_domain;
    let (destination, dest_desktops) = match &f.destination {
        Ok((side, resources)) => {
            checks.push(check(
                "Destination account",
                CheckStatus::Ok,
                format!(
                    "{} is an AHV cluster; Frame account {} there",
                    side.account_name, side.frame_account
                ),
            ));
            (side.clone(), resources.as_slice())
        }
        Err((side, why)) => {
            checks.push(check(
                "Destination account",
                CheckStatus::Blocked,
                why.clone(),
            ));
            (side.clone(), &[][..])
        }
    };
    if f.same_cluster {
        checks.push(check(
            "Two clusters",
            CheckStatus::Blocked,
            "the source and the destination are the same cloud account: a clone copies desktops to another AHV cluster through a remote site; pick the destination cluster's account",
        ));
    }
    let (remote_site, mapped) = match &f.site {
        Ok(s) if s.established => {
            checks.push(check(
                "Remote site",
                CheckStatus::Ok,
                format!(
                    "{} on {} replicates to {} ({})",
                    s.name, f.source.account_name, destination.account_name, s.status
                ),
            ));
            (Some(s.name.clone()), s.mapped_containers.as_slice())
        }
        Ok(s) => {
            checks.push(check(
                "Remote site",
                CheckStatus::Blocked,
                format!(
                    "{} on {} is {}: fix the link between the clusters (standbyctl dr enable-ahv tests it) and plan again",
                    s.name, f.source.account_name, s.status
                ),
            ));
            (Some(s.name.clone()), s.mapped_containers.as_slice())
        }
        Err(why) => {
            checks.push(check("Remote site", CheckStatus::Blocked, why.clone()));
            (None, &[][..])
        }
    };
    match &f.protection_domain_found {
        Ok(()) => checks.push(check(
            "Protection domain",
            CheckStatus::Ok,
            format!("{pd} on {}", f.source.account_name),
        )),
        Err(why) => checks.push(check(
            "Protection domain",
            CheckStatus::Blocked,
            why.clone(),
        )),
    }

    // Which source desktops are in scope.
    let persistent: Vec<&SourceDesktop> = f
        .desktops
        .iter()
        .filter(|d| d.resource.kind == ResourceKind::PersistentDesktop)
        .collect();
    let mut unknown = Vec::new();
    let mut in_scope: Vec<&SourceDesktop> = Vec::new();
    if f.selection.is_empty() {
        in_scope = persistent.clone();
    } else {
        for want in &f.selection {
            let want = want.trim();
            match persistent.iter().find(|d| {
                d.resource.name.eq_ignore_ascii_case(want)
                    || d.resource.provider_id.eq_ignore_ascii_case(want)
            }) {
                Some(d)
                    if !in_scope
                        .iter()
                        .any(|x| x.resource.provider_id == d.resource.provider_id) =>
                {
                    in_scope.push(d)
                }
                Some(_) => {}
                None => unknown.push(want.to_string()),
            }
        }
    }
    if !unknown.is_empty() {
        checks.push(check(
            "Volumes",
            CheckStatus::Blocked,
            format!(
                "{} {} not a persistent desktop of {} on {}: list them with `standbyctl inventory list {} --frame-account {}`",
                unknown.join(", "),
                if unknown.len() == 1 { "is" } else { "are" },
                f.source.frame_account,
                f.source.account_name,
                f.source.account_name,
                f.source.frame_account
            ),
        ));
    }

    let mut desktops = Vec::new();
    let mut unseen_sessions = Vec::new();
    let mut waits = Vec::new();
    for d in in_scope {
        let r = &d.resource;
        let running = r.power == Some(PowerState::On);
        let owner = assigned_owner(r);
        let new_name = format!("{}{}", f.prefix, r.name);
        let action = if !d.protected {
            DesktopAction::Skip {
                reason: format!(
                    "not protected by {pd}, so not in its snapshot: protect it (standbyctl dr enable-ahv) and clone again"
                ),
            }
        } else if let Some(owner) = owner {
            match dest_desktops.iter().find(|x| {
                assigned_owner(x).is_some_and(|o| o.eq_ignore_ascii_case(owner))
            }) {
                Some(x) if f.replace_assigned => DesktopAction::Replace {
                    new_name,
                    replaces: x.name.clone(),
                    replaces_uuid: x.provider_id.clone(),
                },
                Some(x) => DesktopAction::Skip {
                    reason: format!(
                        "{owner} already has the assigned desktop {} in {}: turn on replace assigned volumes (--replace-assigned) to replace it",
                        x.name, destination.frame_account
                    ),
                },
                None => DesktopAction::Clone { new_name },
            }
        } else {
            DesktopAction::Skip {
                reason: "no owner: an unassigned or shadow desktop holds no user's data (Frame makes these from the sandbox image)".into(),
            }
        };
        let copied = !matches!(action, DesktopAction::Skip { .. });
        let mut power = Vec::new();
        if copied {
            match &d.session {
                Session::InSession { user } => {
                    waits.push(format!("{} ({user})", r.name));
                    power.push(format!(
                        "waits for {user}'s session to end (up to {}), then powered off",
                        minutes(f.session_timeout_secs)
                    ));
                }
                Session::Unknown { why } if running || r.power == Some(PowerState::Other) => {
                    unseen_sessions.push(format!("{} ({why})", r.name));
                }
                _ if running => power.push("powered off for the snapshot".into()),
                _ => {}
            }
            if running {
                power.push("powered on again after the snapshot".into());
            }
            if let DesktopAction::Replace { replaces, .. } = &action {
                power.push(format!(
                    "{replaces} on the destination powered off and kept (not deleted)"
                ));
            }
            power.push(if f.keep_running {
                "its clone is powered on (keep running)".into()
            } else {
                "its clone stays powered off".into()
            });
        }
        desktops.push(PlannedDesktop {
            name: r.name.clone(),
            uuid: r.provider_id.clone(),
            owner: owner.map(str::to_string),
            running,
            container: r.location.clone(),
            session: d.session.clone(),
            action,
            power,
        });
    }

    let copied: Vec<&PlannedDesktop> = desktops.iter().filter(|d| d.is_copied()).collect();
    if copied.is_empty() {
        checks.push(check(
            "Desktops to clone",
            CheckStatus::Blocked,
            if desktops.is_empty() {
                format!(
                    "{} has no persistent desktop on {} to clone",
                    f.source.frame_account, f.source.account_name
                )
            } else {
                "every desktop asked for is skipped (see each one's reason)".to_string()
            },
        ));
    } else {
        let replaced = copied
            .iter()
            .filter(|d| matches!(d.action, DesktopAction::Replace { .. }))
            .count();
        checks.push(check(
            "Desktops to clone",
            CheckStatus::Ok,
            format!(
                "{} to clone ({replaced} replacing an assigned desktop), {} skipped",
                copied.len(),
                desktops.len() - copied.len()
            ),
        ));
    }
    if f.site.is_ok() {
        let mut unmapped: Vec<&str> = copied
            .iter()
            .map(|d| d.container.as_str())
            .filter(|c| !mapped.iter().any(|m| m == c))
            .collect();
        unmapped.sort_unstable();
        unmapped.dedup();
        if unmapped.is_empty() {
            checks.push(check(
                "vStore mapping",
                CheckStatus::Ok,
                "every desktop's container is mapped to the destination",
            ));
        } else {
            checks.push(check(
                "vStore mapping",
                CheckStatus::Blocked,
                format!(
                    "the remote site does not map {} to a container of the destination: add the mapping (standbyctl dr enable-ahv --map) and plan again",
                    unmapped.join(", ")
                ),
            ));
        }
    }
    if !unseen_sessions.is_empty() {
        checks.push(check(
            "Users in session (guest agent)",
            CheckStatus::Blocked,
            format!(
                "cannot tell whether anyone is in session on {}: configure the account's guest agent (standbyctl account guest-agent) or power these desktops off",
                unseen_sessions.join(", ")
            ),
        ));
    } else if !waits.is_empty() {
        checks.push(check(
            "Users in session (guest agent)",
            CheckStatus::Warning,
            format!(
                "in session on {}: the clone waits up to {} for these sessions to end, then gives up and leaves every desktop as it was",
                waits.join(", "),
                minutes(f.session_timeout_secs)
            ),
        ));
    } else if !copied.is_empty() {
        checks.push(check(
            "Users in session (guest agent)",
            CheckStatus::Ok,
            "nobody is in session on the desktops to clone",
        ));
    }
    let running: Vec<&str> = copied
        .iter()
        .filter(|d| d.running)
        .map(|d| d.name.as_str())
        .collect();
    if !running.is_empty() {
        checks.push(check(
            "Desktop power",
            CheckStatus::Warning,
            format!(
                "{} will be powered off for the snapshot and on again right after",
                running.join(", ")
            ),
        ));
    }

    let site_name = remote_site
        .clone()
        .unwrap_or_else(|| "the remote site".into());
    let mut steps = vec![
        "Record the power state of every desktop involved".to_string(),
        "Power off the source desktops nobody uses; wait for the others' sessions to end, then power them off".to_string(),
        format!("Take a snapshot of {pd} on {} and replicate it to {site_name}", f.source.account_name),
        "Power the source desktops that were running on again".to_string(),
        format!("Wait for the replica to land on {}", destination.account_name),
    ];
    if copied
        .iter()
        .any(|d| matches!(d.action, DesktopAction::Replace { .. }))
    {
        steps.push("Power off the destination desktops being replaced (they are kept)".into());
    }
    steps.push(format!(
        "Restore each desktop on {} as a new VM named {}<name>",
        destination.account_name, f.prefix
    ));
    steps.push(if f.keep_running {
        "Power the clones on (keep running)".to_string()
    } else {
        "Leave the clones powered off".to_string()
    });

    let can_run = !checks.iter().any(|c| c.status == CheckStatus::Blocked);
    ClonePlan {
        source: f.source.clone(),
        destination,
        remote_site,
        protection_domain: pd.clone(),
        name_prefix: f.prefix.clone(),
        replace_assigned: f.replace_assigned,
        keep_running: f.keep_running,
        session_timeout_secs: f.session_timeout_secs,
        desktops,
        steps,
        checks,
        can_run,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desk(name: &str, owner: Option<&str>, state: DesktopState, on: bool) -> DiscoveredResource {
        DiscoveredResource {
            provider_id: format!("uuid-{name}"),
            name: name.into(),
            kind: ResourceKind::PersistentDesktop,
            frame_account: "acme-pd".into(),
            owner: owner.map(str::to_string),
            desktop_state: Some(state),
            size_bytes: 1.0,
            vm_id: Some(format!("uuid-{name}")),
            power: Some(if on { PowerState::On } else { PowerState::Off }),
            power_detail: None,
            location: "c1".into(),
            not_protected_reason: None,
        }
    }

    fn source(r: DiscoveredResource, session: Session) -> SourceDesktop {
        SourceDesktop {
            resource: r,
            session,
            protected: true,
        }
    }

    fn side(name: &str, frame: &str) -> CloneSide {
        CloneSide {
            account_id: format!("id-{name}"),
            account_name: name.into(),
            frame_account: frame.into(),
        }
    }

    fn facts() -> Facts {
        Facts {
            source: side("primary", "acme-pd"),
            destination: Ok((
                side("secondary", "acme-dr"),
                vec![
                    desk(
                        "dr-1",
                        Some("Ann@acme.example"),
                        DesktopState::Assigned,
                        true,
                    ),
                    desk(
                        "dr-2",
                        Some("zed@acme.example"),
                        DesktopState::Assigned,
                        false,
                    ),
                ],
            )),
            same_cluster: false,
            site: Ok(SiteFact {
                name: "secondary".into(),
                status: "RELATIONSHIP_ESTABLISHED".into(),
                established: true,
                mapped_containers: vec!["c1".into()],
            }),
            protection_domain: "standby-acme-pd".into(),
            protection_domain_found: Ok(()),
            desktops: vec![
                source(
                    desk(
                        "pd-1",
                        Some("ann@acme.example"),
                        DesktopState::Assigned,
                        true,
                    ),
                    Session::None,
                ),
                source(
                    desk(
                        "pd-2",
                        Some("bob@acme.example"),
                        DesktopState::Assigned,
                        false,
                    ),
                    Session::Unknown { why: "off".into() },
                ),
                source(
                    desk("pd-3", None, DesktopState::Unassigned, false),
                    Session::None,
                ),
                source(
                    desk("pd-4", None, DesktopState::Shadow, true),
                    Session::None,
                ),
            ],
            selection: vec![],
            replace_assigned: false,
            keep_running: false,
            prefix: "clone-x-".into(),
            session_timeout_secs: 1800,
        }
    }

    fn action<'a>(p: &'a ClonePlan, name: &str) -> &'a DesktopAction {
        &p.desktops.iter().find(|d| d.name == name).unwrap().action
    }

    fn status(p: &ClonePlan, name: &str) -> CheckStatus {
        p.checks.iter().find(|c| c.name == name).unwrap().status
    }

    #[test]
    fn an_owner_with_a_desktop_in_the_destination_is_skipped_and_new_owners_are_cloned() {
        let p = decide(&facts());
        assert!(p.can_run, "{:#?}", p.checks);
        assert!(
            matches!(action(&p, "pd-1"), DesktopAction::Skip { reason } if reason.contains("dr-1") && reason.contains("--replace-assigned"))
        );
        assert_eq!(
            action(&p, "pd-2"),
            &DesktopAction::Clone {
                new_name: "clone-x-pd-2".into()
            }
        );
        assert_eq!(p.copied().count(), 1);
    }

    #[test]
    fn replace_assigned_retires_the_owners_desktop_whatever_the_case_of_the_address() {
        let mut f = facts();
        f.replace_assigned = true;
        let p = decide(&f);
        assert_eq!(
            action(&p, "pd-1"),
            &DesktopAction::Replace {
                new_name: "clone-x-pd-1".into(),
                replaces: "dr-1".into(),
                replaces_uuid: "uuid-dr-1".into()
            }
        );
        let d = p.desktops.iter().find(|d| d.name == "pd-1").unwrap();
        assert!(d
            .power
            .iter()
            .any(|s| s.contains("dr-1") && s.contains("kept")));
    }

    #[test]
    fn desktops_without_an_owner_are_skipped_with_the_reason() {
        let p = decide(&facts());
        for n in ["pd-3", "pd-4"] {
            assert!(
                matches!(action(&p, n), DesktopAction::Skip { reason } if reason.contains("no owner")),
                "{n}"
            );
        }
    }

    #[test]
    fn a_user_in_session_is_a_warning_and_unseen_sessions_on_a_running_desktop_block() {
        let mut f = facts();
        f.replace_assigned = true;
        f.desktops[0].session = Session::InSession {
            user: "ann@acme.example".into(),
        };
        let p = decide(&f);
        assert!(p.can_run);
        assert_eq!(
            status(&p, "Users in session (guest agent)"),
            CheckStatus::Warning
        );
        let c = p
            .checks
            .iter()
            .find(|c| c.name.starts_with("Users"))
            .unwrap();
        assert!(c.message.contains("ann@acme.example") && c.message.contains("30 min"));

        f.desktops[0].session = Session::Unknown {
            why: "no guest agent".into(),
        };
        let p = decide(&f);
        assert!(!p.can_run);
        assert_eq!(
            status(&p, "Users in session (guest agent)"),
            CheckStatus::Blocked
        );
        // Off and unknown is fine: nobody can be in session on a desktop that is off.
        assert_eq!(
            p.desktops
                .iter()
                .find(|d| d.name == "pd-2")
                .unwrap()
                .session,
            Session::Unknown { why: "off".into() }
        );
    }

    #[test]
    fn prerequisites_block_with_what_to_do() {
        let mut f = facts();
        f.site = Ok(SiteFact {
            name: "secondary".into(),
            status: "UNREACHABLE".into(),
            established: false,
            mapped_containers: vec!["c1".into()],
        });
        f.protection_domain_found =
            Err("protection domain standby-acme-pd is not on primary".into());
        let p = decide(&f);
        assert!(!p.can_run);
        assert_eq!(status(&p, "Remote site"), CheckStatus::Blocked);
        assert_eq!(status(&p, "Protection domain"), CheckStatus::Blocked);
        assert!(p.blockers().contains("UNREACHABLE"));

        let mut f = facts();
        f.destination = Err((side("azure", "acme-dr"), "azure is an Azure account".into()));
        f.same_cluster = false;
        let p = decide(&f);
        assert_eq!(status(&p, "Destination account"), CheckStatus::Blocked);

        let mut f = facts();
        f.same_cluster = true;
        assert_eq!(status(&decide(&f), "Two clusters"), CheckStatus::Blocked);

        let mut f = facts();
        f.site.as_mut().unwrap().mapped_containers.clear();
        let p = decide(&f);
        assert_eq!(status(&p, "vStore mapping"), CheckStatus::Blocked);
        assert!(p.blockers().contains("c1"));
    }

    #[test]
    fn a_selection_names_desktops_and_an_unknown_name_blocks() {
        let mut f = facts();
        f.selection = vec!["PD-2".into(), "uuid-pd-2".into()];
        let p = decide(&f);
        assert!(p.can_run);
        assert_eq!(p.desktops.len(), 1, "the same desktop twice is one");
        f.selection = vec!["pd-2".into(), "nope".into()];
        let p = decide(&f);
        assert_eq!(status(&p, "Volumes"), CheckStatus::Blocked);
        assert!(p.blockers().contains("nope"));
    }

    #[test]
    fn nothing_to_clone_blocks_and_unprotected_desktops_are_skipped() {
        let mut f = facts();
        f.selection = vec!["pd-1".into(), "pd-3".into()];
        let p = decide(&f);
        assert!(!p.can_run);
        assert_eq!(status(&p, "Desktops to clone"), CheckStatus::Blocked);

        let mut f = facts();
        f.desktops[1].protected = false;
        let p = decide(&f);
        assert!(
            matches!(action(&p, "pd-2"), DesktopAction::Skip { reason } if reason.contains("not protected"))
        );
    }

    #[test]
    fn power_follows_keep_running() {
        let mut f = facts();
        f.replace_assigned = true;
        let off = decide(&f);
        let d = off.desktops.iter().find(|d| d.name == "pd-1").unwrap();
        assert!(d.running);
        assert!(d.power.iter().any(|s| s == "powered off for the snapshot"));
        assert!(d
            .power
            .iter()
            .any(|s| s == "powered on again after the snapshot"));
        assert!(d.power.iter().any(|s| s.contains("stays powered off")));
        f.keep_running = true;
        let on = decide(&f);
        let d = on.desktops.iter().find(|d| d.name == "pd-1").unwrap();
        assert!(d.power.iter().any(|s| s.contains("keep running")));
        assert!(on.steps.last().unwrap().contains("Power the clones on"));
        assert_eq!(status(&on, "Desktop power"), CheckStatus::Warning);
    }
}
