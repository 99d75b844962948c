//! Injected faults: latency, rate limits, 503s, dropped connections, answers lost after the
//! request was carried out, endpoints down.
//!
//! Every endpoint is wrapped in [`FaultLayer`] with its target name (`prism:<cluster>`,
//! `azure:arm`, `azure:token`). Faults count requests rather than roll dice, so a test that asks
//! for "the next 2 requests fail" gets exactly that; jitter alone is random, from a seeded
//! generator. Rate-limit windows run on the lab clock, like everything else in the lab.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tower::{Layer, Service, ServiceExt};

use crate::clock::LabClock;

pub const ARM: &str = "azure:arm";
pub const TOKEN: &str = "azure:token";

pub fn prism_target(cluster: &str) -> String {
    format!("prism:{cluster}")
}

/// What a target is, which decides the shape of the errors it answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Prism,
    Arm,
    Token,
}

impl TargetKind {
    pub fn of(target: &str) -> Option<Self> {
        if target.starts_with("prism:") {
            Some(Self::Prism)
        } else if target == ARM {
            Some(Self::Arm)
        } else if target == TOKEN {
            Some(Self::Token)
        } else {
            None
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("unknown fault target {0:?} (use prism:<cluster>, azure:arm or azure:token)")]
    UnknownTarget(String),
    #[error("rate limit needs requests > 0 and window_secs > 0")]
    BadRateLimit,
    #[error("lose_answer needs a method, a path and count > 0")]
    BadLoseAnswer,
}

/// The faults set on one target. Counts (`fail_next`, `drop_next`) go down as requests use them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    /// Added to every answer (real time: latency is what the client waits).
    pub latency_ms: u64,
    /// Up to this much more, uniformly, from a generator seeded with `seed` (0 when absent).
    pub jitter_ms: u64,
    pub rate_limit: Option<RateLimit>,
    /// The next N requests answer 503 in the target's error shape.
    pub fail_next: u32,
    /// The next N requests get no answer: the connection is closed.
    pub drop_next: u32,
    /// Everything is refused until brought back up.
    pub down: bool,
    pub seed: Option<u64>,
    /// The next matching request is carried out, then its connection is closed without the answer
    /// (a client cannot tell whether it happened: the case for reading state back).
    pub lose_answer: Option<LoseAnswer>,
}

/// Which requests lose their answer, and how many of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoseAnswer {
    /// `POST`, `PUT`, ... (any case).
    pub method: String,
    /// The URL path (no query), compared without regard to case (ARM's ids are not case
    /// sensitive); `*` matches any run of characters, `/` included.
    pub path: String,
    /// How many matching requests lose their answer (1 when absent).
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// `pattern` with `*` wildcards against `text`, both already lower-cased.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: the whole text must be the pattern.
        return rest.is_empty();
    };
    for p in middle {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// How many times each fault was met on a target, so that a test can tell its fault really hit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultStats {
    /// Answered 429 by the rate limit.
    pub throttled: u64,
    /// Answered 503 by `fail_next`.
    pub failed: u64,
    /// Connections closed by `drop_next` or `down` before the request was handled.
    pub dropped: u64,
    /// Requests carried out whose answer was lost (`lose_answer`).
    pub answers_lost: u64,
    /// ARM without an injected rate limit: budget windows begun (each an hour of lab time from
    /// the first request after the previous one ended) ...
    pub budget_windows: u64,
    /// ... and writes carried out when the window's writes had all been used: the lab reports
    /// ARM's hourly budget without refusing past it, so that a client's keeping to it is
    /// measured here (real ARM answers them 429).
    pub writes_past_budget: u64,
    /// When the current window began (lab time) and the writes counted in it so far: what a
    /// run starting now has of the budget.
    pub budget_window_started_at: Option<DateTime<Utc>>,
    pub budget_window_writes: u32,
    /// Requests being handled now, and the most at once since the lab started: how many a
    /// client keeps on the wire together.
    pub in_flight: u32,
    pub most_in_flight: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests accepted per window; the next ones answer 429 until the window ends.
    pub requests: u32,
    pub window_secs: u64,
}

/// ARM's documented hourly budgets, reported in `x-ms-ratelimit-remaining-*` when no rate limit
/// is injected (reported, not enforced).
const ARM_READS_PER_HOUR: u32 = 12_000;
const ARM_WRITES_PER_HOUR: u32 = 1_200;

struct Window {
    start: DateTime<Utc>,
    reads: u32,
    writes: u32,
}

struct TargetState {
    spec: FaultSpec,
    window: Option<Window>,
    rng: ChaCha8Rng,
    down: watch::Sender<bool>,
    stats: FaultStats,
}

impl TargetState {
    fn new() -> Self {
        Self {
            spec: FaultSpec::default(),
            window: None,
            rng: ChaCha8Rng::seed_from_u64(0),
            down: watch::channel(false).0,
            stats: FaultStats::default(),
        }
    }
}

/// What the layer does with one request.
pub enum Decision {
    Drop,
    Respond(Duration, Response<Body>),
    Pass(Duration, Vec<(HeaderName, HeaderValue)>),
}

/// All targets' faults. Shared by the endpoints, the control API and the lab handle.
pub struct Faults {
    clock: LabClock,
    subscription_id: String,
    targets: Mutex<HashMap<String, TargetState>>,
}

impl Faults {
    pub fn new(clock: LabClock, subscription_id: String) -> Arc<Self> {
        Arc::new(Self {
            clock,
            subscription_id,
            targets: Mutex::new(HashMap::new()),
        })
    }

    /// Makes a target known (so that `GET /_lab/faults` lists it and `set` accepts it).
    pub fn register(&self, target: &str) {
        self.targets
            .lock()
            .entry(target.to_string())
            .or_insert_with(TargetState::new);
    }

    pub fn targets(&self) -> Vec<String> {
        let mut t: Vec<_> = self.targets.lock().keys().cloned().collect();
        t.sort();
        t
    }

    pub fn set(&self, target: &str, spec: FaultSpec) -> Result<(), FaultError> {
        if let Some(rl) = &spec.rate_limit {
            if rl.requests == 0 || rl.window_secs == 0 {
                return Err(FaultError::BadRateLimit);
            }
        }
        if let Some(l) = &spec.lose_answer {
            if l.count == 0 || l.method.trim().is_empty() || l.path.trim().is_empty() {
                return Err(FaultError::BadLoseAnswer);
            }
        }
        let mut targets = self.targets.lock();
        let st = targets
            .get_mut(target)
            .ok_or_else(|| FaultError::UnknownTarget(target.to_string()))?;
        st.rng = ChaCha8Rng::seed_from_u64(spec.seed.unwrap_or(0));
        if st.spec.rate_limit != spec.rate_limit {
            st.window = None;
        }
        st.down.send_replace(spec.down);
        st.spec = spec;
        Ok(())
    }

    pub fn get(&self, target: &str) -> Option<FaultSpec> {
        self.targets.lock().get(target).map(|s| s.spec.clone())
    }

    /// How often each fault was met on `target` since the lab started.
    pub fn stats(&self, target: &str) -> Option<FaultStats> {
        self.targets.lock().get(target).map(|s| s.stats)
    }

    /// Counts a request as being handled until the returned guard is dropped.
    fn entered(self: &Arc<Self>, target: &str) -> InFlight {
        let mut targets = self.targets.lock();
        let st = targets
            .entry(target.to_string())
            .or_insert_with(TargetState::new);
        st.stats.in_flight += 1;
        st.stats.most_in_flight = st.stats.most_in_flight.max(st.stats.in_flight);
        InFlight {
            faults: self.clone(),
            target: target.to_string(),
        }
    }

    /// Whether this request is to lose its answer (counted down as requests match).
    pub fn loses_answer(&self, target: &str, method: &str, path: &str) -> bool {
        let mut targets = self.targets.lock();
        let Some(st) = targets.get_mut(target) else {
            return false;
        };
        let Some(l) = st.spec.lose_answer.as_mut() else {
            return false;
        };
        if !l.method.eq_ignore_ascii_case(method)
            || !glob(&l.path.to_ascii_lowercase(), &path.to_ascii_lowercase())
        {
            return false;
        }
        l.count -= 1;
        if l.count == 0 {
            st.spec.lose_answer = None;
        }
        st.stats.answers_lost += 1;
        true
    }

    pub fn all(&self) -> HashMap<String, FaultSpec> {
        self.targets
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.spec.clone()))
            .collect()
    }

    pub fn clear_all(&self) {
        for st in self.targets.lock().values_mut() {
            st.spec = FaultSpec::default();
            st.window = None;
            st.down.send_replace(false);
        }
    }

    pub fn set_down(&self, target: &str, down: bool) -> Result<(), FaultError> {
        let mut targets = self.targets.lock();
        let st = targets
            .get_mut(target)
            .ok_or_else(|| FaultError::UnknownTarget(target.to_string()))?;
        st.spec.down = down;
        st.down.send_replace(down);
        Ok(())
    }

    /// Follows a target's down flag (the accept loops stop listening while it is set).
    pub fn down_watch(&self, target: &str) -> watch::Receiver<bool> {
        self.targets
            .lock()
            .entry(target.to_string())
            .or_insert_with(TargetState::new)
            .down
            .subscribe()
    }

    pub fn decide(&self, target: &str, is_read: bool) -> Decision {
        let kind = TargetKind::of(target);
        let now = self.clock.now();
        let mut targets = self.targets.lock();
        let st = targets
            .entry(target.to_string())
            .or_insert_with(TargetState::new);
        if st.spec.down {
            st.stats.dropped += 1;
            return Decision::Drop;
        }
        if st.spec.drop_next > 0 {
            st.spec.drop_next -= 1;
            st.stats.dropped += 1;
            return Decision::Drop;
        }
        let mut delay = Duration::from_millis(st.spec.latency_ms);
        if st.spec.jitter_ms > 0 {
            delay += Duration::from_millis(st.rng.random_range(0..=st.spec.jitter_ms));
        }
        if st.spec.fail_next > 0 {
            st.spec.fail_next -= 1;
            st.stats.failed += 1;
            return Decision::Respond(delay, unavailable(kind));
        }

        let (limit, window_secs, enforce) = match st.spec.rate_limit {
            Some(rl) => (Some(rl.requests), rl.window_secs as i64, true),
            None => (None, 3600, false),
        };
        let expired = st
            .window
            .as_ref()
            .is_none_or(|w| now >= w.start + chrono::Duration::seconds(window_secs));
        if expired {
            if kind == Some(TargetKind::Arm) && !enforce {
                st.stats.budget_windows += 1;
                st.stats.budget_window_started_at = Some(now);
                st.stats.budget_window_writes = 0;
            }
            st.window = Some(Window {
                start: now,
                reads: 0,
                writes: 0,
            });
        }
        let w = st.window.as_mut().expect("window set above");
        let used = w.reads + w.writes;
        if enforce && used >= limit.unwrap_or(u32::MAX) {
            let end = w.start + chrono::Duration::seconds(window_secs);
            let retry = ((end - now).num_milliseconds() as f64 / 1000.0)
                .ceil()
                .max(1.0) as u64;
            st.stats.throttled += 1;
            return Decision::Respond(
                delay,
                throttled(kind, retry, is_read, &self.subscription_id),
            );
        }
        if is_read {
            w.reads += 1;
        } else {
            if !enforce && kind == Some(TargetKind::Arm) && w.writes >= ARM_WRITES_PER_HOUR {
                st.stats.writes_past_budget += 1;
            }
            w.writes += 1;
            if !enforce && kind == Some(TargetKind::Arm) {
                st.stats.budget_window_writes = w.writes;
            }
        }
        let mut headers = Vec::new();
        if kind == Some(TargetKind::Arm) {
            let (name, remaining) = match limit {
                Some(l) => (
                    if is_read { READS } else { WRITES },
                    l.saturating_sub(w.reads + w.writes),
                ),
                None if is_read => (READS, ARM_READS_PER_HOUR.saturating_sub(w.reads)),
                None => (WRITES, ARM_WRITES_PER_HOUR.saturating_sub(w.writes)),
            };
            headers.push((HeaderName::from_static(name), HeaderValue::from(remaining)));
        }
        Decision::Pass(delay, headers)
    }
}

const READS: &str = "x-ms-ratelimit-remaining-subscription-reads";
const WRITES: &str = "x-ms-ratelimit-remaining-subscription-writes";

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// An Entra error body (`error`, `error_description`, `error_codes`, ...).
pub fn entra_error(
    status: StatusCode,
    error: &str,
    code: u32,
    description: &str,
) -> Response<Body> {
    let trace = uuid::Uuid::new_v4().to_string();
    let corr = uuid::Uuid::new_v4().to_string();
    // Wall-clock time on purpose: Entra stamps its errors with real time, and this is text for a
    // person reading a log, not state of the simulation.
    let ts = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    json_response(
        status,
        serde_json::json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {corr} Timestamp: {ts}"),
            "error_codes": [code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    )
}

/// A Prism v2.0 error body.
pub fn prism_error(status: StatusCode, message: &str, detail: &str) -> Response<Body> {
    json_response(
        status,
        serde_json::json!({
            "message": message,
            "detailed_message": detail,
            "error_code": {"code": status.as_u16(), "help_url": "http://my.nutanix.com"},
        }),
    )
}

fn unavailable(kind: Option<TargetKind>) -> Response<Body> {
    let status = StatusCode::SERVICE_UNAVAILABLE;
    match kind {
        Some(TargetKind::Prism) => prism_error(
            status,
            "Service unavailable",
            "The Prism gateway is temporarily unavailable. Retry later.",
        ),
        Some(TargetKind::Token) => entra_error(
            status,
            "temporarily_unavailable",
            50196,
            "The server is temporarily too busy to handle the request. Please try again later.",
        ),
        _ => json_response(
            status,
            serde_json::json!({"error": {
                "code": "ServiceUnavailable",
                "message": "The server is currently unable to handle the request. Please retry the request later.",
            }}),
        ),
    }
}

fn throttled(kind: Option<TargetKind>, retry: u64, is_read: bool, sub: &str) -> Response<Body> {
    let status = StatusCode::TOO_MANY_REQUESTS;
    let mut r = match kind {
        Some(TargetKind::Prism) => prism_error(
            status,
            "Too many requests",
            &format!("Request rate limit exceeded. Retry after {retry} seconds."),
        ),
        Some(TargetKind::Token) => entra_error(
            status,
            "temporarily_unavailable",
            50196,
            "The server has throttled the request: too many requests from this client.",
        ),
        _ => {
            let op = if is_read { "read" } else { "write" };
            // ARM's subscription throttling answers the bare {code, message} shape.
            json_response(
                status,
                serde_json::json!({
                    "code": "TooManyRequests",
                    "message": format!("Number of '{op}' requests for subscription '{sub}' exceeded. Please try again after '{retry}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information."),
                }),
            )
        }
    };
    r.headers_mut()
        .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(retry));
    if kind == Some(TargetKind::Arm) {
        let name = if is_read { READS } else { WRITES };
        r.headers_mut()
            .insert(HeaderName::from_static(name), HeaderValue::from(0u32));
    }
    r
}

/// The error a service returns to make hyper close the connection without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
pub struct Dropped;

/// Applies a target's faults in front of an endpoint's router.
#[derive(Clone)]
pub struct FaultLayer {
    faults: Arc<Faults>,
    target: Arc<str>,
    on_write: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl FaultLayer {
    pub fn new(faults: Arc<Faults>, target: &str) -> Self {
        faults.register(target);
        Self {
            faults,
            target: target.into(),
            on_write: None,
        }
    }

    /// Called after every request that may have changed state (the persistence debounce).
    pub fn on_write(mut self, f: Arc<dyn Fn() + Send + Sync>) -> Self {
        self.on_write = Some(f);
        self
    }
}

impl<S> Layer<S> for FaultLayer {
    type Service = FaultService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        FaultService {
            inner,
            layer: self.clone(),
        }
    }
}

/// A request being handled (see [`FaultStats::in_flight`]).
struct InFlight {
    faults: Arc<Faults>,
    target: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(st) = self.faults.targets.lock().get_mut(&self.target) {
            st.stats.in_flight = st.stats.in_flight.saturating_sub(1);
        }
    }
}

#[derive(Clone)]
pub struct FaultService<S> {
    inner: S,
    layer: FaultLayer,
}

impl<S, B> Service<Request<B>> for FaultService<S>
where
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Dropped;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Dropped>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        let layer = self.layer.clone();
        Box::pin(async move {
            let _in_flight = layer.faults.entered(&layer.target);
            let is_read = matches!(
                *req.method(),
                axum::http::Method::GET | axum::http::Method::HEAD
            );
            match layer.faults.decide(&layer.target, is_read) {
                Decision::Drop => Err(Dropped),
                Decision::Respond(delay, resp) => {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    Ok(resp)
                }
                Decision::Pass(delay, headers) => {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let lose = layer.faults.loses_answer(
                        &layer.target,
                        req.method().as_str(),
                        req.uri().path(),
                    );
                    let mut resp = match inner.oneshot(req).await {
                        Ok(r) => r,
                        Err(never) => match never {},
                    };
                    for (k, v) in headers {
                        resp.headers_mut().insert(k, v);
                    }
                    if !is_read {
                        if let Some(f) = &layer.on_write {
                            f();
                        }
                    }
                    if lose {
                        // Carried out, state changed: only the answer is lost.
                        return Err(Dropped);
                    }
                    Ok(resp)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults() -> Arc<Faults> {
        let f = Faults::new(
            LabClock::frozen_at(chrono::DateTime::UNIX_EPOCH),
            "sub".into(),
        );
        f.register(ARM);
        f
    }

    #[test]
    fn writes_past_the_hourly_budget_are_counted_not_refused() {
        let f = faults();
        for _ in 0..ARM_WRITES_PER_HOUR + 3 {
            assert!(matches!(f.decide(ARM, false), Decision::Pass(..)));
        }
        assert!(matches!(f.decide(ARM, true), Decision::Pass(..)));
        let s = f.stats(ARM).unwrap();
        assert_eq!((s.budget_windows, s.writes_past_budget), (1, 3));
        // The hour turns at the first request after it ended: a fresh budget.
        f.clock.advance(Duration::from_secs(3_600));
        assert!(matches!(f.decide(ARM, false), Decision::Pass(..)));
        let s = f.stats(ARM).unwrap();
        assert_eq!((s.budget_windows, s.writes_past_budget), (2, 3));
        assert_eq!(s.budget_window_writes, 1);
        assert_eq!(s.budget_window_started_at, Some(f.clock.now()));
    }

    #[test]
    fn counts_are_exact_and_rate_limit_windows_follow_the_lab_clock() {
        let f = faults();
        f.set(
            ARM,
            FaultSpec {
                drop_next: 1,
                fail_next: 1,
                rate_limit: Some(RateLimit {
                    requests: 2,
                    window_secs: 60,
                }),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(matches!(f.decide(ARM, true), Decision::Drop));
        match f.decide(ARM, true) {
            Decision::Respond(_, r) => assert_eq!(r.status(), 503),
            _ => panic!("expected 503"),
        }
        assert!(matches!(f.decide(ARM, true), Decision::Pass(..)));
        assert!(matches!(f.decide(ARM, false), Decision::Pass(..)));
        match f.decide(ARM, true) {
            Decision::Respond(_, r) => {
                assert_eq!(r.status(), 429);
                assert_eq!(r.headers()["retry-after"], "60");
            }
            _ => panic!("expected 429"),
        }
        f.clock.advance(Duration::from_secs(60));
        assert!(matches!(f.decide(ARM, true), Decision::Pass(..)));
    }

    #[test]
    fn a_lost_answer_matches_method_and_path_pattern_and_counts_down() {
        let f = faults();
        f.set(
            ARM,
            FaultSpec {
                lose_answer: Some(LoseAnswer {
                    method: "put".into(),
                    path: "/subscriptions/*/SNAPSHOTS/*".into(),
                    count: 2,
                }),
                ..Default::default()
            },
        )
        .unwrap();
        let snap = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/snapshots/a";
        assert!(!f.loses_answer(ARM, "GET", snap), "another method");
        assert!(!f.loses_answer(ARM, "PUT", "/subscriptions/s/disks/a"));
        assert!(f.loses_answer(ARM, "PUT", snap));
        assert!(f.loses_answer(ARM, "PUT", snap));
        assert!(!f.loses_answer(ARM, "PUT", snap), "counted down to none");
        assert_eq!(f.get(ARM).unwrap().lose_answer, None);
        assert_eq!(f.stats(ARM).unwrap().answers_lost, 2);
        assert!(f
            .set(
                ARM,
                FaultSpec {
                    lose_answer: Some(LoseAnswer {
                        method: "POST".into(),
                        path: "/x".into(),
                        count: 0,
                    }),
                    ..Default::default()
                },
            )
            .is_err());
    }

    #[test]
    fn glob_patterns() {
        assert!(glob("/a/b", "/a/b"));
        assert!(!glob("/a/b", "/a/bc"));
        assert!(glob(
            "*/oob_schedules",
            "/v2.0/protection_domains/pd/oob_schedules"
        ));
        assert!(!glob(
            "*/oob_schedules",
            "/v2.0/protection_domains/pd/oob_schedules/1"
        ));
        assert!(glob("/a/*/c/*", "/a/x/y/c/z"));
        assert!(!glob("/a/*/c/*x", "/a/x/c/"));
        assert!(glob("*", ""));
    }

    #[test]
    fn unknown_targets_are_refused() {
        assert!(faults().set("azure:nope", FaultSpec::default()).is_err());
    }
}
