//! The `mapping_overrides` table: an administrator's corrections to what discovery found, per
//! cloud account and provider id. Discovery applies them every time (see `inventory::discover`).

use rusqlite::params;

use super::{Catalog, CatalogError};
use crate::inventory::{MappingOverride, ResourceKind};

fn kind_tag(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Sandbox => "sandbox",
        ResourceKind::UtilityServer => "utility-server",
        ResourceKind::PersistentDesktop => "persistent-desktop",
        ResourceKind::EnterpriseProfile => "enterprise-profile",
        ResourceKind::PersonalDrive => "personal-drive",
        ResourceKind::TemplateImage => "template-image",
    }
}

impl Catalog {
    pub fn set_mapping_override(
        &self,
        account_id: &str,
        o: &MappingOverride,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), CatalogError> {
        self.conn.execute(
            "INSERT INTO mapping_overrides (account_id, provider_id, kind, owner, exclude, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (account_id, provider_id) DO UPDATE SET kind = ?3, owner = ?4, exclude = ?5, updated_at = ?6",
            params![
                account_id,
                o.provider_id,
                o.kind.map(kind_tag),
                o.owner,
                o.exclude,
                at.to_rfc3339()
            ],
        )?;
        Ok(())
    }

    /// Returns whether there was one.
    pub fn remove_mapping_override(
        &self,
        account_id: &str,
        provider_id: &str,
    ) -> Result<bool, CatalogError> {
        Ok(self.conn.execute(
            "DELETE FROM mapping_overrides WHERE account_id = ?1 AND provider_id = ?2",
            params![account_id, provider_id],
        )? > 0)
    }

    pub fn mapping_overrides(
        &self,
        account_id: &str,
    ) -> Result<Vec<MappingOverride>, CatalogError> {
        let mut stmt = self.conn.prepare(
            "SELECT provider_id, kind, owner, exclude FROM mapping_overrides WHERE account_id = ?1 ORDER BY provider_id",
        )?;
        let rows = stmt.query_map(params![account_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (provider_id, kind, owner, exclude) = row?;
            let kind = match kind {
                Some(k) => Some(ResourceKind::from_tag(&k).ok_or_else(|| {
                    CatalogError::Corrupt(format!("mapping override kind {k:?}"))
                })?),
                None => None,
            };
            Ok(MappingOverride {
                provider_id,
                kind,
                owner,
                exclude,
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::NewAccount;
    use crate::model::ProviderKind;

    #[test]
    fn corrections_are_kept_replaced_removed_and_go_with_their_account() {
        let c = Catalog::in_memory().unwrap();
        let now = chrono::Utc::now();
        let a = c
            .insert_account(&NewAccount {
                name: "a",
                kind: ProviderKind::Ahv,
                endpoint: "https://x:9440",
                settings: serde_json::json!({}),
                created_at: now,
            })
            .unwrap();
        let o = MappingOverride {
            provider_id: "vm-1".into(),
            kind: Some(ResourceKind::UtilityServer),
            owner: None,
            exclude: false,
        };
        c.set_mapping_override(&a.id, &o, now).unwrap();
        let excluded = MappingOverride {
            exclude: true,
            kind: None,
            ..o.clone()
        };
        c.set_mapping_override(&a.id, &excluded, now).unwrap();
        assert_eq!(c.mapping_overrides(&a.id).unwrap(), vec![excluded]);
        assert!(c.remove_mapping_override(&a.id, "vm-1").unwrap());
        assert!(c.mapping_overrides(&a.id).unwrap().is_empty());
        c.set_mapping_override(&a.id, &o, now).unwrap();
        c.delete_account(&a.id).unwrap();
        assert!(c.mapping_overrides(&a.id).unwrap().is_empty());
    }
}
