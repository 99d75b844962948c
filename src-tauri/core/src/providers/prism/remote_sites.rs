//! Remote sites: the replication link to another cluster, one per direction.
//!
//! Creating, changing or deleting a site is never blindly repeated: after a failure that may have
//! reached the cluster, the site is read back and the write is sent again only if it did not
//! happen (a site is found by its name, which Prism keeps unique).

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::client::{decode, PrismClient};
use super::error::PrismError;
use super::types::{Collection, DrSnapshot, RemoteSite};

/// The default replication ports of AHV clusters (the Frame DR document's tcp/2009 and tcp/2020).
pub const DEFAULT_PORTS: [u16; 2] = [2009, 2020];

/// A remote site as the wizard fills it in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RemoteSiteSpec {
    pub name: String,
    /// The remote cluster's addresses and replication port (2020 by default).
    pub remote_ip_ports: BTreeMap<String, u16>,
    /// Local container to remote container; several local ones may map to one remote one.
    pub vstore_name_map: BTreeMap<String, String>,
    /// Bytes per second; `None` leaves replication unthrottled.
    #[specta(type = Option<f64>)]
    pub bandwidth_limit_bytes_per_sec: Option<u64>,
    pub compression: bool,
}

impl RemoteSiteSpec {
    fn body(&self) -> Value {
        let mut b = json!({
            "name": self.name,
            "remote_ip_ports": self.remote_ip_ports,
            "vstore_name_map": self.vstore_name_map,
            "compression_enabled": self.compression,
            "capabilities": ["BACKUP", "DISASTER_RECOVERY"],
        });
        match self.bandwidth_limit_bytes_per_sec {
            Some(limit) => {
                b["bandwidth_policy_enabled"] = json!(true);
                b["bandwidth_policy"] = json!({
                    "policy_name": format!("standby-{}", self.name),
                    "default_bandwidth_limit": limit,
                    "bandwidth_configurations": [],
                });
            }
            None => b["bandwidth_policy_enabled"] = json!(false),
        }
        b
    }

    /// Whether `site` already says what this spec asks for.
    fn matches(&self, site: &RemoteSite) -> bool {
        site.remote_ip_ports == self.remote_ip_ports && site.vstore_name_map == self.vstore_name_map
    }
}

/// Snapshots held on a remote site's cluster, with the reason the list may be incomplete.
#[derive(Debug, Clone, Default)]
pub struct RemoteSnapshots {
    pub snapshots: Vec<DrSnapshot>,
    /// E.g. the site is unreachable: then the list is empty for that reason, not because nothing is there.
    pub error: Option<String>,
}

impl PrismClient {
    pub async fn remote_sites(&self) -> Result<Vec<RemoteSite>, PrismError> {
        let c: Collection<RemoteSite> = self.get("remote_sites", &[]).await?;
        Ok(c.entities)
    }

    pub async fn remote_site(&self, name: &str) -> Result<RemoteSite, PrismError> {
        self.get(&format!("remote_sites/{}", seg(name)), &[]).await
    }

    /// `None` when there is no site of that name.
    pub async fn find_remote_site(&self, name: &str) -> Result<Option<RemoteSite>, PrismError> {
        match self.remote_site(name).await {
            Ok(s) => Ok(Some(s)),
            Err(PrismError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn create_remote_site(
        &self,
        spec: &RemoteSiteSpec,
    ) -> Result<RemoteSite, PrismError> {
        let body = spec.body();
        match self.write(Method::POST, "remote_sites", Some(&body)).await {
            Ok(v) => decode(v, "POST remote_sites"),
            Err(e) if e.is_ambiguous() => {
                tracing::warn!(site = %spec.name, error = %e, "remote site creation may have happened; reading it back");
                let op = format!("create remote site {}", spec.name);
                let check = format!("remote site {}", spec.name);
                match self.find_remote_site(&spec.name).await {
                    Err(read) => Err(e.read_back_failed(op, check, read)),
                    Ok(Some(site)) if spec.matches(&site) => Ok(site),
                    Ok(Some(_)) => Err(PrismError::OutcomeUnknown {
                        operation: op,
                        check,
                        cause: format!("a site of that name exists with other settings after: {e}"),
                    }),
                    Ok(None) => {
                        let v = self
                            .write(Method::POST, "remote_sites", Some(&body))
                            .await
                            .map_err(|e| e.outcome_unknown(op, check))?;
                        decode(v, "POST remote_sites")
                    }
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Replaces the site's settings with `spec` (matched by name).
    pub async fn update_remote_site(
        &self,
        spec: &RemoteSiteSpec,
    ) -> Result<RemoteSite, PrismError> {
        let body = spec.body();
        match self.write(Method::PUT, "remote_sites", Some(&body)).await {
            Ok(v) => decode(v, "PUT remote_sites"),
            Err(e) if e.is_ambiguous() => {
                let op = format!("update remote site {}", spec.name);
                let check = format!("the settings of remote site {}", spec.name);
                let site = match self.remote_site(&spec.name).await {
                    Ok(s) => s,
                    Err(read) => return Err(e.read_back_failed(op, check, read)),
                };
                if spec.matches(&site) {
                    Ok(site)
                } else {
                    let v = self
                        .write(Method::PUT, "remote_sites", Some(&body))
                        .await
                        .map_err(|e| e.outcome_unknown(op, check))?;
                    decode(v, "PUT remote_sites")
                }
            }
            Err(e) => Err(e),
        }
    }

    pub async fn delete_remote_site(&self, name: &str) -> Result<(), PrismError> {
        let path = format!("remote_sites/{}", seg(name));
        match self.write(Method::DELETE, &path, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_ambiguous() => {
                let op = format!("delete remote site {name}");
                let check = format!("whether remote site {name} still exists");
                match self.find_remote_site(name).await {
                    Err(read) => Err(e.read_back_failed(op, check, read)),
                    Ok(None) => Ok(()),
                    Ok(Some(_)) => self
                        .write(Method::DELETE, &path, None)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.outcome_unknown(op, check)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Snapshots this cluster's protection domains hold on the site's cluster.
    pub async fn remote_site_snapshots(&self, name: &str) -> Result<RemoteSnapshots, PrismError> {
        let c: Collection<DrSnapshot> = self
            .get(&format!("remote_sites/{}/dr_snapshots", seg(name)), &[])
            .await?;
        Ok(RemoteSnapshots {
            snapshots: c.entities,
            error: c.error_info.and_then(|e| e.message),
        })
    }
}

/// A name as one path segment (names are user-chosen).
pub(crate) fn seg(name: &str) -> String {
    url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
