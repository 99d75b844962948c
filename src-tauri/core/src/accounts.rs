//! Cloud accounts: add, update, remove, and read back with their credentials.
//!
//! The catalog keeps addresses and settings; the password or client secret goes to the OS keyring
//! under the account's id. The two are kept in step: a secret that cannot be stored means no
//! account, and removing an account removes its keyring entries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError, NewAccount};
use crate::model::{CloudAccount, ProviderKind};
use crate::secret::Secret;
use crate::secrets::{SecretKey, SecretStore, SecretsError};

pub const PASSWORD: &str = "password";
pub const CLIENT_SECRET: &str = "client-secret";

pub const DEFAULT_PRISM_PORT: u16 = 9440;
pub const PUBLIC_ARM: &str = "https://management.azure.com";
pub const PUBLIC_AUTHORITY: &str = "https://login.microsoftonline.com";

/// One Prism Element cluster. The password is not here: it is in the keyring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct AhvSettings {
    /// Host name or IP address of the cluster (its virtual IP).
    pub address: String,
    pub port: u16,
    pub username: String,
    /// SHA-256 of the certificate the user confirmed (lower-case hex). Calls go only to a
    /// cluster presenting exactly this certificate.
    pub trusted_sha256: String,
}

impl AhvSettings {
    pub fn base_url(&self) -> String {
        format!("https://{}:{}", self.address, self.port)
    }
}

/// One Azure subscription reached through an app registration. The client secret is in the keyring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct AzureSettings {
    pub tenant_id: String,
    pub client_id: String,
    pub subscription_id: String,
    pub resource_groups: Vec<String>,
    pub primary_region: String,
    /// Resource Manager endpoint (public cloud by default; sovereign clouds and the lab differ).
    pub arm_url: String,
    /// Entra ID authority (token endpoint base).
    pub authority_url: String,
    /// Extra trusted root certificates (PEM) for the endpoints, e.g. a TLS-inspecting proxy's.
    pub extra_ca_pem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccountSettings {
    Ahv(AhvSettings),
    Azure(AzureSettings),
}

impl AccountSettings {
    fn kind(&self) -> ProviderKind {
        match self {
            AccountSettings::Ahv(_) => ProviderKind::Ahv,
            AccountSettings::Azure(_) => ProviderKind::Azure,
        }
    }
    fn endpoint(&self) -> String {
        match self {
            AccountSettings::Ahv(s) => s.base_url(),
            AccountSettings::Azure(s) => {
                format!("{} (subscription {})", s.arm_url, s.subscription_id)
            }
        }
    }
    fn secret_field(&self) -> &'static str {
        match self {
            AccountSettings::Ahv(_) => PASSWORD,
            AccountSettings::Azure(_) => CLIENT_SECRET,
        }
    }
}

/// What the add-account wizard and `standbyctl account add-ahv` send.
#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct NewAhvAccount {
    pub name: String,
    pub address: String,
    pub port: Option<u16>,
    pub username: String,
    pub password: Secret,
    pub trusted_sha256: String,
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct NewAzureAccount {
    pub name: String,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub subscription_id: String,
    pub resource_groups: Vec<String>,
    pub primary_region: String,
    pub arm_url: Option<String>,
    pub authority_url: Option<String>,
    pub extra_ca_pem: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("no cloud account {0:?}: list them with `standbyctl account list`")]
    NotFound(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

impl From<AccountError> for crate::ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(m) => crate::ApiError::new(crate::ErrorCode::InvalidInput, m),
            AccountError::NotFound(_) => {
                crate::ApiError::new(crate::ErrorCode::NotFound, e.to_string())
            }
            AccountError::Catalog(e) => e.into(),
            AccountError::Secrets(e) => e.into(),
        }
    }
}

fn invalid(msg: impl Into<String>) -> AccountError {
    AccountError::Invalid(msg.into())
}

fn check_name(name: &str) -> Result<String, AccountError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid("the account needs a name, e.g. \"AHV Frankfurt\""));
    }
    if name.chars().count() > 80 {
        return Err(invalid(
            "the account name is longer than 80 characters: shorten it",
        ));
    }
    Ok(name.to_string())
}

/// A SHA-256 fingerprint as hex, with or without colons.
pub fn normalise_fingerprint(fp: &str) -> Result<String, AccountError> {
    let hex: String = fp
        .chars()
        .filter(|c| !matches!(c, ':' | ' '))
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(invalid(
            "the certificate fingerprint must be a SHA-256 fingerprint: 64 hexadecimal digits, colons allowed",
        ));
    }
    Ok(hex)
}

fn check_guid(what: &str, v: &str) -> Result<String, AccountError> {
    let v = v.trim();
    uuid::Uuid::parse_str(v)
        .map(|_| v.to_ascii_lowercase())
        .map_err(|_| invalid(format!("the {what} must be a GUID like 00000000-0000-0000-0000-000000000000 (copy it from the Azure portal)")))
}

fn check_url(what: &str, v: &str) -> Result<String, AccountError> {
    let u = url::Url::parse(v.trim())
        .map_err(|e| invalid(format!("the {what} {v:?} is not a URL: {e}")))?;
    if u.scheme() != "https" {
        return Err(invalid(format!("the {what} must use https://")));
    }
    Ok(u.as_str().trim_end_matches('/').to_string())
}

fn ahv_settings(
    address: &str,
    port: Option<u16>,
    username: &str,
    trusted_sha256: &str,
) -> Result<AhvSettings, AccountError> {
    let address = address
        .trim()
        .trim_start_matches("https://")
        .trim_end_matches('/');
    let (host, given_port) = match address.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (
            h.to_string(),
            Some(
                p.parse::<u16>()
                    .map_err(|_| invalid(format!("{p:?} is not a port number")))?,
            ),
        ),
        _ => (address.to_string(), None),
    };
    if host.is_empty() || host.contains('/') || host.contains(' ') {
        return Err(invalid(
            "the cluster address must be a host name or IP address, e.g. 10.1.2.3",
        ));
    }
    if username.trim().is_empty() {
        return Err(invalid("the Prism user name is missing"));
    }
    Ok(AhvSettings {
        address: host,
        port: port.or(given_port).unwrap_or(DEFAULT_PRISM_PORT),
        username: username.trim().to_string(),
        trusted_sha256: normalise_fingerprint(trusted_sha256)?,
    })
}

/// What an add-account request gives: checked, then split into name, settings and secret.
pub trait NewAccountInput {
    fn validate(self) -> Result<(String, AccountSettings, Secret), AccountError>;
}

impl NewAccountInput for NewAhvAccount {
    fn validate(self) -> Result<(String, AccountSettings, Secret), AccountError> {
        let name = check_name(&self.name)?;
        let settings = ahv_settings(
            &self.address,
            self.port,
            &self.username,
            &self.trusted_sha256,
        )?;
        if self.password.is_empty() {
            return Err(invalid("the Prism password is missing"));
        }
        Ok((name, AccountSettings::Ahv(settings), self.password))
    }
}

#[allow(clippy::too_many_arguments)]
fn azure_settings(
    tenant_id: &str,
    client_id: &str,
    subscription_id: &str,
    resource_groups: &[String],
    primary_region: &str,
    arm_url: Option<&str>,
    authority_url: Option<&str>,
    extra_ca_pem: Option<String>,
) -> Result<AzureSettings, AccountError> {
    let resource_groups: Vec<String> = resource_groups
        .iter()
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty())
        .collect();
    if resource_groups.is_empty() {
        return Err(invalid(
            "name at least one resource group that holds the Frame account's disks",
        ));
    }
    let region = primary_region.trim().to_ascii_lowercase().replace(' ', "");
    if region.is_empty() {
        return Err(invalid("the primary region is missing, e.g. westeurope"));
    }
    Ok(AzureSettings {
        tenant_id: check_guid("tenant id", tenant_id)?,
        client_id: check_guid("client id", client_id)?,
        subscription_id: check_guid("subscription id", subscription_id)?,
        resource_groups,
        primary_region: region,
        arm_url: check_url("Resource Manager endpoint", arm_url.unwrap_or(PUBLIC_ARM))?,
        authority_url: check_url("authority", authority_url.unwrap_or(PUBLIC_AUTHORITY))?,
        extra_ca_pem: extra_ca_pem.filter(|p| !p.trim().is_empty()),
    })
}

impl NewAccountInput for NewAzureAccount {
    fn validate(self) -> Result<(String, AccountSettings, Secret), AccountError> {
        let name = check_name(&self.name)?;
        if self.client_secret.is_empty() {
            return Err(invalid("the client secret is missing"));
        }
        let settings = azure_settings(
            &self.tenant_id,
            &self.client_id,
            &self.subscription_id,
            &self.resource_groups,
            &self.primary_region,
            self.arm_url.as_deref(),
            self.authority_url.as_deref(),
            self.extra_ca_pem,
        )?;
        Ok((name, AccountSettings::Azure(settings), self.client_secret))
    }
}

/// What an edit changes; `None` keeps the current value.
#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
pub struct AccountChanges {
    pub name: Option<String>,
    // AHV
    pub address: Option<String>,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Confirms a new certificate (after it was shown to the administrator).
    pub trusted_sha256: Option<String>,
    // Azure
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub subscription_id: Option<String>,
    pub resource_groups: Option<Vec<String>>,
    pub primary_region: Option<String>,
    pub arm_url: Option<String>,
    pub authority_url: Option<String>,
    /// `Some("")` removes the extra roots.
    pub extra_ca_pem: Option<String>,
}

impl AccountChanges {
    fn ahv_fields(&self) -> bool {
        self.address.is_some()
            || self.port.is_some()
            || self.username.is_some()
            || self.password.is_some()
            || self.trusted_sha256.is_some()
    }
    fn azure_fields(&self) -> bool {
        self.tenant_id.is_some()
            || self.client_id.is_some()
            || self.client_secret.is_some()
            || self.subscription_id.is_some()
            || self.resource_groups.is_some()
            || self.primary_region.is_some()
            || self.arm_url.is_some()
            || self.authority_url.is_some()
            || self.extra_ca_pem.is_some()
    }
}

/// The accounts of one catalog, with their secrets in `store`.
pub struct Accounts<'a> {
    pub catalog: &'a Catalog,
    pub store: &'a dyn SecretStore,
}

impl Accounts<'_> {
    /// Adds an AHV or Azure account.
    pub fn add(
        &self,
        new: impl NewAccountInput,
        now: DateTime<Utc>,
    ) -> Result<CloudAccount, AccountError> {
        let (name, settings, secret) = new.validate()?;
        self.insert(&name, settings, &secret, now)
    }

    /// Adds the account, or updates the one of that name (the lab registers itself on every start).
    pub fn upsert(
        &self,
        new: impl NewAccountInput,
        now: DateTime<Utc>,
    ) -> Result<CloudAccount, AccountError> {
        let (name, settings, secret) = new.validate()?;
        self.insert_or_update(&name, settings, &secret, now)
    }

    fn insert(
        &self,
        name: &str,
        settings: AccountSettings,
        secret: &Secret,
        now: DateTime<Utc>,
    ) -> Result<CloudAccount, AccountError> {
        if self.catalog.find_account(name)?.is_some() {
            return Err(CatalogError::DuplicateAccount(name.to_string()).into());
        }
        let account = self.catalog.insert_account(&NewAccount {
            name,
            kind: settings.kind(),
            endpoint: &settings.endpoint(),
            settings: serde_json::to_value(&settings).expect("settings serialise"),
            created_at: now,
        })?;
        // The row exists only if its secret does: undo the row when the keyring refuses.
        if let Err(e) = self.store.put(
            &SecretKey::new(&account.id, settings.secret_field()),
            secret,
        ) {
            if let Err(undo) = self.catalog.delete_account(&account.id) {
                tracing::error!(account = %account.name, "the account was added but its secret was refused, and removing it again failed: {undo}; remove it by hand");
            }
            return Err(e.into());
        }
        Ok(account)
    }

    fn insert_or_update(
        &self,
        name: &str,
        settings: AccountSettings,
        secret: &Secret,
        now: DateTime<Utc>,
    ) -> Result<CloudAccount, AccountError> {
        let Some(existing) = self.catalog.find_account(name)? else {
            return self.insert(name, settings, secret, now);
        };
        if existing.account.kind != settings.kind() {
            return Err(invalid(format!(
                "an account named {name:?} already exists for other infrastructure: rename one of them"
            )));
        }
        self.store.put(
            &SecretKey::new(&existing.account.id, settings.secret_field()),
            secret,
        )?;
        let endpoint = settings.endpoint();
        self.catalog.update_account(
            &existing.account.id,
            &endpoint,
            &serde_json::to_value(&settings).expect("settings serialise"),
        )?;
        Ok(CloudAccount {
            endpoint,
            ..existing.account
        })
    }

    pub fn settings(
        &self,
        id_or_name: &str,
    ) -> Result<(CloudAccount, AccountSettings), AccountError> {
        let stored = self
            .catalog
            .find_account(id_or_name)?
            .ok_or_else(|| AccountError::NotFound(id_or_name.to_string()))?;
        let settings = serde_json::from_value(stored.settings)
            .map_err(|e| CatalogError::Corrupt(format!("settings of {id_or_name}: {e}")))?;
        Ok((stored.account, settings))
    }

    /// The account's settings and its secret from the keyring, to build a client.
    pub fn credentials(
        &self,
        id_or_name: &str,
    ) -> Result<(CloudAccount, AccountSettings, Secret), AccountError> {
        let (account, settings) = self.settings(id_or_name)?;
        let secret = self
            .store
            .get(&SecretKey::new(&account.id, settings.secret_field()))?;
        Ok((account, settings, secret))
    }

    /// Changes an account's settings and, when given, its secret. Everything is validated before
    /// anything is written; the secret is stored before the settings that need it.
    pub fn edit(
        &self,
        id_or_name: &str,
        changes: AccountChanges,
    ) -> Result<CloudAccount, AccountError> {
        let (account, settings) = self.settings(id_or_name)?;
        let name = match &changes.name {
            Some(n) => check_name(n)?,
            None => account.name.clone(),
        };
        let (settings, secret) = match settings {
            AccountSettings::Ahv(s) => {
                if changes.azure_fields() {
                    return Err(invalid(format!("{} is an AHV account: tenant, client, subscription, resource group, region and endpoint settings do not apply", account.name)));
                }
                let merged = ahv_settings(
                    changes
                        .address
                        .as_deref()
                        .unwrap_or(&format!("{}:{}", s.address, s.port)),
                    changes.port,
                    changes.username.as_deref().unwrap_or(&s.username),
                    changes
                        .trusted_sha256
                        .as_deref()
                        .unwrap_or(&s.trusted_sha256),
                )?;
                if changes.password.as_ref().is_some_and(Secret::is_empty) {
                    return Err(invalid("the new password is empty"));
                }
                (AccountSettings::Ahv(merged), changes.password)
            }
            AccountSettings::Azure(s) => {
                if changes.ahv_fields() {
                    return Err(invalid(format!("{} is an Azure account: address, user, password and certificate settings do not apply", account.name)));
                }
                let merged = azure_settings(
                    changes.tenant_id.as_deref().unwrap_or(&s.tenant_id),
                    changes.client_id.as_deref().unwrap_or(&s.client_id),
                    changes
                        .subscription_id
                        .as_deref()
                        .unwrap_or(&s.subscription_id),
                    changes
                        .resource_groups
                        .as_deref()
                        .unwrap_or(&s.resource_groups),
                    changes
                        .primary_region
                        .as_deref()
                        .unwrap_or(&s.primary_region),
                    Some(changes.arm_url.as_deref().unwrap_or(&s.arm_url)),
                    Some(changes.authority_url.as_deref().unwrap_or(&s.authority_url)),
                    match changes.extra_ca_pem {
                        Some(p) => Some(p),
                        None => s.extra_ca_pem.clone(),
                    },
                )?;
                if changes.client_secret.as_ref().is_some_and(Secret::is_empty) {
                    return Err(invalid("the new client secret is empty"));
                }
                (AccountSettings::Azure(merged), changes.client_secret)
            }
        };
        // The keyring first: if it refuses, nothing in the catalog has changed.
        if let Some(secret) = secret {
            self.store.put(
                &SecretKey::new(&account.id, settings.secret_field()),
                &secret,
            )?;
        }
        if name != account.name {
            self.catalog.rename_account(&account.id, &name)?;
        }
        let endpoint = settings.endpoint();
        self.catalog.update_account(
            &account.id,
            &endpoint,
            &serde_json::to_value(&settings).expect("settings serialise"),
        )?;
        Ok(CloudAccount {
            name,
            endpoint,
            ..account
        })
    }

    /// Removes the keyring entries first: an account must not vanish while its secret stays behind.
    pub fn remove(&self, id_or_name: &str) -> Result<CloudAccount, AccountError> {
        let (account, _) = self.settings(id_or_name)?;
        for field in [PASSWORD, CLIENT_SECRET] {
            self.store.delete(&SecretKey::new(&account.id, field))?;
        }
        self.catalog.delete_account(&account.id)?;
        Ok(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MemoryStore;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
    }

    fn ahv(name: &str) -> NewAhvAccount {
        NewAhvAccount {
            name: name.into(),
            address: "10.1.2.3".into(),
            port: None,
            username: "admin".into(),
            password: Secret::new("s3cret-pass"),
            trusted_sha256: "AB:".repeat(31) + "AB",
        }
    }

    fn azure(name: &str) -> NewAzureAccount {
        NewAzureAccount {
            name: name.into(),
            tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            client_secret: Secret::new("client-s3cret"),
            subscription_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".into(),
            resource_groups: vec![" frame-rg ".into(), "".into()],
            primary_region: "West Europe".into(),
            arm_url: None,
            authority_url: None,
            extra_ca_pem: None,
        }
    }

    #[test]
    fn an_ahv_account_keeps_its_password_only_in_the_store() {
        let catalog = Catalog::in_memory().unwrap();
        let store = MemoryStore::default();
        let accounts = Accounts {
            catalog: &catalog,
            store: &store,
        };
        let a = accounts.add(ahv("Frankfurt"), now()).unwrap();
        assert_eq!(a.endpoint, "https://10.1.2.3:9440");
        let stored = catalog.find_account(&a.id).unwrap().unwrap();
        assert!(!stored.settings.to_string().contains("s3cret-pass"));
        assert_eq!(stored.settings["trusted_sha256"], "ab".repeat(32));
        let (_, settings, secret) = accounts.credentials("frankfurt").unwrap();
        assert_eq!(secret.expose(), "s3cret-pass");
        assert!(matches!(
            settings,
            AccountSettings::Ahv(AhvSettings { port: 9440, .. })
        ));
        accounts.remove(&a.id).unwrap();
        assert!(
            store.is_empty(),
            "removing an account removes its keyring entries"
        );
        assert!(catalog.list_accounts().unwrap().is_empty());
    }

    #[test]
    fn an_azure_account_is_normalised_and_defaults_to_the_public_cloud() {
        let catalog = Catalog::in_memory().unwrap();
        let store = MemoryStore::default();
        let accounts = Accounts {
            catalog: &catalog,
            store: &store,
        };
        accounts.add(azure("prod"), now()).unwrap();
        let (_, settings) = accounts.settings("prod").unwrap();
        let AccountSettings::Azure(s) = settings else {
            panic!("not azure")
        };
        assert_eq!(s.resource_groups, ["frame-rg"]);
        assert_eq!(s.primary_region, "westeurope");
        assert_eq!(s.arm_url, PUBLIC_ARM);
        assert_eq!(s.authority_url, PUBLIC_AUTHORITY);
    }

    #[test]
    fn bad_input_is_refused_with_what_to_do_and_nothing_is_kept() {
        let catalog = Catalog::in_memory().unwrap();
        let store = MemoryStore::default();
        let accounts = Accounts {
            catalog: &catalog,
            store: &store,
        };
        let cases: Vec<(NewAhvAccount, &str)> = vec![
            (
                NewAhvAccount {
                    name: " ".into(),
                    ..ahv("x")
                },
                "needs a name",
            ),
            (
                NewAhvAccount {
                    address: "https://10.1.2.3:99999".into(),
                    ..ahv("x")
                },
                "not a port number",
            ),
            (
                NewAhvAccount {
                    password: Secret::new(""),
                    ..ahv("x")
                },
                "password is missing",
            ),
            (
                NewAhvAccount {
                    trusted_sha256: "abc".into(),
                    ..ahv("x")
                },
                "64 hexadecimal digits",
            ),
        ];
        for (input, expected) in cases {
            let err = accounts.add(input, now()).unwrap_err().to_string();
            assert!(err.contains(expected), "{err:?} should say {expected:?}");
        }
        let err = accounts
            .add(
                NewAzureAccount {
                    tenant_id: "contoso".into(),
                    ..azure("x")
                },
                now(),
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("tenant id must be a GUID"), "{err}");
        assert!(catalog.list_accounts().unwrap().is_empty());
        assert!(store.is_empty());
    }

    #[test]
    fn a_duplicate_name_is_a_conflict_and_upsert_updates_in_place() {
        let catalog = Catalog::in_memory().unwrap();
        let store = MemoryStore::default();
        let accounts = Accounts {
            catalog: &catalog,
            store: &store,
        };
        let first = accounts.add(ahv("Lab"), now()).unwrap();
        let err = accounts.add(ahv("lab"), now()).unwrap_err();
        assert!(
            matches!(
                err,
                AccountError::Catalog(CatalogError::DuplicateAccount(_))
            ),
            "{err}"
        );
        let moved = accounts
            .upsert(
                NewAhvAccount {
                    address: "10.9.9.9:9441".into(),
                    ..ahv("Lab")
                },
                now(),
            )
            .unwrap();
        assert_eq!(moved.id, first.id);
        assert_eq!(moved.endpoint, "https://10.9.9.9:9441");
        assert_eq!(catalog.list_accounts().unwrap().len(), 1);
        let err = accounts.upsert(azure("Lab"), now()).unwrap_err();
        assert!(err.to_string().contains("other infrastructure"), "{err}");
    }

    #[test]
    fn an_edit_changes_what_it_names_and_keeps_the_rest() {
        let catalog = Catalog::in_memory().unwrap();
        let store = MemoryStore::default();
        let accounts = Accounts {
            catalog: &catalog,
            store: &store,
        };
        let a = accounts.add(ahv("Frankfurt"), now()).unwrap();
        let new_fp = "cd".repeat(32);
        let edited = accounts
            .edit(
                "frankfurt",
                AccountChanges {
                    name: Some("Frankfurt DC2".into()),
                    trusted_sha256: Some(new_fp.clone()),
                    password: Some(Secret::new("rotated-pass")),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(edited.id, a.id);
        assert_eq!(edited.name, "Frankfurt DC2");
        let (_, settings, secret) = accounts.credentials(&a.id).unwrap();
        let AccountSettings::Ahv(s) = settings else {
            panic!("not AHV")
        };
        assert_eq!(s.trusted_sha256, new_fp);
        assert_eq!(s.address, "10.1.2.3", "unchanged");
        assert_eq!(s.username, "admin", "unchanged");
        assert_eq!(secret.expose(), "rotated-pass");
    }

    #[test]
    fn an_edit_that_does_not_fit_changes_nothing() {
        let catalog = Catalog::in_memory().unwrap();
        let store = MemoryStore::default();
        let accounts = Accounts {
            catalog: &catalog,
            store: &store,
        };
        accounts.add(ahv("Frankfurt"), now()).unwrap();
        accounts.add(azure("prod"), now()).unwrap();
        let before = catalog.find_account("Frankfurt").unwrap().unwrap();
        let bad = [
            AccountChanges {
                tenant_id: Some("x".into()),
                ..Default::default()
            },
            AccountChanges {
                trusted_sha256: Some("nope".into()),
                password: Some(Secret::new("new")),
                ..Default::default()
            },
            AccountChanges {
                name: Some("prod".into()),
                ..Default::default()
            },
        ];
        for change in bad {
            assert!(accounts.edit("Frankfurt", change).is_err());
        }
        assert_eq!(catalog.find_account("Frankfurt").unwrap().unwrap(), before);
        assert_eq!(
            accounts.credentials("Frankfurt").unwrap().2.expose(),
            "s3cret-pass"
        );
        let err = accounts
            .edit(
                "prod",
                AccountChanges {
                    address: Some("10.0.0.1".into()),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("Azure account"), "{err}");
    }

    /// A keyring that refuses everything, like a machine with no Secret Service.
    struct NoKeyring;
    impl SecretStore for NoKeyring {
        fn put(&self, _: &SecretKey, _: &Secret) -> Result<(), SecretsError> {
            Err(SecretsError::NoKeyring {
                detail: "no session bus".into(),
            })
        }
        fn get(&self, _: &SecretKey) -> Result<Secret, SecretsError> {
            Err(SecretsError::NoKeyring {
                detail: "no session bus".into(),
            })
        }
        fn delete(&self, _: &SecretKey) -> Result<(), SecretsError> {
            Err(SecretsError::NoKeyring {
                detail: "no session bus".into(),
            })
        }
    }

    #[test]
    fn without_a_keyring_no_account_is_created_and_the_error_says_what_to_install() {
        let catalog = Catalog::in_memory().unwrap();
        let accounts = Accounts {
            catalog: &catalog,
            store: &NoKeyring,
        };
        let err = accounts
            .add(ahv("Frankfurt"), now())
            .unwrap_err()
            .to_string();
        assert!(err.contains("gnome-keyring"), "{err}");
        assert!(
            catalog.list_accounts().unwrap().is_empty(),
            "no half-made account"
        );
    }
}
