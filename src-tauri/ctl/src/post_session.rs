//! `standbyctl post-session ...`: backups after a user's session closes, per kind of resource.

use clap::Subcommand;
use standby_core::accounts::Accounts;
use standby_core::catalog::Catalog;
use standby_core::inventory::ResourceKind;
use standby_core::paths::DataPaths;
use standby_core::post_session::{self, parse_kind, KINDS};
use standby_core::secrets::Keyring;

#[derive(Subcommand)]
pub enum PostSessionCommand {
    /// Switch post-session backups on or off per kind (the scheduler, in the app or `standbyctl
    /// serve`, watches sessions through the account's guest agent).
    Set {
        /// The cloud account (name or id).
        account: String,
        /// The Frame account whose sessions are watched (needed the first time).
        #[arg(long)]
        frame_account: Option<String>,
        /// Kinds to switch on: desktops, profiles, drives, sandbox, utility-servers (repeatable
        /// or comma-separated).
        #[arg(long, value_delimiter = ',', value_name = "KIND")]
        on: Vec<String>,
        /// Kinds to switch off.
        #[arg(long, value_delimiter = ',', value_name = "KIND")]
        off: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show which kinds are backed up after a session.
    Show {
        account: String,
        #[arg(long)]
        json: bool,
    },
}

fn kinds(words: &[String], on: bool) -> anyhow::Result<Vec<(ResourceKind, bool)>> {
    words
        .iter()
        .map(|w| {
            parse_kind(w).map(|k| (k, on)).ok_or_else(|| {
                anyhow::anyhow!(
                    "{w:?} is not a kind: use desktops, profiles, drives, sandbox or utility-servers"
                )
            })
        })
        .collect()
}

pub fn run(cmd: PostSessionCommand, paths: &DataPaths) -> anyhow::Result<()> {
    let catalog = Catalog::open(&paths.catalog)?;
    let (account, json, settings) = match cmd {
        PostSessionCommand::Set {
            account,
            frame_account,
            on,
            off,
            json,
        } => {
            let mut changes = kinds(&on, true)?;
            changes.extend(kinds(&off, false)?);
            let (acc, _) = Accounts {
                catalog: &catalog,
                store: &Keyring,
            }
            .settings(&account)?;
            if frame_account.is_none()
                && post_session::target(&catalog, &acc.id)?.is_none()
                && changes.iter().any(|(_, on)| *on)
            {
                anyhow::bail!("give --frame-account: post-session backups need the Frame account whose sessions are watched");
            }
            let at = chrono::Utc::now().to_rfc3339();
            let s = post_session::set(&catalog, &acc.id, frame_account.as_deref(), &changes, &at)?;
            standby_core::audit::record(
                &catalog,
                &standby_core::clock::SystemClock,
                &standby_core::audit::NewAuditEntry::new(crate::audit::actor(), "post_session.set")
                    .account(acc.id.clone())
                    .detail(serde_json::to_value(&s)?),
            )?;
            (acc.name, json, s)
        }
        PostSessionCommand::Show { account, json } => {
            let (acc, _) = Accounts {
                catalog: &catalog,
                store: &Keyring,
            }
            .settings(&account)?;
            let s = post_session::settings(&catalog, &acc.id)?;
            (acc.name, json, s)
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&settings)?);
        return Ok(());
    }
    println!(
        "{account}: Frame account {}",
        settings.frame_account.as_deref().unwrap_or("(not set)")
    );
    for k in KINDS {
        println!(
            "  {:<20} {}",
            post_session::scope(k),
            if settings.enabled.contains(&k) {
                "on"
            } else {
                "off"
            }
        );
    }
    Ok(())
}
