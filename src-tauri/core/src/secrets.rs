//! Credentials live only in the OS keyring (the Secret Service on Linux). Nothing is ever written
//! to disk instead: when no keyring is available, the caller gets an error that says what to
//! install or unlock.

use crate::secret::Secret;

/// The keyring service name all of Standby's entries are filed under.
pub const SERVICE: &str = "io.standby.console";

/// Which secret: an account's id and the field (`password`, `client-secret`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretKey {
    pub account_id: String,
    pub field: &'static str,
}

impl SecretKey {
    pub fn new(account_id: &str, field: &'static str) -> Self {
        Self {
            account_id: account_id.to_string(),
            field,
        }
    }
    fn user(&self) -> String {
        format!("{}/{}", self.account_id, self.field)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("no system keyring is available ({detail}). Standby keeps passwords and client secrets only in the OS keyring: install and start a Secret Service (on Debian: apt install gnome-keyring, then log in to a desktop session or run `gnome-keyring-daemon --unlock --components=secrets`), then try again")]
    NoKeyring { detail: String },
    #[error("the system keyring is locked: unlock it (log in to your desktop session, or `gnome-keyring-daemon --unlock`), then try again")]
    Locked,
    #[error("the keyring has no {field} for this account: edit the account and enter it again")]
    Missing { field: &'static str },
    #[error("the keyring refused the request: {0}")]
    Other(String),
}

impl From<SecretsError> for crate::ApiError {
    fn from(e: SecretsError) -> Self {
        let code = match e {
            SecretsError::Missing { .. } => crate::ErrorCode::NotFound,
            _ => crate::ErrorCode::Storage,
        };
        crate::ApiError::new(code, e.to_string())
    }
}

pub trait SecretStore: Send + Sync {
    fn put(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretsError>;
    fn get(&self, key: &SecretKey) -> Result<Secret, SecretsError>;
    /// Removing an entry that is not there is not an error.
    fn delete(&self, key: &SecretKey) -> Result<(), SecretsError>;
}

/// The OS keyring, through the `keyring` crate.
#[derive(Debug, Default, Clone, Copy)]
pub struct Keyring;

impl Keyring {
    fn entry(key: &SecretKey) -> Result<keyring::Entry, SecretsError> {
        keyring::Entry::new(SERVICE, &key.user()).map_err(|e| map_err(e, key.field))
    }
}

fn map_err(e: keyring::Error, field: &'static str) -> SecretsError {
    match e {
        keyring::Error::PlatformFailure(inner) => SecretsError::NoKeyring {
            detail: inner.to_string(),
        },
        keyring::Error::NoStorageAccess(_) => SecretsError::Locked,
        keyring::Error::NoEntry => SecretsError::Missing { field },
        other => SecretsError::Other(other.to_string()),
    }
}

impl SecretStore for Keyring {
    fn put(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretsError> {
        Self::entry(key)?
            .set_password(value.expose())
            .map_err(|e| map_err(e, key.field))
    }

    fn get(&self, key: &SecretKey) -> Result<Secret, SecretsError> {
        Self::entry(key)?
            .get_password()
            .map(Secret::new)
            .map_err(|e| map_err(e, key.field))
    }

    fn delete(&self, key: &SecretKey) -> Result<(), SecretsError> {
        match Self::entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_err(e, key.field)),
        }
    }
}

/// A store in memory, for tests of code that needs one (never used by the product). Its values
/// are `Secret`s, so not even a test's `{:?}` prints them.
#[derive(Debug, Default)]
pub struct MemoryStore(parking_lot::Mutex<std::collections::HashMap<String, Secret>>);

impl SecretStore for MemoryStore {
    fn put(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretsError> {
        self.0.lock().insert(key.user(), value.clone());
        Ok(())
    }
    fn get(&self, key: &SecretKey) -> Result<Secret, SecretsError> {
        self.0
            .lock()
            .get(&key.user())
            .cloned()
            .ok_or(SecretsError::Missing { field: key.field })
    }
    fn delete(&self, key: &SecretKey) -> Result<(), SecretsError> {
        self.0.lock().remove(&key.user());
        Ok(())
    }
}

impl MemoryStore {
    pub fn len(&self) -> usize {
        self.0.lock().len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.lock().is_empty()
    }
}
