//! Registers the lab's clusters and subscription as cloud accounts, the same way an administrator
//! adds real ones (settings in the catalog, credentials in the keyring). The lab is started by the
//! front door (`standby --lab`); this takes what it printed.
//!
//! The lab's certificates are trusted without asking because Standby generated them itself in
//! this process (or loaded them from its own data folder); a real cluster's certificate is always
//! shown to the user first.

use chrono::{DateTime, Utc};

use crate::accounts::{AccountError, Accounts, NewAhvAccount, NewAzureAccount};
use crate::model::CloudAccount;
use crate::secret::Secret;

pub struct LabCluster {
    pub name: String,
    pub address: String,
    pub port: u16,
    pub username: String,
    pub password: Secret,
    pub certificate_sha256: String,
    /// The lab's simulated guest agent for this cluster (docs/guest-agent.md).
    pub guest_agent_url: String,
}

pub struct LabSubscription {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub subscription_id: String,
    pub resource_groups: Vec<String>,
    pub primary_region: String,
    pub arm_url: String,
    pub authority_url: String,
    pub ca_certificate_pem: String,
    pub guest_agent_url: String,
}

/// The account name a lab object is registered under.
pub fn account_name(lab_object: &str) -> String {
    format!("lab-{lab_object}")
}

/// Adds or refreshes the lab's accounts (addresses, ports and certificates may change between
/// runs when the fixed ports are busy or the lab's state was reset).
pub fn register(
    accounts: &Accounts<'_>,
    clusters: Vec<LabCluster>,
    subscription: LabSubscription,
    now: DateTime<Utc>,
) -> Result<Vec<CloudAccount>, AccountError> {
    let mut out = Vec::new();
    let at = now.to_rfc3339();
    for c in clusters {
        let guest = c.guest_agent_url.clone();
        let account = accounts.upsert(
            NewAhvAccount {
                name: account_name(&c.name),
                address: c.address,
                port: Some(c.port),
                username: c.username,
                password: c.password,
                trusted_sha256: c.certificate_sha256,
            },
            now,
        )?;
        accounts
            .catalog
            .set_guest_agent(&account.id, Some(&guest), &at)?;
        out.push(account);
    }
    let guest = subscription.guest_agent_url.clone();
    let azure = accounts.upsert(
        NewAzureAccount {
            name: account_name("azure"),
            tenant_id: subscription.tenant_id,
            client_id: subscription.client_id,
            client_secret: subscription.client_secret,
            subscription_id: subscription.subscription_id,
            resource_groups: subscription.resource_groups,
            primary_region: subscription.primary_region,
            arm_url: Some(subscription.arm_url),
            authority_url: Some(subscription.authority_url),
            extra_ca_pem: Some(subscription.ca_certificate_pem),
        },
        now,
    )?;
    accounts
        .catalog
        .set_guest_agent(&azure.id, Some(&guest), &at)?;
    out.push(azure);
    Ok(out)
}
