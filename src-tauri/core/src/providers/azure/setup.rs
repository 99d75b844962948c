//! The backend of the Azure DR wizard: is the secondary region usable for this subscription, and
//! does it have room for the account's replicas and for restoring its disks there?
//!
//! The client is bound to one subscription, so a region it can read usages in belongs to the same
//! cloud account by construction; a region the subscription cannot use answers an error there.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::client::ArmClient;
use super::disks::Disk;
use super::error::ArmError;
use super::ids;
use super::normalize_location;
use crate::inventory::DiscoveredResource;

pub const SNAPSHOTS: &str = "StandardSnapshotCount";

/// One counter of the secondary region against what the account would add to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct QuotaLine {
    /// What an administrator reads (`snapshots`, `Premium SSD managed disks`).
    pub name: String,
    /// ARM's usage code (`StandardSnapshotCount`).
    pub code: String,
    pub current: u32,
    pub limit: u32,
    pub needed: u32,
    pub ok: bool,
    /// The warning, with numbers, when not ok.
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct QuotaCheck {
    pub region: String,
    pub lines: Vec<QuotaLine>,
}

impl QuotaCheck {
    pub fn ok(&self) -> bool {
        self.lines.iter().all(|l| l.ok)
    }
    pub fn warnings(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|l| l.message.clone())
            .collect()
    }
}

/// The whole answer of the region step of the wizard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RegionCheck {
    pub primary: String,
    pub secondary: String,
    /// Blocking: the region cannot be used (same as primary, not available to the subscription).
    pub problems: Vec<String>,
    pub quota: QuotaCheck,
}

impl RegionCheck {
    pub fn usable(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What the account adds to the secondary region, by usage code.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DrNeeds {
    pub by_usage: BTreeMap<String, u32>,
}

/// The usage counter a managed disk of this SKU counts against.
pub fn disk_usage_code(sku: &str) -> Option<&'static str> {
    let s = sku.to_ascii_lowercase();
    if s.starts_with("premium") {
        Some("PremiumDiskCount")
    } else if s.starts_with("standardssd") {
        Some("StandardSSDDiskCount")
    } else if s.starts_with("standard") {
        Some("StandardDiskCount")
    } else {
        None
    }
}

impl DrNeeds {
    /// Each protected resource keeps `replicas_kept` incremental snapshots in the secondary
    /// region (incremental snapshots are Standard storage whatever the disk), and a restore there
    /// makes one disk of its SKU.
    pub fn for_account(
        resources: &[DiscoveredResource],
        disks: &[Disk],
        replicas_kept: u32,
    ) -> Self {
        let mut by_usage = BTreeMap::new();
        for r in resources.iter().filter(|r| r.kind.is_protected()) {
            let n = by_usage.entry(SNAPSHOTS.to_string()).or_insert(0u32);
            *n = n.saturating_add(replicas_kept);
            let sku = disks
                .iter()
                .find(|d| ids::same(&d.id, &r.provider_id))
                .and_then(|d| d.sku_name())
                .and_then(disk_usage_code);
            if let Some(code) = sku {
                let n = by_usage.entry(code.to_string()).or_insert(0u32);
                *n = n.saturating_add(1);
            }
        }
        Self { by_usage }
    }
}

fn noun(code: &str, label: &str) -> String {
    match code {
        SNAPSHOTS => "snapshots".into(),
        "PremiumDiskCount" => "Premium SSD managed disks".into(),
        "StandardSSDDiskCount" => "Standard SSD managed disks".into(),
        "StandardDiskCount" => "Standard HDD managed disks".into(),
        _ if !label.is_empty() => label.to_string(),
        _ => code.to_string(),
    }
}

fn clamp(v: i64) -> u32 {
    v.clamp(0, u32::MAX as i64) as u32
}

impl ArmClient {
    /// Checks the secondary region and its quota for `needs`. Problems that make the region
    /// unusable are listed (not errors); failures to ask Azure are errors.
    pub async fn check_dr_region(
        &self,
        primary: &str,
        secondary: &str,
        needs: &DrNeeds,
    ) -> Result<RegionCheck, ArmError> {
        let (p, s) = (normalize_location(primary), normalize_location(secondary));
        let mut check = RegionCheck {
            primary: p.clone(),
            secondary: s.clone(),
            problems: Vec::new(),
            quota: QuotaCheck {
                region: s.clone(),
                lines: Vec::new(),
            },
        };
        if s.is_empty() {
            check.problems.push("Choose a secondary region.".into());
            return Ok(check);
        }
        if p == s {
            check.problems.push(format!(
                "The secondary region must differ from the primary region ({p})."
            ));
            return Ok(check);
        }
        let usages = match self.usages(&s).await {
            Ok(u) => u,
            Err(ArmError::Api {
                status: 400 | 404,
                code,
                message,
                ..
            }) => {
                check.problems.push(format!(
                    "Region {s} is not available to subscription {}: {code}: {message}",
                    self.subscription_id()
                ));
                return Ok(check);
            }
            Err(e) => return Err(e),
        };
        for (code, needed) in &needs.by_usage {
            let Some(u) = usages.iter().find(|u| u.code().eq_ignore_ascii_case(code)) else {
                check.problems.push(format!(
                    "{s} does not report the usage {code}; check its quota in the Azure portal."
                ));
                continue;
            };
            let (current, limit) = (clamp(u.current_value), clamp(u.limit));
            let ok = current as u64 + *needed as u64 <= limit as u64;
            let what = noun(code, u.label());
            check.quota.lines.push(QuotaLine {
                name: what.clone(),
                code: code.clone(),
                current,
                limit,
                needed: *needed,
                ok,
                message: (!ok).then(|| {
                    format!(
                        "{s}: {current} of {limit} {what} in use; this account needs {needed} more"
                    )
                }),
            });
        }
        Ok(check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::ResourceKind;

    fn resource(id: &str) -> DiscoveredResource {
        DiscoveredResource {
            provider_id: id.into(),
            name: id.into(),
            kind: ResourceKind::PersistentDesktop,
            frame_account: "acme".into(),
            owner: None,
            desktop_state: None,
            size_bytes: 0.0,
            vm_id: None,
            power: None,
            power_detail: None,
            location: "westeurope".into(),
            not_protected_reason: None,
        }
    }

    #[test]
    fn needs_saturate_instead_of_overflowing() {
        let rs = vec![resource("a"), resource("b"), resource("c")];
        let n = DrNeeds::for_account(&rs, &[], u32::MAX);
        assert_eq!(n.by_usage[SNAPSHOTS], u32::MAX);
        let n = DrNeeds::for_account(&rs, &[], 7);
        assert_eq!(n.by_usage[SNAPSHOTS], 21);
    }
}
