//! `standbyctl backup ...`: back up one volume now (Azure or AHV, replicated when DR is on), back
//! up every volume of an account (`backup all`), and list the backups the catalog holds.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use standby_core::accounts::Accounts;
use standby_core::backup::all::{self as backup_all, BackupAllOutcome, BackupAllRequest};
use standby_core::backup::plan::PlannedVolume;
use standby_core::backup::{self, Backup, BackupKind, BackupRequest};
use standby_core::cancel::CancelFlag;
use standby_core::catalog::{Catalog, SharedCatalog};
use standby_core::clock::SystemClock;
use standby_core::disaster_recovery::Report;
use standby_core::inventory::ResourceKind;
use standby_core::limits::Limits;
use standby_core::notifications::NoSink;
use standby_core::paths::DataPaths;
use standby_core::secrets::Keyring;

use crate::progress::{cancel_on_ctrl_c, LineEvery, TerminalProgress};

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Back up one volume now. Azure: an incremental snapshot in its region and, when disaster
    /// recovery is enabled, a replica in the secondary region. AHV: a snapshot of the account's
    /// protection domain (enable DR first), replicated to the secondary cluster. Followed until
    /// usable. Exits 1 if any part failed. Ctrl-C cancels (what was made is kept).
    Create(Create),
    /// Back up every persistent desktop of a Frame account (or other kinds, or named volumes).
    /// Running desktops are powered off for their backup and on again after; desktops whose user
    /// is in session, or whose session cannot be checked, are skipped (the reasons are printed).
    /// Asks for confirmation: pass --yes, or look first with --dry-run. Exits 1 if any volume
    /// failed. Ctrl-C cancels; `standbyctl jobs resume` finishes it later.
    All(All),
    /// List the backups and replicas in the catalog, newest first.
    List(List),
}

#[derive(Args)]
pub struct Create {
    /// The cloud account (name or id), Azure or AHV.
    #[arg(long)]
    account: String,
    /// The Frame account the volume belongs to.
    #[arg(long)]
    frame_account: String,
    /// Azure: the disk's name or ARM id (a VM's name stands for its OS disk). AHV: the VM's or
    /// volume group's name or uuid (see `standbyctl inventory list`).
    #[arg(long)]
    volume: String,
    /// Your name for the backup, e.g. "before the upgrade".
    #[arg(long)]
    name: String,
    /// Print the job's backups (primary, then replica) as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct All {
    /// The cloud account (name or id).
    account: String,
    /// The Frame account whose volumes are backed up.
    #[arg(long)]
    frame_account: String,
    /// Resource kinds, comma separated: persistent-desktop (default), sandbox, utility-server,
    /// enterprise-profile, personal-drive.
    #[arg(long, value_delimiter = ',')]
    kinds: Vec<String>,
    /// Only these volumes (names or provider ids), comma separated.
    #[arg(long, value_delimiter = ',')]
    volumes: Vec<String>,
    /// The backups' name (default: "manual <date time>").
    #[arg(long)]
    name: Option<String>,
    /// Print what would be backed up and what would be skipped, and why; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Confirm: back up everything the plan lists.
    #[arg(long)]
    yes: bool,
    /// How many volumes to work on at once.
    #[arg(long, default_value_t = standby_core::limits::DEFAULT_WORKERS)]
    workers: usize,
    /// Azure: at most this many copies in flight per target region.
    #[arg(long, default_value_t = standby_core::limits::DEFAULT_COPIES_PER_REGION)]
    copies_per_region: usize,
    /// AHV: at most this many Prism tasks in flight per cluster.
    #[arg(long, default_value_t = standby_core::limits::DEFAULT_PRISM_TASKS_PER_CLUSTER)]
    prism_tasks: usize,
    /// Print the outcome as JSON: the job, the plan, the failures and how many volumes were
    /// backed up (list the backups with `standbyctl backup list --job JOB --json`).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct List {
    /// Only this cloud account's backups (name or id).
    #[arg(long)]
    account: Option<String>,
    /// Only this volume's backups (disk name or ARM id).
    #[arg(long)]
    volume: Option<String>,
    /// Only the backups a job made: a `backup` job's, or every volume's of a `backup all` job
    /// (its id is in the output of `standbyctl backup all` and `standbyctl jobs list`).
    #[arg(long)]
    job: Option<String>,
    /// Print them as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: BackupCommand, paths: &DataPaths) -> anyhow::Result<()> {
    let catalog: SharedCatalog = Catalog::open(&paths.catalog)?.shared();
    match cmd {
        BackupCommand::All(a) => all(a, &catalog),
        BackupCommand::List(a) => {
            let account_id = match &a.account {
                Some(name) => {
                    let c = catalog.lock();
                    let accounts = Accounts {
                        catalog: &c,
                        store: &Keyring,
                    };
                    Some(accounts.settings(name)?.0.id)
                }
                None => None,
            };
            let rows = match &a.job {
                None => catalog
                    .lock()
                    .list_backups(account_id.as_deref(), a.volume.as_deref())?,
                Some(job) => of_job(&catalog, job, account_id.as_deref(), a.volume.as_deref())?,
            };
            if a.json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!("No backups yet: take one with `standbyctl backup create`.");
            } else {
                print_rows(&rows);
            }
            Ok(())
        }
        BackupCommand::Create(a) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let req = BackupRequest {
                account: a.account,
                frame_account: a.frame_account,
                volume: a.volume,
                name: a.name,
                kind: BackupKind::Manual,
            };
            let report = Report {
                catalog: &catalog,
                clock: Arc::new(SystemClock),
                sink: &NoSink,
            };
            let terminal = TerminalProgress::new(LineEvery::Percent);
            let cancel = CancelFlag::new();
            let rows = rt
                .block_on(cancel_on_ctrl_c(
                    &cancel,
                    "cancelling: what was made so far is kept",
                    backup::backup_now(&report, &Keyring, terminal.sink(), req, cancel.clone()),
                ))
                .context("the backup did not complete")?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print_rows(&rows);
            }
            Ok(())
        }
    }
}

/// The rows a job made: its own (one volume, or a backup of many volumes on AHV) and its
/// children's (a backup of many volumes on Azure), within the other filters.
fn of_job(
    catalog: &SharedCatalog,
    job: &str,
    account_id: Option<&str>,
    volume: Option<&str>,
) -> anyhow::Result<Vec<Backup>> {
    let c = catalog.lock();
    if c.job(job)?.is_none() {
        anyhow::bail!("no job {job}: see `standbyctl jobs list` for the ids");
    }
    let mut rows = c.backups_of_job(job)?;
    rows.extend(c.backups_of_children(job)?);
    let volume = volume.map(str::to_ascii_lowercase);
    rows.retain(|b| {
        account_id.is_none_or(|a| b.account_id == a)
            && volume.as_deref().is_none_or(|v| {
                b.volume_id.to_ascii_lowercase() == v
                    || b.volume_id.to_ascii_lowercase().ends_with(&format!("/{v}"))
                    || b.volume_name.to_ascii_lowercase() == v
            })
    });
    rows.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    Ok(rows)
}

/// What `backup all --json` prints: the outcome without a row per backup, so that neither the
/// process nor its output grows with two rows per volume (`backup list --job` lists them).
#[derive(serde::Serialize)]
struct AllJson<'a> {
    job_id: Option<&'a str>,
    plan: PlanJson<'a>,
    failures: &'a [standby_core::backup::all::VolumeFailure],
    /// Volumes backed up (and replicated, with DR) by the job.
    backed_up: usize,
    /// The command that lists the job's backups.
    backups: Option<String>,
}

/// A plan as `backup all` prints it. A run's outcome leaves the eligible volumes in the catalog
/// (`backup_all::run_without_rows`): they are read a page at a time as they are printed, so
/// that the plan is never held whole; a dry run's are in its outcome.
#[derive(Clone, Copy)]
struct PlanJson<'a> {
    catalog: &'a SharedCatalog,
    job_id: Option<&'a str>,
    plan: &'a standby_core::backup::plan::BackupPlan,
}

impl PlanJson<'_> {
    /// Each eligible volume, in the plan's order; how many there were.
    fn for_each_eligible(
        &self,
        mut f: impl FnMut(&PlannedVolume) -> anyhow::Result<()>,
    ) -> anyhow::Result<usize> {
        let Some(job) = self.job_id else {
            self.plan.eligible.iter().try_for_each(&mut f)?;
            return Ok(self.plan.eligible.len());
        };
        let (mut after, mut n) = (None, 0);
        loop {
            let page = backup_all::planned_page(self.catalog, job, after)?;
            let Some((last, _)) = page.last() else {
                return Ok(n);
            };
            after = Some(*last);
            n += page.len();
            page.iter().try_for_each(|(_, v)| f(v))?;
        }
    }
}

impl serde::Serialize for PlanJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq, SerializeStruct};
        struct Eligible<'a>(PlanJson<'a>);
        impl serde::Serialize for Eligible<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(None)?;
                let mut failed = None;
                self.0
                    .for_each_eligible(|v| {
                        seq.serialize_element(v).map_err(|e| {
                            let message = e.to_string();
                            failed = Some(e);
                            anyhow::anyhow!(message)
                        })
                    })
                    .map_err(|e| failed.take().unwrap_or_else(|| S::Error::custom(e)))?;
                seq.end()
            }
        }
        let mut m = s.serialize_struct("BackupPlan", 2)?;
        m.serialize_field("eligible", &Eligible(*self))?;
        m.serialize_field("skipped", &self.plan.skipped)?;
        m.end()
    }
}

fn kind_of(word: &str) -> anyhow::Result<ResourceKind> {
    ResourceKind::from_tag(word).ok_or_else(|| {
        anyhow::anyhow!("unknown kind {word:?}: use persistent-desktop, sandbox, utility-server, enterprise-profile or personal-drive")
    })
}

fn all(a: All, catalog: &SharedCatalog) -> anyhow::Result<()> {
    if !a.dry_run && !a.yes {
        return Err(anyhow::Error::new(
            standby_core::backup::BackupError::NotConfirmed,
        ));
    }
    let resource_kinds = a
        .kinds
        .iter()
        .map(|k| kind_of(k))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let actor = crate::audit::actor();
    let req = BackupAllRequest {
        account: a.account,
        frame_account: a.frame_account,
        kind: BackupKind::Manual,
        resource_kinds,
        volumes: a.volumes,
        name: a.name,
        dry_run: a.dry_run,
        actor,
    };
    let limits = Limits::new(a.copies_per_region, a.prism_tasks, a.workers);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = Report {
        catalog,
        clock: Arc::new(SystemClock),
        sink: &NoSink,
    };
    let terminal = TerminalProgress::new(LineEvery::Percent);
    let cancel = CancelFlag::new();
    let out: BackupAllOutcome = rt
        .block_on(cancel_on_ctrl_c(
            &cancel,
            "cancelling: what was made so far is kept; `standbyctl jobs resume` finishes it",
            backup_all::run_without_rows(
                &report,
                &Keyring,
                terminal.sink(),
                &limits,
                req,
                cancel.clone(),
            ),
        ))
        .context("backing up every volume did not complete")?;
    let plan = PlanJson {
        catalog,
        job_id: out.job_id.as_deref(),
        plan: &out.plan,
    };
    let eligible = plan.for_each_eligible(|_| Ok(()))?;
    let backed_up = match out.job_id {
        Some(_) => eligible - out.failures.len(),
        None => 0,
    };
    let list = out
        .job_id
        .as_deref()
        .map(|id| format!("standbyctl backup list --job {id}"));
    if a.json {
        // Written as it is serialised: no second copy of the plan as one string.
        let mut w = std::io::BufWriter::new(std::io::stdout().lock());
        serde_json::to_writer_pretty(
            &mut w,
            &AllJson {
                job_id: out.job_id.as_deref(),
                plan,
                failures: &out.failures,
                backed_up,
                backups: list.as_ref().map(|l| format!("{l} --json")),
            },
        )?;
        writeln!(w)?;
        w.flush()?;
        return Ok(());
    }
    let verb = if out.job_id.is_some() {
        "backed up"
    } else {
        "would be backed up"
    };
    println!("{eligible} volumes {verb}:");
    plan.for_each_eligible(|v| {
        let power = if v.power_cycle {
            "  (running: powered off and on again)"
        } else {
            ""
        };
        println!("  {}{power}", v.volume_name);
        Ok(())
    })?;
    println!("{} skipped:", out.plan.skipped.len());
    for s in &out.plan.skipped {
        println!(
            "  {:<28} {:<16} {}",
            s.volume_name,
            s.reason.as_str(),
            s.message
        );
    }
    if let Some(list) = list {
        println!("{backed_up} volumes backed up; list their backups with `{list}`.");
    }
    Ok(())
}

fn print_rows(rows: &[Backup]) {
    println!(
        "{:<25}  {:<12}  {:<7}  {:<11}  {:>4}  {:<14}  {:<28}  NAME",
        "CREATED", "KIND", "SITE", "STATE", "%", "WHERE", "VOLUME"
    );
    for b in rows {
        println!(
            "{:<25}  {:<12}  {:<7}  {:<11}  {:>4.0}  {:<14}  {:<28}  {}",
            b.created_at,
            b.kind.as_str(),
            b.site.as_str(),
            b.state.as_str(),
            b.percent,
            b.location,
            b.volume_name,
            b.name
        );
        if let Some(e) = &b.error {
            println!("    {e}");
        }
    }
}
