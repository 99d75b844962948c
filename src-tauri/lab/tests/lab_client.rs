//! Helpers the lab's integration tests share (included with `#[path = "lab_client.rs"] mod ...`):
//! a started lab and HTTPS clients that trust exactly what the product would trust.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::{json, Value};
use standby_lab::{Lab, LabConfig, LabHandle};

pub async fn start() -> LabHandle {
    start_with(LabConfig::for_tests()).await
}

/// For tests that move the clock by hours: tokens that outlive them (token expiry has its own test).
pub async fn start_long_tokens() -> LabHandle {
    let mut config = LabConfig::for_tests();
    config.azure.token_lifetime_secs = 30 * 86_400;
    start_with(config).await
}

pub async fn start_with(config: LabConfig) -> LabHandle {
    Lab::start(config).await.expect("the lab starts")
}

/// A client trusting these PEMs only (ring provider, as the product builds it).
pub fn client_trusting(pems: &[&str]) -> reqwest::Client {
    let tls = standby_lab::tls::client_config(pems).expect("client TLS config");
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

pub fn azure_client(lab: &LabHandle) -> reqwest::Client {
    client_trusting(&[&lab.azure.ca_certificate_pem])
}

pub fn prism_client(lab: &LabHandle, index: usize) -> reqwest::Client {
    client_trusting(&[&lab.prism[index].certificate_pem])
}

pub fn token_url(lab: &LabHandle) -> String {
    format!(
        "{}{}/oauth2/v2.0/token",
        lab.azure.authority_url, lab.azure.tenant_id
    )
}

pub async fn token(lab: &LabHandle) -> String {
    let resp = post_form(
        &azure_client(lab),
        &token_url(lab),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", lab.azure.client_id.as_str()),
            ("client_secret", lab.azure.client_secret.as_str()),
            ("scope", "https://management.azure.com/.default"),
        ],
    )
    .await
    .expect("token request");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// A form POST, as OAuth clients send it (the workspace's reqwest has no `form` feature).
pub async fn post_form(
    client: &reqwest::Client,
    url: &str,
    pairs: &[(&str, &str)],
) -> reqwest::Result<reqwest::Response> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    client
        .post(url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await
}

/// An ARM caller with a token: paths are relative to the subscription.
pub struct Arm {
    pub client: reqwest::Client,
    pub base: String,
    pub sub: String,
    pub rg: String,
    pub token: String,
}

pub const DISK_API: &str = "2025-01-02";
pub const COMPUTE_API: &str = "2025-04-01";

impl Arm {
    pub async fn new(lab: &LabHandle) -> Self {
        Self {
            client: azure_client(lab),
            base: lab.azure.arm_url.as_str().trim_end_matches('/').to_string(),
            sub: lab.azure.subscription_id.clone(),
            rg: lab.azure.resource_group.clone(),
            token: token(lab).await,
        }
    }

    /// `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/{rest}`
    pub fn rg_url(&self, rest: &str, api: &str) -> String {
        format!(
            "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/{rest}?api-version={api}",
            self.base, self.sub, self.rg
        )
    }

    pub fn id(&self, rest: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/{rest}",
            self.sub, self.rg
        )
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self.client.request(method, url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("ARM request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(json!({"raw": text}))
        };
        (status, headers, v)
    }

    pub async fn get(&self, url: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        self.send(reqwest::Method::GET, url, None).await
    }

    pub async fn put(&self, url: &str, body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
        self.send(reqwest::Method::PUT, url, Some(body)).await
    }

    pub async fn patch(&self, url: &str, body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
        self.send(reqwest::Method::PATCH, url, Some(body)).await
    }

    pub async fn post(
        &self,
        url: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        self.send(reqwest::Method::POST, url, body).await
    }

    pub async fn delete(&self, url: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        self.send(reqwest::Method::DELETE, url, None).await
    }

    /// An incremental snapshot of a disk in the primary region.
    pub async fn snapshot_disk(&self, snapshot: &str, disk: &str, location: &str) -> (u16, Value) {
        let (s, _, v) = self
            .put(
                &self.rg_url(&format!("snapshots/{snapshot}"), DISK_API),
                json!({"location": location, "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": self.id(&format!("disks/{disk}"))}, "incremental": true}}),
            )
            .await;
        (s, v)
    }

    /// A CopyStart of a snapshot into `location`.
    pub async fn copy_start(
        &self,
        target: &str,
        source: &str,
        location: &str,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        self.put(
            &self.rg_url(&format!("snapshots/{target}"), DISK_API),
            json!({"location": location, "properties": {"creationData": {"createOption": "CopyStart", "sourceResourceId": self.id(&format!("snapshots/{source}"))}, "incremental": true}}),
        )
        .await
    }
}

/// The control API.
pub async fn control(
    lab: &LabHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let url = format!("{}_lab/{path}", lab.control_url);
    // Plain HTTP, but reqwest still wants a TLS provider: trust nothing.
    let mut req = client_trusting(&[]).request(method, &url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("control request");
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

pub fn advance(lab: &LabHandle, secs: u64) {
    lab.clock.advance(Duration::from_secs(secs));
}

pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("standby-lab-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The names of disks with a given `frame.role` tag, from the paged list.
pub async fn disks_with_role(arm: &Arm, role: &str) -> Vec<Value> {
    let mut url = arm.rg_url("disks", DISK_API);
    let mut out = Vec::new();
    loop {
        let (s, _, v) = arm.get(&url).await;
        assert_eq!(s, 200, "{v}");
        out.extend(
            v["value"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["tags"]["frame.role"] == role)
                .cloned(),
        );
        match v["nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => return out,
        }
    }
}
