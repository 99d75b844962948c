//! `standbyctl lab ...`: run the lab standalone.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use standby_core::paths::DataPaths;
use standby_lab::seed::SeedSize;
use standby_lab::{Lab, LabConfig, LabHandle};

#[derive(Subcommand)]
pub enum LabCommand {
    /// Serve the lab until interrupted, printing its endpoints and the credentials to use.
    Serve(ServeArgs),
}

#[derive(Args)]
pub struct ServeArgs {
    /// How big the seeded Frame account is: small (36 users), large (5,000 users), or a number of users.
    #[arg(long, default_value = "small", value_name = "SIZE")]
    seed: SeedSize,
    /// Where state and certificates persist across restarts [default: <data folder>/lab].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Print the endpoints and credentials as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Listen on random loopback addresses and ports instead of the documented ones (to run
    /// several labs side by side, as the crash test and the benchmark do).
    #[arg(long)]
    random_addresses: bool,
}

pub fn run(cmd: LabCommand, paths: &DataPaths) -> anyhow::Result<()> {
    match cmd {
        LabCommand::Serve(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(serve(args, paths))
        }
    }
}

async fn serve(args: ServeArgs, paths: &DataPaths) -> anyhow::Result<()> {
    let state_dir = args.state_dir.unwrap_or_else(|| paths.data_dir.join("lab"));
    let lab = Lab::start(LabConfig {
        seed: args.seed,
        state_dir: Some(state_dir.clone()),
        fixed_addresses: !args.random_addresses,
        ..LabConfig::default()
    })
    .await
    .with_context(|| format!("cannot start the lab (state in {})", state_dir.display()))?;
    if args.json {
        let mut v = lab.endpoints();
        v["state_dir"] = serde_json::json!(state_dir);
        v["ca_certificate_path"] = serde_json::json!(lab.ca_certificate_path());
        v["seed"] = serde_json::json!(args.seed);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_text(&lab, args.seed, &state_dir);
    }
    wait_for_stop().await?;
    eprintln!("stopping the lab; saving state in {}", state_dir.display());
    lab.shutdown()
        .await
        .context("the lab did not stop cleanly")?;
    Ok(())
}

/// `ab:cd:...`: how certificate dialogs show a fingerprint.
fn colons(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}

fn print_text(lab: &LabHandle, seed: SeedSize, state_dir: &std::path::Path) {
    let a = &lab.azure;
    println!(
        "Standby lab running (seed {}, state in {})",
        format!("{seed:?}").to_lowercase(),
        state_dir.display()
    );
    println!();
    println!("AHV clusters: Prism Element v2.0 over HTTPS with self-signed certificates (confirm the fingerprint)");
    for p in &lab.prism {
        println!(
            "  {:<14} {}   user {}   password {}",
            p.name, p.base_url, p.username, p.password
        );
        println!("  {:<14} SHA-256 {}", "", colons(&p.certificate_sha256));
        println!(
            "  {:<14} replication ports {} and {} on {}",
            "", p.replication_ports[0], p.replication_ports[1], p.ip
        );
    }
    println!();
    println!("Azure: one subscription, two regions");
    println!("  ARM              {}", a.arm_url);
    println!(
        "  authority        {}   (tokens: {}{}/oauth2/v2.0/token)",
        a.authority_url, a.authority_url, a.tenant_id
    );
    println!("  tenant           {}", a.tenant_id);
    println!("  client id        {}", a.client_id);
    println!("  client secret    {}", a.client_secret);
    println!("  subscription     {}", a.subscription_id);
    println!(
        "  resource groups  {} ({}), {} ({})",
        a.resource_group, a.primary_region, a.secondary_resource_group, a.secondary_region
    );
    println!(
        "  regions          primary {}, secondary {}",
        a.primary_region, a.secondary_region
    );
    if let Some(ca) = lab.ca_certificate_path() {
        println!(
            "  CA certificate   {} (trust it as an extra root for ARM and the authority)",
            ca.display()
        );
    }
    println!();
    println!(
        "Control API        {}_lab   (loopback only; see docs/lab.md)",
        lab.control_url
    );
    println!();
    println!(
        "Press Ctrl-C to stop; the state is saved in {}.",
        state_dir.display()
    );
}

async fn wait_for_stop() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")?;
    Ok(())
}
