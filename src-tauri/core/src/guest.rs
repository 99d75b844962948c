//! What only the inside of a desktop knows: who is in session, and how much free space each
//! volume has. Neither Prism nor Resource Manager reports these, so Standby reads them from a guest
//! agent that speaks a small documented protocol (docs/guest-agent.md). The lab serves it for its
//! simulated desktops; in a real deployment a collector fed by Frame's session events and the
//! guest's volume statistics would serve the same shape (not part of Standby).
//!
//! An account without a guest agent is not guessed at: sessions and free space are `unknown`, and
//! the rules that need them say so (a running desktop is then not powered off for a scheduled
//! backup, autogrow does nothing).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError};
use crate::inventory::DiscoveredResource;
use crate::providers::azure::ids;

pub const TIMEOUT: Duration = Duration::from_secs(15);

/// One volume as the guest agent reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct GuestVolume {
    /// The provider's id of the volume: a VM uuid, a volume group uuid, an ARM disk id.
    pub id: String,
    pub name: String,
    /// The VM it is part of or attached to.
    #[serde(default)]
    pub vm: Option<String>,
    /// Whether that VM is running; `None` when the volume is attached to nothing.
    #[serde(default)]
    pub power_on: Option<bool>,
    /// The Frame user in session on that VM.
    #[serde(default)]
    pub session_user: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<f64>,
    #[serde(default)]
    pub free_bytes: Option<f64>,
}

/// One reading of an account's guest agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct GuestReport {
    /// Who answered (the agent's own words).
    pub source: String,
    pub volumes: Vec<GuestVolume>,
}

impl GuestReport {
    /// The guest's view of a discovered resource: by provider id (ARM ids compare without case or
    /// leading slash), else by name.
    pub fn volume(&self, r: &DiscoveredResource) -> Option<&GuestVolume> {
        self.volumes
            .iter()
            .find(|v| ids::same(&v.id, &r.provider_id))
            .or_else(|| {
                self.volumes
                    .iter()
                    .find(|v| v.name.eq_ignore_ascii_case(&r.name))
            })
    }
}

/// What is known of a volume's guest, for the rules that depend on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Session {
    /// Nobody is in session.
    None,
    InSession {
        user: String,
    },
    /// No guest agent for the account, or it did not answer, or it does not know this volume.
    Unknown {
        why: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("the guest agent at {url} is not a usable address: {detail}")]
    BadUrl { url: String, detail: String },
    #[error("the guest agent at {url} did not answer: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the guest agent at {url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("the guest agent at {url} answered something Standby cannot read: {detail}")]
    Decode { url: String, detail: String },
}

impl From<GuestError> for crate::ApiError {
    fn from(e: GuestError) -> Self {
        let code = match &e {
            GuestError::Catalog(_) => crate::ErrorCode::Storage,
            GuestError::BadUrl { .. } => crate::ErrorCode::InvalidInput,
            _ => crate::ErrorCode::Unavailable,
        };
        crate::ApiError::new(code, e.to_string())
    }
}

/// The guest agent configured for an account, if any.
pub fn configured(catalog: &Catalog, account_id: &str) -> Result<Option<String>, CatalogError> {
    catalog.guest_agent(account_id)
}

/// Checks an address before it is stored: absolute http(s) only.
pub fn check_url(url: &str) -> Result<url::Url, GuestError> {
    let parsed = url::Url::parse(url.trim()).map_err(|e| GuestError::BadUrl {
        url: url.to_string(),
        detail: format!("{e}; give an absolute http:// or https:// address"),
    })?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(GuestError::BadUrl {
            url: url.to_string(),
            detail: format!("the scheme {other:?} is not http or https"),
        }),
    }
}

/// Reads the guest agent at `url` (a GET, retried once: it changes nothing).
pub async fn read(url: &str) -> Result<GuestReport, GuestError> {
    let parsed = check_url(url)?;
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(crate::providers::tls::web_client_config(None).map_err(|e| {
            GuestError::BadUrl {
                url: url.to_string(),
                detail: e.to_string(),
            }
        })?)
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| GuestError::BadUrl {
            url: url.to_string(),
            detail: crate::providers::azure::client::describe_reqwest(&e),
        })?;
    let mut last = None;
    for attempt in 0..2 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        match http.get(parsed.clone()).send().await {
            Ok(resp) => {
                let status = resp.status();
                let body = resp.text().await.map_err(|e| GuestError::Unreachable {
                    url: url.to_string(),
                    detail: crate::providers::azure::client::describe_reqwest(&e),
                })?;
                if !status.is_success() {
                    return Err(GuestError::Status {
                        url: url.to_string(),
                        status: status.as_u16(),
                        body: body.chars().take(300).collect(),
                    });
                }
                return serde_json::from_str(&body).map_err(|e| GuestError::Decode {
                    url: url.to_string(),
                    detail: e.to_string(),
                });
            }
            Err(e) => {
                last = Some(GuestError::Unreachable {
                    url: url.to_string(),
                    detail: crate::providers::azure::client::describe_reqwest(&e),
                })
            }
        }
    }
    Err(last.expect("two attempts were made"))
}

/// Reads the account's guest agent, or says why there is nothing to read. Never fails: a rule
/// that needs the guest treats "unknown" with care rather than stopping the whole operation.
pub async fn read_for(catalog: &crate::catalog::SharedCatalog, account_id: &str) -> Observed {
    let url =
        match catalog.lock().guest_agent(account_id) {
            Ok(Some(u)) => u,
            Ok(None) => return Observed::Unknown(
                "no guest agent is configured for this account (standbyctl account guest-agent)"
                    .into(),
            ),
            Err(e) => return Observed::Unknown(e.to_string()),
        };
    match read(&url).await {
        Ok(r) => Observed::Read(r),
        Err(e) => Observed::Unknown(e.to_string()),
    }
}

/// The outcome of [`read_for`].
#[derive(Debug, Clone)]
pub enum Observed {
    Read(GuestReport),
    Unknown(String),
}

impl Observed {
    pub fn volume(&self, r: &DiscoveredResource) -> Option<&GuestVolume> {
        match self {
            Observed::Read(g) => g.volume(r),
            Observed::Unknown(_) => None,
        }
    }

    /// Who is in session on the VM this resource belongs to.
    pub fn session(&self, r: &DiscoveredResource) -> Session {
        match self {
            Observed::Unknown(why) => Session::Unknown { why: why.clone() },
            Observed::Read(g) => match g.volume(r) {
                None => Session::Unknown {
                    why: format!("the guest agent ({}) does not know {}", g.source, r.name),
                },
                Some(v) => match &v.session_user {
                    Some(u) => Session::InSession { user: u.clone() },
                    None => Session::None,
                },
            },
        }
    }

    /// Free bytes on the volume, when the guest reports them.
    pub fn free_bytes(&self, r: &DiscoveredResource) -> Option<f64> {
        self.volume(r).and_then(|v| v.free_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{PowerState, ResourceKind};

    fn resource(id: &str, name: &str) -> DiscoveredResource {
        DiscoveredResource {
            provider_id: id.into(),
            name: name.into(),
            kind: ResourceKind::PersistentDesktop,
            frame_account: "acme-pd".into(),
            owner: None,
            desktop_state: None,
            size_bytes: 0.0,
            vm_id: None,
            power: Some(PowerState::On),
            power_detail: None,
            location: "westeurope".into(),
            not_protected_reason: None,
        }
    }

    fn report() -> GuestReport {
        serde_json::from_value(serde_json::json!({
            "source": "test agent",
            "volumes": [
                {"id": "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/disks/d1",
                 "name": "d1", "vm": "vm1", "power_on": true, "session_user": "ann@example.com",
                 "size_bytes": 100.0, "free_bytes": 40.0},
                {"id": "u-2", "name": "desk-2", "power_on": false}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn volumes_are_matched_by_id_whatever_the_case_and_slash_then_by_name() {
        let g = Observed::Read(report());
        let by_id = resource(
            "subscriptions/s/resourcegroups/rg/providers/microsoft.compute/disks/D1",
            "other",
        );
        assert_eq!(
            g.session(&by_id),
            Session::InSession {
                user: "ann@example.com".into()
            }
        );
        assert_eq!(g.free_bytes(&by_id), Some(40.0));
        assert_eq!(g.session(&resource("x", "DESK-2")), Session::None);
        assert!(matches!(
            g.session(&resource("x", "nobody")),
            Session::Unknown { .. }
        ));
    }

    #[test]
    fn without_an_agent_everything_is_unknown_with_the_reason() {
        let g = Observed::Unknown("no guest agent".into());
        assert_eq!(
            g.session(&resource("u-2", "desk-2")),
            Session::Unknown {
                why: "no guest agent".into()
            }
        );
        assert_eq!(g.free_bytes(&resource("u-2", "desk-2")), None);
    }

    #[test]
    fn only_http_addresses_are_accepted() {
        assert!(check_url("http://127.0.0.1:7780/_lab/azure/guest-agent").is_ok());
        assert!(matches!(
            check_url("ftp://x/"),
            Err(GuestError::BadUrl { .. })
        ));
        assert!(matches!(
            check_url("not a url"),
            Err(GuestError::BadUrl { .. })
        ));
    }
}
