//! A small client of the lab's control API (`/_lab`, plain HTTP on loopback; docs/lab.md), for
//! end-to-end tests that act on the lab behind the app: read its endpoints and credentials, fill
//! a disk, inject faults, open sessions. The app prints the API's address; `control_url` reads it
//! from the running app (`app_info`), since a busy documented port falls back to another one.

use anyhow::{bail, Context};
use fantoccini::Client;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub struct LabControl {
    /// `http://host:port/_lab` (no trailing slash).
    base: String,
    http: hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
}

impl LabControl {
    /// `url` is the control API's base as the app reports it (`http://127.0.0.1:7780/_lab` or
    /// `http://127.0.0.1:7780/`); both are accepted.
    pub fn new(url: &str) -> Self {
        let url = url.trim_end_matches('/');
        let base = if url.ends_with("/_lab") {
            url.to_string()
        } else {
            format!("{url}/_lab")
        };
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .build(HttpConnector::new());
        Self { base, http }
    }

    /// The lab the app in `client`'s window started: its control API from `app_info`.
    pub async fn of_app(client: &Client) -> anyhow::Result<Self> {
        Ok(Self::new(&control_url(client).await?))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::DELETE, path, None).await
    }

    /// `GET /_lab/endpoints`: addresses, credentials, certificate fingerprints, the lab CA.
    pub async fn endpoints(&self) -> anyhow::Result<Value> {
        self.get("/endpoints").await
    }

    /// `POST /_lab/azure/disks/{name}/fill` with `{"free_gb": free_gb}`: what the simulated guest
    /// agent then reports for the disk.
    pub async fn fill_azure_disk(&self, name: &str, free_gb: f64) -> anyhow::Result<Value> {
        self.post(
            &format!("/azure/disks/{name}/fill"),
            serde_json::json!({ "free_gb": free_gb }),
        )
        .await
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let uri = format!("{}{}", self.base, path);
        let mut req = Request::builder().method(method.clone()).uri(&uri);
        let bytes = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Bytes::from(serde_json::to_vec(&v)?)
            }
            None => Bytes::new(),
        };
        let res = self
            .http
            .request(req.body(Full::new(bytes))?)
            .await
            .with_context(|| format!("{method} {uri}: the lab's control API did not answer"))?;
        let status = res.status();
        let body = res.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!(
                "{method} {uri} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        if body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body).with_context(|| format!("{method} {uri}: not JSON"))
    }
}

/// The control API's URL of the lab the app runs, as `app_info` reports it (the same the Lab
/// badge's tooltip shows).
pub async fn control_url(client: &Client) -> anyhow::Result<String> {
    let v = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             window.__TAURI_INTERNALS__.invoke('app_info')
               .then(i => done((i.lab && i.lab.control_url) || ''))
               .catch(e => done('error: ' + JSON.stringify(e)));",
            vec![],
        )
        .await
        .context("ask the app for app_info")?;
    let url = v.as_str().unwrap_or_default().to_string();
    if url.is_empty() || url.starts_with("error") {
        bail!(
            "the app reports no lab control API ({url:?}): was it started with STANDBY_LAB=true?"
        );
    }
    Ok(url)
}
