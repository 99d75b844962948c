//! The ARM client: configuration, authenticated requests, retries where repeating is safe,
//! throttling, and the resource paths every call builds on.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

use super::error::{arm_error, ArmError};
use super::throttle::{parse_retry_after, Budget, SlowDown, WriteChain};
use super::token::{scope_for, TokenSource};
use super::watch::{Progress, Watch};
use crate::clock::Clock;
use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersions {
    /// Disks and snapshots (DiskRP).
    pub disks: String,
    /// Virtual machines and usages (ComputeRP).
    pub compute: String,
}

impl Default for ApiVersions {
    fn default() -> Self {
        Self {
            disks: "2025-01-02".into(),
            compute: "2025-04-01".into(),
        }
    }
}

/// How hard the client tries, and how long it may wait.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries of a request that is safe to repeat (GET, PUT, PATCH, DELETE) after a 5xx or a
    /// connection error, and of any request after a 429.
    pub max_retries: usize,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest `Retry-After` of a 429 the client waits out itself; a longer one surfaces as
    /// `ArmError::Throttled` so that a job can be rescheduled instead of holding a worker.
    pub max_throttle_wait: Duration,
    /// Bounds on the wait between two polls of a long-running operation (`Retry-After` is
    /// honoured within them).
    pub poll_min: Duration,
    pub poll_max: Duration,
    /// Polls of one operation before giving up (a stuck operation must not hang a job forever).
    pub max_polls: u32,
    pub slow_down: SlowDown,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_throttle_wait: Duration::from_secs(1_800),
            poll_min: Duration::from_secs(1),
            poll_max: Duration::from_secs(60),
            max_polls: 10_000,
            slow_down: SlowDown::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ArmConfig {
    /// `https://management.azure.com` by default; a sovereign cloud's or the lab's otherwise.
    pub arm_url: Url,
    /// `https://login.microsoftonline.com` by default.
    pub authority_url: Url,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub subscription_id: String,
    /// Extra trusted roots (PEM): a sovereign cloud's, a TLS-inspecting proxy's, the lab's CA.
    pub extra_ca_pem: Option<String>,
    pub api_versions: ApiVersions,
    /// Per request (connect to last byte).
    pub timeout: Duration,
    /// Overrides the scope derived from `arm_url` (see `token::scope_for`).
    pub token_scope: Option<String>,
    pub retry: RetryPolicy,
}

impl ArmConfig {
    /// The public cloud with default versions and policies.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
        subscription_id: impl Into<String>,
    ) -> Self {
        Self {
            arm_url: Url::parse("https://management.azure.com").expect("valid literal"),
            authority_url: Url::parse("https://login.microsoftonline.com").expect("valid literal"),
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            client_secret,
            subscription_id: subscription_id.into(),
            extra_ca_pem: None,
            api_versions: ApiVersions::default(),
            timeout: Duration::from_secs(60),
            token_scope: None,
            retry: RetryPolicy::default(),
        }
    }
}

struct Inner {
    http: reqwest::Client,
    cfg: ArmConfig,
    clock: Arc<dyn Clock>,
    tokens: TokenSource,
    budget: Budget,
    /// Requests on the wire at once, of this client and its clones (see [`IN_FLIGHT`]).
    in_flight: tokio::sync::Semaphore,
}

/// At most this many requests of one client are on the wire at once; the others wait their
/// turn. Each one in flight holds a connection (ARM over HTTP/1.1 takes one per request) with
/// its buffers, and its answer until it is read: a `backup all` with 300 workers sent up to 300
/// at once when ARM's write budget opened, and its memory rose with each such burst (docs/
/// backups.md, "Where the memory goes"). 64 at once is far above what ARM's own limits let a
/// subscription use (writes are budgeted, reads refill at 25 a second) even at a few hundred
/// milliseconds an answer.
pub const IN_FLIGHT: usize = 64;

/// Cheap to clone; clones share the token cache and the rate-limit budget.
#[derive(Clone)]
pub struct ArmClient {
    inner: Arc<Inner>,
    pub(crate) watch: Watch,
    /// The chain this client's writes belong to (see [`ArmClient::chained`]).
    chain: Option<Arc<WriteChain>>,
}

impl std::fmt::Debug for ArmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmClient")
            .field("arm_url", &self.inner.cfg.arm_url.as_str())
            .field("subscription_id", &self.inner.cfg.subscription_id)
            .finish()
    }
}

/// One ARM answer (2xx; errors become [`ArmError`]).
#[derive(Debug, Clone)]
pub struct ArmResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl ArmResponse {
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, ArmError> {
        serde_json::from_slice(&self.body).map_err(|e| ArmError::decode(what, e))
    }
    pub fn has_body(&self) -> bool {
        self.body.iter().any(|b| !b.is_ascii_whitespace())
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The cause chain of a reqwest error: "error sending request" alone says nothing.
pub fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

/// Whether a request may be sent again after a failure whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// GET, and PUT/PATCH/DELETE of a resource we name (ARM makes them idempotent).
    Safe,
    /// POST actions: re-read the state instead (see `vms`).
    Never,
}

impl ArmClient {
    pub fn new(config: ArmConfig, clock: Arc<dyn Clock>) -> Result<Self, ArmError> {
        let tls = crate::providers::tls::web_client_config(config.extra_ca_pem.as_deref())
            .map_err(|e| ArmError::Config(e.to_string()))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(15)))
            .build()
            .map_err(|e| ArmError::Config(describe_reqwest(&e)))?;
        if config.subscription_id.trim().is_empty() {
            return Err(ArmError::Config("the subscription id is empty".into()));
        }
        let scope = config
            .token_scope
            .clone()
            .unwrap_or_else(|| scope_for(&config.arm_url));
        let tokens = TokenSource::new(http.clone(), &config, scope, clock.clone())?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                cfg: config,
                clock,
                tokens,
                budget: Budget::default(),
                in_flight: tokio::sync::Semaphore::new(IN_FLIGHT),
            }),
            watch: Watch::default(),
            chain: None,
        })
    }

    /// The same client (shared cache and budget) reporting to `watch` and stopping on its flag.
    pub fn watched(&self, watch: Watch) -> Self {
        Self {
            inner: self.inner.clone(),
            watch,
            chain: self.chain.clone(),
        }
    }

    /// The same client, its next `writes` writes one chain: the first goes only when ARM's
    /// write budget can take them all, and the others then go before writes that would begin
    /// another chain (see [`WriteChain`]). A backup's deallocate, snapshot, start and
    /// `CopyStart`, so that a copy holding its copy slot never waits for the next hour's budget
    /// behind snapshots that will wait for a slot.
    pub fn chained(&self, writes: u32) -> Self {
        Self {
            inner: self.inner.clone(),
            watch: self.watch.clone(),
            chain: Some(self.inner.budget.chain(writes)),
        }
    }

    /// `n` writes of this client's chain will not be sent (their step found its work done).
    pub fn writes_skipped(&self, n: u32) {
        if let Some(c) = &self.chain {
            c.skipped(n);
        }
    }

    pub fn config(&self) -> &ArmConfig {
        &self.inner.cfg
    }
    pub fn subscription_id(&self) -> &str {
        &self.inner.cfg.subscription_id
    }
    pub fn api_versions(&self) -> &ApiVersions {
        &self.inner.cfg.api_versions
    }
    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }
    pub(crate) fn policy(&self) -> &RetryPolicy {
        &self.inner.cfg.retry
    }
    /// Tokens fetched from Entra so far by this client and its clones.
    pub fn tokens_fetched(&self) -> u64 {
        self.inner.tokens.fetched()
    }

    /// Checks the credentials now (the "Test" button of an account): a token is fetched.
    pub async fn sign_in(&self) -> Result<(), ArmError> {
        self.inner.tokens.token().await.map(|_| ())
    }

    /// `{arm}/{path}?api-version={v}` plus `extra` query pairs.
    pub fn url(&self, path: &str, api_version: &str, extra: &[(&str, &str)]) -> Url {
        let base = self.inner.cfg.arm_url.as_str().trim_end_matches('/');
        let path = path.trim_start_matches('/');
        let mut u = Url::parse(&format!("{base}/{path}"))
            .unwrap_or_else(|_| self.inner.cfg.arm_url.clone());
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("api-version", api_version);
            for (k, v) in extra {
                q.append_pair(k, v);
            }
        }
        u
    }

    /// `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/{kind}`
    pub fn rg_path(&self, resource_group: &str, kind: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/{kind}",
            self.inner.cfg.subscription_id, resource_group
        )
    }

    /// Refuses `url` unless its origin (scheme, host, port) is the configured `arm_url`'s: the
    /// bearer token goes nowhere else, whatever a `Location`, `Azure-AsyncOperation` or
    /// `nextLink` says.
    pub fn check_origin(&self, url: &Url) -> Result<(), ArmError> {
        let arm = &self.inner.cfg.arm_url;
        if url.origin() == arm.origin() && url.origin().is_tuple() {
            return Ok(());
        }
        let mut shown = url.clone();
        shown.set_query(None);
        shown.set_fragment(None);
        Err(ArmError::ForeignOrigin {
            url: shown.to_string(),
            arm_url: arm.origin().ascii_serialization(),
        })
    }

    /// Sends with the retries `repeat` allows; errors in ARM's words. Only to the configured ARM
    /// origin (see [`ArmClient::check_origin`]).
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        repeat: Repeat,
    ) -> Result<ArmResponse, ArmError> {
        self.check_origin(&url)?;
        let policy = self.policy().clone();
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.min_backoff)
            .with_max_delay(policy.max_backoff)
            .with_max_times(policy.max_retries)
            .with_jitter();
        let cancel = self.watch.cancel.clone();
        let watch = self.watch.clone();
        let attempts = std::sync::atomic::AtomicUsize::new(0);
        let max_wait = policy.max_throttle_wait;
        (|| {
            attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.attempt(method.clone(), url.clone(), body)
        })
        .retry(backoff)
        .sleep(move |d| {
            let c = cancel.clone();
            async move {
                c.sleep(d).await;
            }
        })
        .when(|e| match e {
            ArmError::Throttled { retry_after, .. } => *retry_after <= max_wait,
            ArmError::Transport { .. } => repeat == Repeat::Safe,
            ArmError::Api { status, .. } => {
                repeat == Repeat::Safe && matches!(status, 500 | 502 | 503 | 504)
            }
            _ => false,
        })
        .adjust(|e, d| match (e, d) {
            // Honour Retry-After even past the backoff's own ceiling.
            (ArmError::Throttled { retry_after, .. }, Some(_)) => Some(*retry_after),
            _ => d,
        })
        .notify(|e, wait| {
            let attempt = attempts.load(std::sync::atomic::Ordering::Relaxed);
            tracing::info!(%url, attempt, ?wait, error = %e, "ARM request will be retried");
            watch.report(match e {
                ArmError::Throttled { message, .. } => Progress::Throttled {
                    wait,
                    message: message.clone(),
                },
                other => Progress::Retrying {
                    attempt,
                    wait,
                    reason: other.to_string(),
                },
            });
        })
        .await
    }

    /// One request (plus one re-send with a fresh token if ARM refused a stale one).
    async fn attempt(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<ArmResponse, ArmError> {
        let what = || format!("{method} {}", url.path());
        if self.watch.cancel.is_cancelled() {
            return Err(ArmError::Cancelled(what()));
        }
        let is_read = method == Method::GET || method == Method::HEAD;
        let slow = &self.policy().slow_down;
        if let Some((delay, remaining)) = self.inner.budget.delay(is_read, slow) {
            self.watch.report(Progress::Slowing { delay, remaining });
            if !self.watch.cancel.sleep(delay).await {
                return Err(ArmError::Cancelled(what()));
            }
        }
        let mut fresh_token_tried = false;
        loop {
            // Writes keep to ARM's write budget (see `throttle::WriteGate`).
            let ticket = self.inner.budget.ticket(
                is_read,
                slow,
                &self.watch.cancel,
                self.chain.as_deref(),
                || {
                    self.watch.report(Progress::Slowing {
                        delay: slow.max_delay,
                        remaining: 0,
                    })
                },
            );
            let ticket = match is_read {
                true => ticket.await,
                false => self.looking_while(ticket, &method, &url).await,
            }
            .ok_or_else(|| ArmError::Cancelled(what()))?;
            let token = self.inner.tokens.token().await?;
            // Held until the answer is read (`bytes` below), never across another request.
            let _on_the_wire = self
                .inner
                .in_flight
                .acquire()
                .await
                .expect("the semaphore is never closed");
            let mut req = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose());
            if let Some(b) = body {
                req = req.json(b);
            } else if method == Method::POST {
                // ARM wants a length on bodiless POSTs (411 otherwise on some front ends).
                req = req.header(reqwest::header::CONTENT_LENGTH, "0");
            }
            let resp = req.send().await.map_err(|e| ArmError::Transport {
                what: format!("Azure Resource Manager ({})", what()),
                message: describe_reqwest(&e),
            })?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            ticket.answered(&headers);
            let body_bytes = resp
                .bytes()
                .await
                .map_err(|e| ArmError::Transport {
                    what: format!("Azure Resource Manager ({})", what()),
                    message: describe_reqwest(&e),
                })?
                .to_vec();
            if (200..300).contains(&status) {
                return Ok(ArmResponse {
                    status,
                    headers,
                    body: body_bytes,
                });
            }
            let request_id = headers
                .get("x-ms-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut err = arm_error(status, &body_bytes, request_id);
            let retry_after = headers
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, self.inner.clock.now()));
            if let ArmError::Api {
                retry_after: slot, ..
            } = &mut err
            {
                *slot = retry_after;
            }
            if status == 429 {
                if !is_read {
                    self.inner.budget.writes_refused();
                }
                let retry_after = retry_after.unwrap_or(self.policy().min_backoff);
                let message = match err {
                    ArmError::Api { message, .. } => message,
                    other => other.to_string(),
                };
                return Err(ArmError::Throttled {
                    retry_after,
                    message,
                });
            }
            if err.is_stale_token() && !fresh_token_tried {
                fresh_token_tried = true;
                self.inner.tokens.invalidate(&token).await;
                continue;
            }
            return Err(err);
        }
    }

    /// Waits for a write's ticket, sending a read now and then to look whether ARM's hour
    /// turned when nothing else reads (see `throttle::Budget::look_due`). The read is of the
    /// write's own resource (the VM of a power action): cheap, and allowed by the same role.
    async fn looking_while<T>(
        &self,
        ticket: impl std::future::Future<Output = T>,
        method: &Method,
        url: &Url,
    ) -> T {
        let slow = &self.policy().slow_down;
        tokio::pin!(ticket);
        loop {
            tokio::select! {
                t = &mut ticket => return t,
                _ = tokio::time::sleep(slow.look_every) => {
                    if let Some(_look) = self.inner.budget.look_due(slow) {
                        let mut look = url.clone();
                        if *method == Method::POST {
                            if let Ok(mut segments) = look.path_segments_mut() {
                                segments.pop();
                            }
                        }
                        // Its answer (even a 404: the resource is not made yet) carries the
                        // remaining reads; what it says of the resource does not matter.
                        let answer = Box::pin(self.attempt(Method::GET, look, None)).await;
                        if let Err(e) = answer {
                            tracing::debug!(error = %e, "looking at ARM's budget");
                        }
                    }
                }
            }
        }
    }

    /// GET and parse.
    pub async fn get_json<T: DeserializeOwned>(&self, url: Url, what: &str) -> Result<T, ArmError> {
        self.send(Method::GET, url, None, Repeat::Safe)
            .await?
            .json(what)
    }
}
