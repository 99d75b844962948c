//! Clients for stored cloud accounts: settings from the catalog, the secret from the keyring.
//!
//! Reading happens synchronously and returns owned clients, so that no catalog lock is held across
//! a network call.

use std::sync::Arc;
use std::time::Duration;

use crate::accounts::{AccountError, AccountSettings, Accounts, AhvSettings, AzureSettings};
use crate::clock::Clock;
use crate::model::CloudAccount;
use crate::providers::azure::{ArmClient, ArmConfig, ArmError};
use crate::providers::prism::{PrismClient, PrismConfig, PrismError};

pub const PRISM_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error("{name} is {actual}, not {expected}: choose an {expected} cloud account")]
    WrongKind {
        name: String,
        expected: &'static str,
        actual: &'static str,
    },
    #[error("the address of {name} is not usable: {detail}")]
    BadAddress { name: String, detail: String },
    #[error(transparent)]
    Prism(#[from] PrismError),
    #[error(transparent)]
    Arm(#[from] ArmError),
}

impl From<ConnectError> for crate::ApiError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Account(e) => e.into(),
            ConnectError::Prism(e) => e.into(),
            ConnectError::Arm(e) => e.into(),
            other => crate::ApiError::new(crate::ErrorCode::InvalidInput, other.to_string()),
        }
    }
}

pub struct AhvAccount {
    pub account: CloudAccount,
    pub settings: AhvSettings,
    pub client: PrismClient,
}

pub struct AzureAccount {
    pub account: CloudAccount,
    pub settings: AzureSettings,
    pub client: ArmClient,
}

pub fn ahv(accounts: &Accounts<'_>, id_or_name: &str) -> Result<AhvAccount, ConnectError> {
    let (account, settings, secret) = accounts.credentials(id_or_name)?;
    let AccountSettings::Ahv(settings) = settings else {
        return Err(ConnectError::WrongKind {
            name: account.name,
            expected: "AHV",
            actual: "Azure",
        });
    };
    let base_url = url::Url::parse(&settings.base_url()).map_err(|e| ConnectError::BadAddress {
        name: account.name.clone(),
        detail: e.to_string(),
    })?;
    let client = PrismClient::new(PrismConfig {
        base_url,
        username: settings.username.clone(),
        password: secret,
        pinned_sha256: settings.trusted_sha256.clone(),
        timeout: PRISM_TIMEOUT,
    })?;
    Ok(AhvAccount {
        account,
        settings,
        client,
    })
}

pub fn azure(
    accounts: &Accounts<'_>,
    id_or_name: &str,
    clock: Arc<dyn Clock>,
) -> Result<AzureAccount, ConnectError> {
    let (account, settings, secret) = accounts.credentials(id_or_name)?;
    let AccountSettings::Azure(settings) = settings else {
        return Err(ConnectError::WrongKind {
            name: account.name,
            expected: "Azure",
            actual: "AHV",
        });
    };
    let bad = |e: url::ParseError| ConnectError::BadAddress {
        name: account.name.clone(),
        detail: e.to_string(),
    };
    let mut config = ArmConfig::new(
        settings.tenant_id.clone(),
        settings.client_id.clone(),
        secret,
        settings.subscription_id.clone(),
    );
    config.arm_url = url::Url::parse(&settings.arm_url).map_err(bad)?;
    config.authority_url = url::Url::parse(&settings.authority_url).map_err(bad)?;
    config.extra_ca_pem = settings.extra_ca_pem.clone();
    let client = ArmClient::new(config, clock)?;
    Ok(AzureAccount {
        account,
        settings,
        client,
    })
}
