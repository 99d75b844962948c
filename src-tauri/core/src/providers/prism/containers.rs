//! Storage containers: what the vStore mapping offers and checks.

use super::client::PrismClient;
use super::error::PrismError;
use super::types::{Collection, StorageContainer};

impl PrismClient {
    pub async fn storage_containers(&self) -> Result<Vec<StorageContainer>, PrismError> {
        let c: Collection<StorageContainer> = self.get("storage_containers", &[]).await?;
        Ok(c.entities)
    }

    pub async fn storage_container(&self, uuid: &str) -> Result<StorageContainer, PrismError> {
        self.get(&format!("storage_containers/{uuid}"), &[]).await
    }
}
