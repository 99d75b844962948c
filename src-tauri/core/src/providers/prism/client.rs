//! The HTTP side of a Prism Element cluster: pinned TLS, the session cookie, timeouts, and which
//! failures are retried.
//!
//! Reads (and `tasks/poll`) are retried on 429, 503 and broken connections, honouring
//! `Retry-After`. Writes are sent once: a write is repeated only when it surely never reached the
//! cluster (connection refused, 429, a 401 answered before anything was done); after any other
//! failure the operation modules read state back to find out whether it happened.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use parking_lot::Mutex;
use reqwest::header::{HeaderMap, COOKIE, RETRY_AFTER, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::PrismError;
use super::types::ErrorBody;
use crate::providers::tls::{pinned_client_config, PresentedCert};
use crate::secret::Secret;

/// Where the v2.0 API lives under the cluster's address.
pub const API_PATH: &str = "PrismGateway/services/rest/v2.0/";

/// One cluster as the user registered it.
#[derive(Debug, Clone)]
pub struct PrismConfig {
    /// `https://host:9440` (a path, if any, is replaced by the API's).
    pub base_url: url::Url,
    pub username: String,
    pub password: Secret,
    /// Lower-case hex SHA-256 of the certificate the user confirmed.
    pub pinned_sha256: String,
    /// For each HTTP exchange (connect included).
    pub timeout: Duration,
}

/// How hard reads try before giving up.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the error goes to the caller.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 4,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

#[derive(Clone)]
pub struct PrismClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    api: url::Url,
    host: String,
    username: String,
    password: Secret,
    pinned: String,
    timeout: Duration,
    retry: RetryPolicy,
    session: Mutex<Option<String>>,
    presented: PresentedCert,
    /// Set once a different certificate was seen: from then on nothing is sent.
    changed: Mutex<Option<String>>,
    logins: AtomicU64,
}

impl std::fmt::Debug for PrismClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrismClient")
            .field("host", &self.inner.host)
            .field("username", &self.inner.username)
            .finish_non_exhaustive()
    }
}

impl PrismClient {
    pub fn new(config: PrismConfig) -> Result<Self, PrismError> {
        Self::with_retry(config, RetryPolicy::default())
    }

    pub fn with_retry(config: PrismConfig, retry: RetryPolicy) -> Result<Self, PrismError> {
        if config.base_url.scheme() != "https" {
            return Err(PrismError::Config(format!(
                "{} is not an https address",
                config.base_url
            )));
        }
        let host = match (config.base_url.host_str(), config.base_url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => {
                return Err(PrismError::Config(format!(
                    "{} has no host",
                    config.base_url
                )))
            }
        };
        let pinned = config.pinned_sha256.to_ascii_lowercase().replace(':', "");
        if pinned.len() != 64 || !pinned.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PrismError::Config(
                "the trusted certificate fingerprint must be a SHA-256 in hex".into(),
            ));
        }
        let (tls, presented) =
            pinned_client_config(&pinned).map_err(|e| PrismError::Config(e.to_string()))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // Prism's gateway speaks HTTP/1.1; one idle connection per client is plenty.
            .http1_only()
            .pool_max_idle_per_host(4)
            .build()
            .map_err(|e| PrismError::Config(e.to_string()))?;
        let mut api = config.base_url.clone();
        api.set_path(API_PATH);
        api.set_query(None);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                api,
                host,
                username: config.username,
                password: config.password,
                pinned,
                timeout: config.timeout,
                retry,
                session: Mutex::new(None),
                presented,
                changed: Mutex::new(None),
                logins: AtomicU64::new(0),
            }),
        })
    }

    /// `host:port`, for messages.
    pub fn host(&self) -> &str {
        &self.inner.host
    }

    /// How many times this client sent its credentials (a first login plus each re-login after a
    /// session expired): an observable for tests and diagnostics.
    pub fn logins(&self) -> u64 {
        self.inner.logins.load(Ordering::Relaxed)
    }

    /// A read: retried on 429/503/broken connections with exponential backoff and `Retry-After`.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, PrismError> {
        let v = self.read(Method::GET, path, query, None).await?;
        decode(v, path)
    }

    /// A call that changes nothing, whatever its method (`POST /tasks/poll`): retried like a GET.
    pub(crate) async fn read(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, PrismError> {
        self.read_waiting(method, path, query, body, Duration::ZERO)
            .await
    }

    /// A read the cluster may hold open for `server_wait` (`tasks/poll`): the timeout grows by it.
    pub(crate) async fn read_waiting(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        server_wait: Duration,
    ) -> Result<Value, PrismError> {
        let timeout = self.inner.timeout + server_wait;
        let policy = &self.inner.retry;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.retries)
            .with_jitter();
        let max_wait = policy.max_retry_after;
        (|| self.exchange(method.clone(), path, query, body, timeout))
            .retry(backoff)
            .when(|e: &PrismError| {
                (e.is_transient() && e.retry_after().is_none_or(|d| d <= max_wait))
                    || matches!(e, PrismError::Connection { .. } | PrismError::Timeout { .. })
            })
            .adjust(|e: &PrismError, dur| match (e.retry_after(), dur) {
                // The server said when: wait that long (the backoff still bounds the count).
                (Some(after), Some(_)) => Some(after),
                (_, dur) => dur,
            })
            .notify(|e: &PrismError, d: Duration| {
                tracing::debug!(host = %self.inner.host, path, error = %e, wait_ms = d.as_millis() as u64, "retrying a Prism read");
            })
            .await
    }

    /// A change: sent once, except when it surely never reached the cluster (connection
    /// refused, 429). Any other failure (503 included) is returned for the caller to look at
    /// state first.
    pub(crate) async fn write(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, PrismError> {
        let policy = &self.inner.retry;
        let mut delay = policy.min_delay;
        let mut attempt = 0;
        loop {
            match self
                .exchange(method.clone(), path, &[], body, self.inner.timeout)
                .await
            {
                Err(e) if e.never_handled() && attempt < policy.retries => {
                    let wait = match e.retry_after() {
                        Some(d) if d > policy.max_retry_after => return Err(e),
                        Some(d) => d,
                        None => delay,
                    };
                    tracing::debug!(host = %self.inner.host, path, error = %e, "the write was refused before it was handled; sending it again");
                    tokio::time::sleep(wait).await;
                    delay = (delay * 2).min(policy.max_delay);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// One exchange, with at most one re-login when the session was refused.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value, PrismError> {
        if let Some(presented) = self.inner.changed.lock().clone() {
            return Err(self.cert_changed(presented));
        }
        let had_session = self.inner.session.lock().is_some();
        match self.send(method.clone(), path, query, body, timeout).await {
            // The session ended (gateway restart, expiry): nothing was done; log in again, once.
            Err(PrismError::Auth { .. }) if had_session => {
                *self.inner.session.lock() = None;
                tracing::info!(host = %self.inner.host, "Prism session refused; logging in again");
                self.send(method, path, query, body, timeout).await
            }
            other => other,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value, PrismError> {
        let url = self
            .inner
            .api
            .join(path.trim_start_matches('/'))
            .map_err(|e| PrismError::Config(format!("bad path {path}: {e}")))?;
        let mut req = self
            .inner
            .http
            .request(method.clone(), url)
            .timeout(timeout)
            .header(reqwest::header::ACCEPT, "application/json");
        if !query.is_empty() {
            req = req.query(query);
        }
        let session = self.inner.session.lock().clone();
        req = match session {
            Some(id) => req.header(COOKIE, format!("JSESSIONID={id}")),
            None => {
                self.inner.logins.fetch_add(1, Ordering::Relaxed);
                req.basic_auth(&self.inner.username, Some(self.inner.password.expose()))
            }
        };
        if let Some(b) = body {
            req = req.json(b);
        }
        // Leftovers from an earlier failed handshake must not be blamed on this one.
        let _ = self.inner.presented.take();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(e)),
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        if let Some(id) = session_cookie(&headers) {
            *self.inner.session.lock() = Some(id);
        }
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Err(self.transport_error(e)),
        };
        if status.is_success() {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes).map_err(|e| PrismError::Decode {
                context: format!("{method} {path}"),
                message: e.to_string(),
            });
        }
        Err(self.status_error(status, &headers, &bytes, path))
    }

    fn cert_changed(&self, presented: String) -> PrismError {
        PrismError::CertificateChanged {
            host: self.inner.host.clone(),
            expected: self.inner.pinned.clone(),
            presented,
        }
    }

    fn transport_error(&self, e: reqwest::Error) -> PrismError {
        if let Some(presented) = self.inner.presented.take() {
            *self.inner.changed.lock() = Some(presented.clone());
            tracing::warn!(host = %self.inner.host, %presented, "Prism certificate changed; calls stopped until confirmed");
            return self.cert_changed(presented);
        }
        let host = self.inner.host.clone();
        let message = chain(&e);
        if e.is_connect() {
            // Nothing was sent: a retry cannot repeat anything.
            PrismError::Unavailable {
                host,
                message: format!("cannot connect: {message}"),
                retry_after: None,
                status: None,
            }
        } else if e.is_timeout() {
            PrismError::Timeout {
                host,
                secs: self.inner.timeout.as_secs().max(1),
            }
        } else {
            PrismError::Connection { host, message }
        }
    }

    fn status_error(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        bytes: &[u8],
        path: &str,
    ) -> PrismError {
        let body: ErrorBody = serde_json::from_slice(bytes).unwrap_or_default();
        let message = body
            .message
            .clone()
            .filter(|m| !m.is_empty())
            .or_else(|| body.detailed_message.clone())
            .unwrap_or_else(|| {
                let text = String::from_utf8_lossy(bytes);
                let text = text.trim();
                if text.is_empty() {
                    status.to_string()
                } else {
                    text.chars().take(300).collect()
                }
            });
        // The detail often says more (which field, which entity); keep it when it adds something.
        let message = match &body.detailed_message {
            Some(d) if !d.is_empty() && *d != message && !message.contains(d.as_str()) => {
                format!("{message} ({d})")
            }
            _ => message,
        };
        let host = self.inner.host.clone();
        match status.as_u16() {
            401 | 403 => PrismError::Auth { host, message },
            404 => PrismError::NotFound {
                what: path.to_string(),
                message,
            },
            s @ (429 | 503) => PrismError::Unavailable {
                host,
                message,
                retry_after: retry_after(headers),
                status: Some(s),
            },
            s @ 400..=499 => PrismError::Rejected {
                status: s,
                code: body.error_code.and_then(|c| c.code),
                message,
            },
            s => PrismError::Server {
                host,
                status: s,
                message,
            },
        }
    }
}

pub(crate) fn decode<T: DeserializeOwned>(v: Value, context: &str) -> Result<T, PrismError> {
    serde_json::from_value(v).map_err(|e| PrismError::Decode {
        context: context.to_string(),
        message: e.to_string(),
    })
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let first = v.split(';').next()?.trim();
            first
                .strip_prefix("JSESSIONID=")
                .filter(|id| !id.is_empty())
                .map(str::to_string)
        })
}

/// Seconds only: Prism and the gateways in front of it do not send HTTP dates here.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
}
