//! The cluster itself: name, uuid, version and external address (what "add a cluster" shows).

use super::client::PrismClient;
use super::error::PrismError;
use super::types::ClusterInfo;

impl PrismClient {
    pub async fn cluster(&self) -> Result<ClusterInfo, PrismError> {
        self.get("cluster", &[]).await
    }
}
