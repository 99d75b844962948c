//! Export and import of an account's disaster-recovery configuration (JSON, no secrets), and the
//! backup report (CSV).
//!
//! The export holds the account's name, kind and settings (addresses, user names, ids: never a
//! password or client secret, which live in the OS keyring and are never read here), its DR
//! configuration, and its policies: schedule, retention, post-session backups, autogrow, target
//! RPO. It is versioned ([`FORMAT`], [`VERSION`]); a file of another format or version is refused
//! with what to do.
//!
//! Import checks every field before it writes anything, then applies the policies, each recorded
//! in the audit log with the actor given. It does not enable disaster recovery: enabling DR joins
//! clusters, creates protection domains and checks quotas, which the Enable DR wizard does with
//! the administrator watching each check. So when the account has no DR configuration, or one that
//! differs from the file's, the import returns what differs ([`DrComparison`]) and the window opens
//! the wizard with those values; it never changes the account's DR behind the administrator's back.
//!
//! The account's own settings (address, tenant, ...) are not imported either: they say how to
//! reach this account's infrastructure, which the file's account may not share. The file's account
//! kind must match, since an AHV schedule or DR target means nothing on Azure.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::accounts::AccountSettings;
use crate::audit::{self, NewAuditEntry};
use crate::autogrow::{self, AutogrowSettings};
use crate::catalog::{Catalog, CatalogError};
use crate::clock::Clock;
use crate::disaster_recovery::DrTarget;
use crate::model::ProviderKind;
use crate::post_session::{self, PostSessionSettings};
use crate::retention::{self, RetentionPolicy};
use crate::schedule::{Schedule, SchedulePolicy, MAX_KEEP};
use crate::timeline::{self, MAX_RPO_HOURS};
use crate::{ApiError, ErrorCode};

/// What the `format` field of an export says.
pub const FORMAT: &str = "standby-dr-config";
/// The version this Standby writes and reads.
pub const VERSION: u32 = 1;

/// The account as exported: what it is, never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct ExportedAccount {
    pub name: String,
    pub kind: ProviderKind,
    pub settings: AccountSettings,
}

/// A DR configuration without what ties it to one catalog (the account's id, when it was enabled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct ExportedDr {
    pub frame_account: String,
    pub target: DrTarget,
}

/// A retention count: the account's (`volume_id` `None`) or one volume's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct ExportedRetention {
    pub volume_id: Option<String>,
    pub keep: u32,
}

/// The file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct DrExport {
    pub format: String,
    pub version: u32,
    /// RFC 3339.
    pub exported_at: String,
    pub account: ExportedAccount,
    pub disaster_recovery: Option<ExportedDr>,
    /// The schedule as the administrator last set it (a change waiting for the next day
    /// included); `None`: the account had none.
    pub schedule: Option<SchedulePolicy>,
    pub retention: Vec<ExportedRetention>,
    pub post_session: PostSessionSettings,
    /// `None`: never set (Frame's defaults).
    pub autogrow: Option<AutogrowSettings>,
    /// `None`: not set (derived from the schedule).
    pub target_rpo_hours: Option<u32>,
}

/// The top-level fields, in the file's order; anything else is refused.
const FIELDS: [&str; 10] = [
    "format",
    "version",
    "exported_at",
    "account",
    "disaster_recovery",
    "schedule",
    "retention",
    "post_session",
    "autogrow",
    "target_rpo_hours",
];

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(
        "no cloud account is named {0:?} or has that id: pick one from the list of cloud accounts"
    )]
    NoAccount(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}; choose a folder you can write to")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("the file is not JSON ({0}): choose a file exported by Standby")]
    NotJson(String),
    #[error("the file is not a Standby DR configuration (its format is {0:?}, expected {FORMAT:?}): choose a file made by Export DR configuration")]
    Format(String),
    #[error("the file has no version: choose a file made by Export DR configuration")]
    NoVersion,
    #[error("the file is version {0} of the DR configuration format; this Standby reads version {VERSION}: update Standby to import it")]
    NewerVersion(u64),
    #[error("the file's version is {0}, which this Standby does not know: it reads version {VERSION} of the DR configuration format only")]
    Version(String),
    #[error("the file's {field} is not valid: {why}")]
    Field { field: String, why: String },
    #[error("the file is for {file} cloud accounts and {account} is on {target}: import it onto one of your {file} cloud accounts")]
    Kind {
        file: &'static str,
        account: String,
        target: &'static str,
    },
    #[error("the backup report could not be written: {0}")]
    Csv(String),
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        if let ExportError::Catalog(c) = e {
            return c.into();
        }
        let code = match &e {
            ExportError::NoAccount(_) => ErrorCode::NotFound,
            ExportError::Read { .. } | ExportError::Write { .. } | ExportError::Csv(_) => {
                ErrorCode::Storage
            }
            _ => ErrorCode::InvalidInput,
        };
        ApiError::new(code, e.to_string())
    }
}

fn kind_word(k: ProviderKind) -> &'static str {
    match k {
        ProviderKind::Ahv => "AHV",
        ProviderKind::Azure => "Azure",
    }
}

// ---- export -------------------------------------------------------------------------------

/// An account's configuration as exported (`account` by id or name).
pub fn export(c: &Catalog, account: &str, now: DateTime<Utc>) -> Result<DrExport, ExportError> {
    let stored = c
        .find_account(account)?
        .ok_or_else(|| ExportError::NoAccount(account.to_string()))?;
    let id = stored.account.id.clone();
    let settings: AccountSettings = serde_json::from_value(stored.settings)
        .map_err(|e| CatalogError::Corrupt(format!("settings of {}: {e}", stored.account.name)))?;
    let schedule = c.schedule(&id)?.map(|s| {
        let s = s.schedule.settled(now);
        // The administrator's latest word: a change waiting for tomorrow is what they asked for.
        s.pending.map(|p| p.policy).unwrap_or(s.in_force)
    });
    let retention = c
        .policies::<RetentionPolicy>(&id, retention::POLICY_KIND)?
        .into_iter()
        .map(|(scope, p)| ExportedRetention {
            volume_id: (!scope.is_empty()).then_some(scope),
            keep: p.keep,
        })
        .collect();
    let rpo = timeline::target_rpo(c, &id, now)?;
    Ok(DrExport {
        format: FORMAT.to_string(),
        version: VERSION,
        exported_at: now.to_rfc3339(),
        account: ExportedAccount {
            name: stored.account.name,
            kind: stored.account.kind,
            settings,
        },
        disaster_recovery: c.dr_config(&id)?.map(|d| ExportedDr {
            frame_account: d.frame_account,
            target: d.target,
        }),
        schedule,
        retention,
        post_session: post_session::settings(c, &id)?,
        autogrow: c.policy(&id, autogrow::POLICY_KIND, "")?,
        target_rpo_hours: (rpo.source == timeline::RpoSource::Set).then_some(rpo.hours),
    })
}

/// Writes `bytes` to `path` through a temporary file beside it, so a failed write never leaves
/// half a file under the name the administrator chose.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let err = |source| ExportError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    let part = std::path::PathBuf::from(part);
    std::fs::write(&part, bytes).map_err(err)?;
    std::fs::rename(&part, path).map_err(|e| {
        let _ = std::fs::remove_file(&part);
        err(e)
    })
}

/// Exports an account's configuration to `path` (pretty JSON) and returns what was written.
pub fn export_to(
    c: &Catalog,
    account: &str,
    now: DateTime<Utc>,
    path: &Path,
) -> Result<DrExport, ExportError> {
    let e = export(c, account, now)?;
    let mut json = serde_json::to_vec_pretty(&e).expect("an export serialises");
    json.push(b'\n');
    write_file(path, &json)?;
    Ok(e)
}

// ---- import -------------------------------------------------------------------------------

/// How the file's DR configuration compares with the account's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DrComparison {
    /// The file has none: nothing to do.
    NotInFile,
    /// The account has the same.
    Same,
    /// The account has none: enable DR with the wizard, started from `wanted`.
    Missing { wanted: ExportedDr },
    /// The account has another: what differs, in words, for the wizard to show.
    Different {
        wanted: ExportedDr,
        current: ExportedDr,
        differences: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ImportOutcome {
    pub account_id: String,
    pub account_name: String,
    /// What was applied, in words.
    pub applied: Vec<String>,
    /// What was not, and why.
    pub not_applied: Vec<String>,
    /// Never applied by the import (module docs): what the Enable DR wizard should do, if anything.
    pub disaster_recovery: DrComparison,
}

fn field(name: &str, why: impl std::fmt::Display) -> ExportError {
    ExportError::Field {
        field: name.to_string(),
        why: why.to_string(),
    }
}

fn section<T: serde::de::DeserializeOwned>(
    obj: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<T, ExportError> {
    let v = obj.get(name).cloned().unwrap_or(serde_json::Value::Null);
    serde_json::from_value(v).map_err(|e| field(name, e))
}

/// Reads and checks a file's text: format and version first (so that another file or a newer
/// Standby's gets a message that says so), then every field.
pub fn parse(text: &str) -> Result<DrExport, ExportError> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ExportError::NotJson(e.to_string()))?;
    let obj = v
        .as_object()
        .ok_or_else(|| ExportError::NotJson("it is not a JSON object".into()))?;
    match obj.get("format") {
        Some(serde_json::Value::String(f)) if f == FORMAT => {}
        Some(other) => {
            return Err(ExportError::Format(
                other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_string),
            ))
        }
        None => return Err(ExportError::Format(String::new())),
    }
    match obj.get("version") {
        None | Some(serde_json::Value::Null) => return Err(ExportError::NoVersion),
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(VERSION)) => {}
        Some(serde_json::Value::Number(n)) if n.as_u64().is_some_and(|n| n > 1) => {
            return Err(ExportError::NewerVersion(n.as_u64().unwrap_or_default()))
        }
        Some(other) => return Err(ExportError::Version(other.to_string())),
    }
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(field(
            unknown,
            "this version of the format has no such field; remove it or export the file again",
        ));
    }
    let exported_at: String = section(obj, "exported_at")?;
    DateTime::parse_from_rfc3339(&exported_at).map_err(|_| {
        field(
            "exported_at",
            "give an instant such as 2026-11-22T10:00:00Z",
        )
    })?;
    let account: ExportedAccount = section(obj, "account")?;
    let settings_kind = match account.settings {
        AccountSettings::Ahv(_) => ProviderKind::Ahv,
        AccountSettings::Azure(_) => ProviderKind::Azure,
    };
    if settings_kind != account.kind {
        return Err(field(
            "account.settings",
            format!(
                "they are {} settings for a {} account",
                kind_word(settings_kind),
                kind_word(account.kind)
            ),
        ));
    }
    let disaster_recovery: Option<ExportedDr> = section(obj, "disaster_recovery")?;
    if let Some(d) = &disaster_recovery {
        if d.frame_account.trim().is_empty() {
            return Err(field(
                "disaster_recovery.frame_account",
                "name the Frame account",
            ));
        }
        let target_kind = match d.target {
            DrTarget::Ahv { .. } => ProviderKind::Ahv,
            DrTarget::Azure { .. } => ProviderKind::Azure,
        };
        if target_kind != account.kind {
            return Err(field(
                "disaster_recovery.target",
                format!(
                    "an {} target cannot protect a {} account",
                    kind_word(target_kind),
                    kind_word(account.kind)
                ),
            ));
        }
    }
    let schedule: Option<SchedulePolicy> = section(obj, "schedule")?;
    if let Some(s) = &schedule {
        s.check().map_err(|e| field("schedule", e))?;
    }
    let retention: Vec<ExportedRetention> = section(obj, "retention")?;
    for r in &retention {
        if r.keep == 0 || r.keep > MAX_KEEP {
            let which = r
                .volume_id
                .as_deref()
                .map_or_else(|| "the account".to_string(), |v| format!("volume {v}"));
            return Err(field(
                "retention",
                format!(
                    "the number kept for {which} must be between 1 and {MAX_KEEP}, not {}",
                    r.keep
                ),
            ));
        }
        if r.volume_id.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(field(
                "retention",
                "a volume id is empty; leave it out for the account's count",
            ));
        }
    }
    let post_session: PostSessionSettings = section(obj, "post_session")?;
    if post_session
        .frame_account
        .as_deref()
        .is_some_and(|f| f.trim().is_empty())
    {
        return Err(field(
            "post_session.frame_account",
            "name the Frame account or leave it out",
        ));
    }
    let autogrow: Option<AutogrowSettings> = section(obj, "autogrow")?;
    if let Some(a) = &autogrow {
        a.validate().map_err(|e| field("autogrow", e))?;
    }
    let target_rpo_hours: Option<u32> = section(obj, "target_rpo_hours")?;
    if let Some(h) = target_rpo_hours {
        if h == 0 || h > MAX_RPO_HOURS {
            return Err(field(
                "target_rpo_hours",
                format!("it must be between 1 and {MAX_RPO_HOURS} hours, not {h}"),
            ));
        }
    }
    Ok(DrExport {
        format: FORMAT.to_string(),
        version: VERSION,
        exported_at,
        account,
        disaster_recovery,
        schedule,
        retention,
        post_session,
        autogrow,
        target_rpo_hours,
    })
}

/// What differs between two DR configurations, in words (ids that only one catalog knows, such
/// as the secondary account's id, are not compared: its name is).
fn differences(wanted: &ExportedDr, current: &ExportedDr) -> Vec<String> {
    let mut out = Vec::new();
    let mut cmp = |what: &str, a: &str, b: &str| {
        if a != b {
            out.push(format!("{what}: {b:?} here, {a:?} in the file"));
        }
    };
    cmp(
        "Frame account",
        &wanted.frame_account,
        &current.frame_account,
    );
    match (&wanted.target, &current.target) {
        (
            DrTarget::Ahv {
                secondary_account_name: a_sec,
                site_on_primary: a_sp,
                site_on_secondary: a_ss,
                mappings: a_m,
                protection_domain: a_pd,
                ..
            },
            DrTarget::Ahv {
                secondary_account_name: b_sec,
                site_on_primary: b_sp,
                site_on_secondary: b_ss,
                mappings: b_m,
                protection_domain: b_pd,
                ..
            },
        ) => {
            cmp("secondary cluster", a_sec, b_sec);
            cmp("remote site on the primary", a_sp, b_sp);
            cmp("remote site on the secondary", a_ss, b_ss);
            cmp("protection domain", a_pd, b_pd);
            let words = |m: &[crate::providers::prism::setup::VstoreMapping]| {
                m.iter()
                    .map(|m| format!("{} -> {}", m.source, m.destination))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            cmp("vStore mappings", &words(a_m), &words(b_m));
        }
        (
            DrTarget::Azure {
                secondary_region: a_r,
                secondary_resource_group: a_g,
            },
            DrTarget::Azure {
                secondary_region: b_r,
                secondary_resource_group: b_g,
            },
        ) => {
            cmp("secondary region", a_r, b_r);
            cmp("secondary resource group", a_g, b_g);
        }
        _ => out.push("the kind of DR target differs".to_string()),
    }
    out
}

/// Imports a file's text onto an account (by id or name): checks everything, then applies the
/// policies with the audit log, and says how the file's DR configuration compares (module docs).
pub fn import(
    c: &Catalog,
    clock: &dyn Clock,
    account: &str,
    text: &str,
    actor: &str,
) -> Result<ImportOutcome, ExportError> {
    let file = parse(text)?;
    let acc = c
        .find_account(account)?
        .ok_or_else(|| ExportError::NoAccount(account.to_string()))?
        .account;
    if acc.kind != file.account.kind {
        return Err(ExportError::Kind {
            file: kind_word(file.account.kind),
            account: acc.name.clone(),
            target: kind_word(acc.kind),
        });
    }
    let id = acc.id.clone();
    let now = clock.now();
    let at = now.to_rfc3339();
    let mut applied = Vec::new();
    let mut not_applied = Vec::new();
    let record = |action: &str, detail: serde_json::Value| {
        audit::record(
            c,
            clock,
            &NewAuditEntry::new(actor, action)
                .account(id.clone())
                .detail(detail),
        )
    };

    match &file.schedule {
        Some(policy) => {
            let schedule = match c.schedule(&id)? {
                Some(old) => old.schedule.change(policy.clone(), now),
                None => Schedule::new(policy.clone(), now),
            }
            .map_err(|e| field("schedule", e))?;
            c.set_schedule(&id, &schedule, &at)?;
            record(
                "schedule.set",
                serde_json::json!({ "policy": policy, "source": "import" }),
            )?;
            applied.push(match schedule.pending {
                Some(p) => format!(
                    "schedule (in force from {}, the next day of the schedule in force)",
                    p.effective_date
                ),
                None => "schedule".to_string(),
            });
        }
        None => not_applied
            .push("schedule: the file has none; the account's was left as it was".to_string()),
    }

    // A volume's count applies only where that volume is known: volume ids are the provider's,
    // so they match on the account the file came from (or a catalog rebuilt for it), not another.
    let known: std::collections::HashSet<String> = c
        .known_volumes(&id, None, true)?
        .into_iter()
        .map(|v| v.resource.provider_id)
        .collect();
    for r in &file.retention {
        match &r.volume_id {
            None => {
                c.set_policy(&id, retention::POLICY_KIND, "", &RetentionPolicy { keep: r.keep }, &at)?;
                record("retention.set", serde_json::json!({ "keep": r.keep, "source": "import" }))?;
                applied.push(format!("retention: keep {} per volume", r.keep));
            }
            Some(v) if known.contains(v) => {
                c.set_policy(&id, retention::POLICY_KIND, v, &RetentionPolicy { keep: r.keep }, &at)?;
                record(
                    "retention.set",
                    serde_json::json!({ "keep": r.keep, "volume_id": v, "source": "import" }),
                )?;
                applied.push(format!("retention of volume {v}: keep {}", r.keep));
            }
            Some(v) => not_applied.push(format!(
                "retention of volume {v}: this account has no such volume (discover its resources, then import again)"
            )),
        }
    }

    let changes: Vec<_> = post_session::KINDS
        .into_iter()
        .map(|k| (k, file.post_session.enabled.contains(&k)))
        .collect();
    let ps = post_session::set(
        c,
        &id,
        file.post_session.frame_account.as_deref(),
        &changes,
        &at,
    )?;
    record(
        "post_session.set",
        serde_json::json!({ "settings": ps, "source": "import" }),
    )?;
    applied.push("post-session backups".to_string());

    match &file.autogrow {
        Some(a) => {
            c.set_policy(&id, autogrow::POLICY_KIND, "", a, &at)?;
            record(
                "autogrow.set",
                serde_json::json!({ "settings": a, "source": "import" }),
            )?;
            applied.push("autogrow".to_string());
        }
        None => not_applied.push(
            "autogrow: the file has Frame's defaults; the account's were left as they were"
                .to_string(),
        ),
    }

    match file.target_rpo_hours {
        Some(h) => {
            timeline::set_target_rpo(c, clock, &id, h, actor).map_err(|e| match e {
                timeline::TimelineError::Catalog(e) => ExportError::Catalog(e),
                other => field("target_rpo_hours", other),
            })?;
            applied.push(format!("target RPO: {h} hours"));
        }
        None => not_applied.push(
            "target RPO: the file has none set; the account's was left as it was".to_string(),
        ),
    }

    let current = c.dr_config(&id)?.map(|d| ExportedDr {
        frame_account: d.frame_account,
        target: d.target,
    });
    let disaster_recovery = match (file.disaster_recovery, current) {
        (None, _) => DrComparison::NotInFile,
        (Some(wanted), None) => DrComparison::Missing { wanted },
        (Some(wanted), Some(current)) => {
            let differences = differences(&wanted, &current);
            if differences.is_empty() {
                DrComparison::Same
            } else {
                DrComparison::Different {
                    wanted,
                    current,
                    differences,
                }
            }
        }
    };
    record(
        "dr_config.import",
        serde_json::json!({
            "from_account": file.account.name,
            "exported_at": file.exported_at,
            "applied": applied,
            "not_applied": not_applied,
        }),
    )?;
    Ok(ImportOutcome {
        account_id: id,
        account_name: acc.name,
        applied,
        not_applied,
        disaster_recovery,
    })
}

/// [`import`] from a file.
pub fn import_from(
    c: &Catalog,
    clock: &dyn Clock,
    account: &str,
    path: &Path,
    actor: &str,
) -> Result<ImportOutcome, ExportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ExportError::Read {
        path: path.display().to_string(),
        source,
    })?;
    import(c, clock, account, &text, actor)
}

// ---- the backup report --------------------------------------------------------------------

/// The report's columns, in order.
pub const REPORT_COLUMNS: [&str; 11] = [
    "account",
    "frame account",
    "volume",
    "backup name",
    "kind",
    "site",
    "state",
    "created",
    "expires",
    "replica of",
    "error",
];

/// Writes the CSV report of an account's backups (by id or name; optionally one volume, by id
/// or name), newest first, and returns the number of rows.
pub fn backup_report<W: Write>(
    c: &Catalog,
    account: &str,
    volume: Option<&str>,
    out: W,
) -> Result<usize, ExportError> {
    let acc = c
        .find_account(account)?
        .ok_or_else(|| ExportError::NoAccount(account.to_string()))?
        .account;
    let volume = volume.map(str::trim).filter(|v| !v.is_empty());
    let rows = c.list_backups(Some(&acc.id), volume)?;
    let expiries = c.backup_expiries(&acc.id)?;
    let csv_err = |e: csv::Error| ExportError::Csv(e.to_string());
    let mut w = csv::Writer::from_writer(out);
    w.write_record(REPORT_COLUMNS).map_err(csv_err)?;
    for b in &rows {
        w.write_record([
            acc.name.as_str(),
            &b.frame_account,
            &b.volume_name,
            &b.name,
            b.kind.as_str(),
            b.site.as_str(),
            b.state.as_str(),
            &b.created_at,
            expiries.get(&b.id).map_or("", String::as_str),
            b.replica_of.as_deref().unwrap_or(""),
            b.error.as_deref().unwrap_or(""),
        ])
        .map_err(csv_err)?;
    }
    w.flush().map_err(|e| ExportError::Csv(e.to_string()))?;
    Ok(rows.len())
}

/// [`backup_report`] to a file.
pub fn backup_report_to(
    c: &Catalog,
    account: &str,
    volume: Option<&str>,
    path: &Path,
) -> Result<usize, ExportError> {
    let mut buf = Vec::new();
    let n = backup_report(c, account, volume, &mut buf)?;
    write_file(path, &buf)?;
    Ok(n)
}
