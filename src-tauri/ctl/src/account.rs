//! `standbyctl account ...`: cloud accounts from the command line. Secrets come from standard
//! input or an environment variable, never from an argument (arguments show up in `ps` and shell
//! history).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use standby_core::accounts::{Accounts, NewAhvAccount, NewAzureAccount};
use standby_core::catalog::Catalog;
use standby_core::paths::DataPaths;
use standby_core::secret::Secret;
use standby_core::secrets::Keyring;

#[derive(Subcommand)]
pub enum AccountCommand {
    /// List cloud accounts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a cluster's TLS certificate (fingerprint, subject, validity) before trusting it.
    Probe {
        /// Cluster address, e.g. 10.1.2.3 or prism.example.com
        address: String,
        #[arg(long, default_value_t = 9440)]
        port: u16,
        #[arg(long)]
        json: bool,
    },
    /// Add a Nutanix Prism Element cluster. The password is read from STANDBY_PASSWORD or standard input.
    AddAhv(AddAhv),
    /// Add an Azure subscription. The client secret is read from STANDBY_CLIENT_SECRET or standard input.
    AddAzure(AddAzure),
    /// Change a cloud account. Only what you name changes. To trust a cluster's new certificate,
    /// check it with `probe`, then pass --trust-fingerprint.
    Edit(EditArgs),
    /// Test a cloud account: reach it, check its certificate and credentials, see what it needs.
    /// Exits with status 1 when a check fails.
    Test {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a cloud account and its keyring entries.
    Remove { name: String },
    /// Set, clear or show where the account's guest agent answers: it reports each volume's
    /// free space and who is in session (docs/guest-agent.md). Without one, autogrow does nothing.
    GuestAgent(GuestAgentArgs),
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["url", "none", "show"])))]
pub struct GuestAgentArgs {
    /// The cloud account (name or id).
    account: String,
    /// The agent's address (http:// or https://); it must answer before it is stored.
    #[arg(long)]
    url: Option<String>,
    /// Forget the account's guest agent.
    #[arg(long)]
    none: bool,
    /// Show the account's guest agent and what it reports now.
    #[arg(long)]
    show: bool,
    /// Store --url without checking that it answers (an agent not running yet).
    #[arg(long)]
    no_check: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct AddAhv {
    #[arg(long)]
    name: String,
    /// Cluster address (host or IP, optionally :port).
    #[arg(long)]
    address: String,
    #[arg(long, default_value = "admin")]
    user: String,
    /// SHA-256 fingerprint of the certificate you checked with `standbyctl account probe`.
    #[arg(long, value_name = "SHA256")]
    trust_fingerprint: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct EditArgs {
    /// The account to change (name or id).
    account: String,
    /// A new name.
    #[arg(long)]
    name: Option<String>,
    /// AHV: a new cluster address (host or IP, optionally :port).
    #[arg(long)]
    address: Option<String>,
    /// AHV: a new Prism user.
    #[arg(long)]
    user: Option<String>,
    /// AHV: read a new password from STANDBY_PASSWORD or standard input.
    #[arg(long)]
    new_password: bool,
    /// AHV: confirm the certificate with this SHA-256 fingerprint (see `standbyctl account probe`).
    #[arg(long, value_name = "SHA256")]
    trust_fingerprint: Option<String>,
    /// Azure: read a new client secret from STANDBY_CLIENT_SECRET or standard input.
    #[arg(long)]
    new_client_secret: bool,
    #[arg(long)]
    tenant: Option<String>,
    #[arg(long)]
    client_id: Option<String>,
    #[arg(long)]
    subscription: Option<String>,
    /// Azure: replaces the resource groups (repeat for several).
    #[arg(long = "resource-group")]
    resource_groups: Vec<String>,
    #[arg(long)]
    region: Option<String>,
    #[arg(long)]
    arm_url: Option<String>,
    #[arg(long)]
    authority_url: Option<String>,
    /// Azure: a PEM file of extra trusted roots (an empty file removes them).
    #[arg(long)]
    ca_file: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct AddAzure {
    #[arg(long)]
    name: String,
    #[arg(long)]
    tenant: String,
    #[arg(long)]
    client_id: String,
    #[arg(long)]
    subscription: String,
    /// Resource group holding the Frame account's disks (repeat for several).
    #[arg(long = "resource-group", required = true)]
    resource_groups: Vec<String>,
    #[arg(long)]
    region: String,
    /// Resource Manager endpoint (sovereign clouds); default: the public cloud.
    #[arg(long)]
    arm_url: Option<String>,
    /// Entra ID authority; default: the public cloud.
    #[arg(long)]
    authority_url: Option<String>,
    /// PEM file of extra trusted root certificates (a TLS-inspecting proxy's).
    #[arg(long)]
    ca_file: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

/// Reads a secret from `env` or, failing that, standard input (one line; not echoed when typed
/// at a terminal is the shell's business: we only read).
fn read_secret(env: &str, what: &str) -> anyhow::Result<Secret> {
    if let Ok(v) = std::env::var(env) {
        if !v.is_empty() {
            return Ok(Secret::new(v));
        }
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{what}: ");
    }
    let mut buf = String::new();
    stdin
        .lock()
        .read_to_string(&mut buf)
        .context("reading standard input")?;
    let line = buf.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        bail!("no {what} given: set {env} or pipe it on standard input (never as an argument)");
    }
    Ok(Secret::new(line))
}

pub fn run(cmd: AccountCommand, paths: &DataPaths) -> anyhow::Result<()> {
    if let AccountCommand::Probe {
        address,
        port,
        json,
    } = &cmd
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let cert = rt.block_on(standby_core::providers::tls::probe(address, *port))?;
        if *json {
            println!("{}", serde_json::to_string_pretty(&cert)?);
        } else {
            println!("subject:     {}", cert.subject);
            println!("issuer:      {}", cert.issuer);
            println!("valid:       {} to {}", cert.not_before, cert.not_after);
            println!("self-signed: {}", cert.self_signed);
            println!(
                "sha256:      {}",
                standby_core::providers::tls::fingerprint_colons(&cert.sha256)
            );
            println!(
                "\nIf this is your cluster's certificate, add it with --trust-fingerprint {}",
                cert.sha256
            );
        }
        return Ok(());
    }
    let catalog = Catalog::open(&paths.catalog)?;
    let accounts = Accounts {
        catalog: &catalog,
        store: &Keyring,
    };
    let now = chrono::Utc::now();
    match cmd {
        AccountCommand::Probe { .. } => unreachable!("handled above"),
        AccountCommand::List { json } => {
            let list = catalog.list_accounts()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("No cloud account yet: add one with `standbyctl account add-ahv` or `add-azure`.");
            } else {
                for a in list {
                    println!("{:<28} {:<6} {}", a.name, a.kind.as_str(), a.endpoint);
                }
            }
        }
        AccountCommand::AddAhv(a) => {
            let password = read_secret("STANDBY_PASSWORD", "Prism password")?;
            let added = accounts.add(
                NewAhvAccount {
                    name: a.name,
                    address: a.address,
                    port: None,
                    username: a.user,
                    password,
                    trusted_sha256: a.trust_fingerprint,
                },
                now,
            )?;
            print_added(&added, a.json)?;
        }
        AccountCommand::AddAzure(a) => {
            let client_secret = read_secret("STANDBY_CLIENT_SECRET", "client secret")?;
            let extra_ca_pem = match &a.ca_file {
                Some(p) => Some(
                    std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?,
                ),
                None => None,
            };
            let added = accounts.add(
                NewAzureAccount {
                    name: a.name,
                    tenant_id: a.tenant,
                    client_id: a.client_id,
                    client_secret,
                    subscription_id: a.subscription,
                    resource_groups: a.resource_groups,
                    primary_region: a.region,
                    arm_url: a.arm_url,
                    authority_url: a.authority_url,
                    extra_ca_pem,
                },
                now,
            )?;
            print_added(&added, a.json)?;
        }
        AccountCommand::Edit(e) => {
            let changes = standby_core::accounts::AccountChanges {
                name: e.name,
                address: e.address,
                port: None,
                username: e.user,
                password: e
                    .new_password
                    .then(|| read_secret("STANDBY_PASSWORD", "new Prism password"))
                    .transpose()?,
                trusted_sha256: e.trust_fingerprint,
                tenant_id: e.tenant,
                client_id: e.client_id,
                client_secret: e
                    .new_client_secret
                    .then(|| read_secret("STANDBY_CLIENT_SECRET", "new client secret"))
                    .transpose()?,
                subscription_id: e.subscription,
                resource_groups: (!e.resource_groups.is_empty()).then_some(e.resource_groups),
                primary_region: e.region,
                arm_url: e.arm_url,
                authority_url: e.authority_url,
                extra_ca_pem: match &e.ca_file {
                    Some(p) => Some(
                        std::fs::read_to_string(p)
                            .with_context(|| format!("reading {}", p.display()))?,
                    ),
                    None => None,
                },
            };
            let edited = accounts.edit(&e.account, changes)?;
            if e.json {
                println!("{}", serde_json::to_string_pretty(&edited)?);
            } else {
                println!(
                    "changed {} ({}), {}",
                    edited.name,
                    edited.kind.as_str(),
                    edited.endpoint
                );
            }
        }
        AccountCommand::Test { name, json } => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let shared = Catalog::open(&paths.catalog)?.shared();
            let health = rt.block_on(standby_core::health::test_account(
                &shared,
                &Keyring,
                &name,
                std::sync::Arc::new(standby_core::clock::SystemClock),
            ))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&health)?);
            } else {
                for c in &health.checks {
                    println!(
                        "{} {:<28} {}",
                        if c.ok { "ok  " } else { "FAIL" },
                        c.name,
                        c.detail
                    );
                }
            }
            if !health.ok {
                bail!("{name} failed its test");
            }
        }
        AccountCommand::Remove { name } => {
            let removed = accounts.remove(&name)?;
            println!("removed {} and its keyring entries", removed.name);
        }
        AccountCommand::GuestAgent(g) => guest_agent(&accounts, g)?,
    }
    Ok(())
}

/// `account guest-agent`: the agent's address is checked (and read once) before it is stored.
fn guest_agent(accounts: &Accounts<'_>, g: GuestAgentArgs) -> anyhow::Result<()> {
    use standby_core::guest;
    let (account, _) = accounts.settings(&g.account)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let read = |url: &str| rt.block_on(guest::read(url));
    let now = chrono::Utc::now();
    let audit = |action: &str, detail: serde_json::Value| {
        accounts.catalog.append_audit(
            &standby_core::audit::NewAuditEntry::new(crate::audit::actor(), action)
                .account(account.id.clone())
                .detail(detail),
            &now.to_rfc3339(),
        )
    };
    if g.show {
        let url = guest::configured(accounts.catalog, &account.id)?;
        let answer = url.as_deref().map(|u| read(u).map_err(|e| e.to_string()));
        if g.json {
            let (report, error) = match answer {
                Some(Ok(r)) => (Some(r), None),
                Some(Err(e)) => (None, Some(e)),
                None => (None, None),
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "account": account.name, "url": url, "report": report, "error": error,
                }))?
            );
        } else {
            match (&url, answer) {
                (None, _) => println!(
                    "{} has no guest agent: free space and sessions are unknown (set one with --url)",
                    account.name
                ),
                (Some(u), Some(Ok(r))) => println!(
                    "{}: {u}\n  answers: {} ({} volumes)",
                    account.name,
                    r.source,
                    r.volumes.len()
                ),
                (Some(u), Some(Err(e))) => {
                    println!("{}: {u}", account.name);
                    bail!("{e}");
                }
                (Some(_), None) => unreachable!("an address was read"),
            }
        }
        return Ok(());
    }
    if g.none {
        accounts
            .catalog
            .set_guest_agent(&account.id, None, &now.to_rfc3339())?;
        audit("guest_agent.set", serde_json::json!({ "url": null }))?;
        if g.json {
            println!(
                "{}",
                serde_json::json!({"account": account.name, "url": null})
            );
        } else {
            println!(
                "{} has no guest agent now: autogrow does nothing and sessions are unknown",
                account.name
            );
        }
        return Ok(());
    }
    let url = g.url.expect("clap requires one of --url, --none, --show");
    let url = guest::check_url(&url)?.to_string();
    let answered = if g.no_check {
        None
    } else {
        Some(read(&url).with_context(|| {
            format!("{url} was not stored; fix the address, or pass --no-check to store it anyway")
        })?)
    };
    accounts
        .catalog
        .set_guest_agent(&account.id, Some(&url), &now.to_rfc3339())?;
    audit("guest_agent.set", serde_json::json!({ "url": url }))?;
    if g.json {
        println!(
            "{}",
            serde_json::json!({"account": account.name, "url": url, "report": answered})
        );
    } else {
        match answered {
            Some(r) => println!(
                "{} reads its guest agent at {url}: {} ({} volumes)",
                account.name,
                r.source,
                r.volumes.len()
            ),
            None => println!(
                "{} reads its guest agent at {url} (not checked)",
                account.name
            ),
        }
    }
    Ok(())
}

fn print_added(a: &standby_core::model::CloudAccount, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(a)?);
    } else {
        println!("added {} ({}), {}", a.name, a.kind.as_str(), a.endpoint);
    }
    Ok(())
}
