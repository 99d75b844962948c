//! "Test" on a cloud account: can Standby reach it, is it the system the administrator trusted, do
//! the credentials work, and can it see what it needs. Each check says what to do when it fails.

use serde::{Deserialize, Serialize};

use crate::connect::{AhvAccount, AzureAccount};
use crate::model::Check;
use crate::providers::azure::ArmError;
use crate::providers::prism::PrismError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct AccountHealth {
    pub account_id: String,
    pub ok: bool,
    pub checks: Vec<Check>,
    /// RFC 3339.
    pub tested_at: String,
}

fn check(name: &str, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.to_string(),
        ok,
        detail: detail.into(),
    }
}

fn prism_failure(e: &PrismError) -> Check {
    match e {
        PrismError::CertificateChanged {
            expected, presented, ..
        } => check(
            "Certificate",
            false,
            format!(
                "the cluster now presents another certificate (SHA-256 {presented}, trusted {expected}). \
                 If the cluster's certificate was replaced on purpose, confirm the new one; otherwise \
                 something is answering in its place: do not proceed"
            ),
        ),
        PrismError::Auth { .. } => check(
            "Sign-in",
            false,
            format!("{e}. Check the user name and password (edit the account)"),
        ),
        other => check(
            "Connection",
            false,
            format!("{other}. Check the address, that port 9440 is open from this machine, and that the cluster is up"),
        ),
    }
}

pub async fn test_ahv(a: &AhvAccount, tested_at: chrono::DateTime<chrono::Utc>) -> AccountHealth {
    let mut checks = Vec::new();
    match a.client.cluster().await {
        Ok(cluster) => {
            checks.push(check(
                "Certificate",
                true,
                "the cluster presents the certificate you confirmed",
            ));
            checks.push(check(
                "Sign-in",
                true,
                format!(
                    "signed in as {} to cluster {}{}",
                    a.settings.username,
                    cluster.name,
                    cluster
                        .version
                        .map(|v| format!(" (AOS {v})"))
                        .unwrap_or_default()
                ),
            ));
            match a.client.storage_containers().await {
                Ok(c) => checks.push(check(
                    "Storage containers",
                    !c.is_empty(),
                    if c.is_empty() {
                        "the cluster lists no storage container: the user may lack the rights to see them".to_string()
                    } else {
                        format!("{} storage containers visible", c.len())
                    },
                )),
                Err(e) => checks.push(check("Storage containers", false, e.to_string())),
            }
        }
        Err(e) => checks.push(prism_failure(&e)),
    }
    finish(&a.account.id, checks, tested_at)
}

fn arm_failure(name: &str, e: &ArmError) -> Check {
    let hint = match e {
        ArmError::Auth { .. } => ". Check the tenant, client id and client secret (edit the account); a secret may have expired",
        ArmError::Api { status: 403, .. } => ". Give the app registration a role on the subscription or resource group (e.g. Disk Snapshot Contributor and Virtual Machine Contributor)",
        ArmError::Api { status: 404, .. } => ". Check the subscription and resource group names",
        _ => "",
    };
    check(name, false, format!("{e}{hint}"))
}

pub async fn test_azure(
    a: &AzureAccount,
    tested_at: chrono::DateTime<chrono::Utc>,
) -> AccountHealth {
    let mut checks = Vec::new();
    match a.client.sign_in().await {
        Ok(()) => {
            checks.push(check(
                "Sign-in",
                true,
                format!(
                    "token issued for app {} in tenant {}",
                    a.settings.client_id, a.settings.tenant_id
                ),
            ));
            for rg in &a.settings.resource_groups {
                let name = format!("Resource group {rg}");
                match a.client.list_disks(rg).await {
                    Ok(d) => checks.push(check(
                        &name,
                        true,
                        format!("{} managed disks visible", d.len()),
                    )),
                    Err(e) => checks.push(arm_failure(&name, &e)),
                }
            }
            let name = format!("Usages in {}", a.settings.primary_region);
            match a.client.usages(&a.settings.primary_region).await {
                Ok(u) => checks.push(check(
                    &name,
                    true,
                    format!("{} quota counters readable", u.len()),
                )),
                Err(e) => checks.push(arm_failure(&name, &e)),
            }
        }
        Err(e) => checks.push(arm_failure("Sign-in", &e)),
    }
    finish(&a.account.id, checks, tested_at)
}

fn finish(
    account_id: &str,
    checks: Vec<Check>,
    tested_at: chrono::DateTime<chrono::Utc>,
) -> AccountHealth {
    AccountHealth {
        account_id: account_id.to_string(),
        ok: !checks.is_empty() && checks.iter().all(|c| c.ok),
        checks,
        tested_at: tested_at.to_rfc3339(),
    }
}

/// Tests the account `id_or_name`, whatever its kind. The catalog is locked only while the client
/// is built.
pub async fn test_account(
    catalog: &crate::catalog::SharedCatalog,
    store: &dyn crate::secrets::SecretStore,
    id_or_name: &str,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
) -> Result<AccountHealth, crate::connect::ConnectError> {
    enum Target {
        Ahv(AhvAccount),
        Azure(AzureAccount),
    }
    let target = {
        let c = catalog.lock();
        let accounts = crate::accounts::Accounts { catalog: &c, store };
        match accounts.settings(id_or_name)?.1 {
            crate::accounts::AccountSettings::Ahv(_) => {
                Target::Ahv(crate::connect::ahv(&accounts, id_or_name)?)
            }
            crate::accounts::AccountSettings::Azure(_) => {
                Target::Azure(crate::connect::azure(&accounts, id_or_name, clock.clone())?)
            }
        }
    };
    Ok(match target {
        Target::Ahv(a) => test_ahv(&a, clock.now()).await,
        Target::Azure(a) => test_azure(&a, clock.now()).await,
    })
}
