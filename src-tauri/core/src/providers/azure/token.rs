//! Client-credentials tokens from Entra ID, cached until shortly before they expire.
//!
//! One refresh at a time: the cache sits behind an async mutex held across the request, so callers
//! arriving during a refresh wait for it and share its token instead of each asking Entra.

use std::sync::Arc;

use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use url::Url;

use super::error::{entra_error, ArmError};
use crate::clock::Clock;
use crate::secret::Secret;

/// Tokens are renewed this long before Entra says they expire (clock skew, long calls).
pub const REFRESH_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

const PUBLIC_SCOPE: &str = "https://management.azure.com/.default";

/// The scope for ARM at `arm_url`: `https://{host}/.default` for a cloud's own ARM host (public,
/// US Government, China), the public cloud's for a loopback or IP address (the lab stands for the
/// public cloud there).
pub fn scope_for(arm_url: &Url) -> String {
    match arm_url.host() {
        Some(url::Host::Domain(d)) if d != "localhost" => {
            format!("https://{}/.default", d.to_ascii_lowercase())
        }
        _ => PUBLIC_SCOPE.to_string(),
    }
}

/// The longest token life believed: Entra's are about an hour; a larger (or absurd) `expires_in`
/// from a proxy or a hostile answer is cut to this.
pub const MAX_TOKEN_LIFE_SECS: i64 = 86_400;

/// When a token asked for at `asked_at` that Entra says `expires_in` seconds should be renewed.
/// Measured from when we asked, so a slow answer does not stretch the token's life. Never panics:
/// `expires_in` is clamped to `0..=MAX_TOKEN_LIFE_SECS` and the date arithmetic is checked.
pub(crate) fn refresh_at(asked_at: DateTime<Utc>, expires_in: i64) -> DateTime<Utc> {
    let secs = expires_in.clamp(0, MAX_TOKEN_LIFE_SECS);
    let life = chrono::Duration::try_seconds(secs).unwrap_or_else(chrono::Duration::zero);
    let usable = life
        .checked_sub(&REFRESH_MARGIN)
        .unwrap_or_else(chrono::Duration::zero)
        .max(chrono::Duration::zero());
    asked_at.checked_add_signed(usable).unwrap_or(asked_at)
}

#[derive(Clone)]
struct Cached {
    token: Arc<Secret>,
    refresh_at: DateTime<Utc>,
}

pub struct TokenSource {
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    client_secret: Secret,
    scope: String,
    clock: Arc<dyn Clock>,
    retry: super::client::RetryPolicy,
    cache: tokio::sync::Mutex<Option<Cached>>,
    /// How many tokens were fetched from Entra (for tests and diagnostics).
    fetched: std::sync::atomic::AtomicU64,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    /// Seconds; Entra sends a number, some proxies a string.
    #[serde(deserialize_with = "number_or_string")]
    expires_in: i64,
}

fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| serde::de::Error::custom("expires_in is not an integer")),
        serde_json::Value::String(s) => s.trim().parse().map_err(serde::de::Error::custom),
        _ => Err(serde::de::Error::custom("expires_in is missing")),
    }
}
use serde::Deserialize;

impl TokenSource {
    /// For the account in `cfg`, asking for `scope`.
    pub fn new(
        http: reqwest::Client,
        cfg: &super::client::ArmConfig,
        scope: String,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ArmError> {
        let base = cfg.authority_url.as_str().trim_end_matches('/');
        let token_url = Url::parse(&format!("{base}/{}/oauth2/v2.0/token", cfg.tenant_id))
            .map_err(|e| ArmError::Config(format!("authority URL: {e}")))?;
        Ok(Self {
            http,
            token_url,
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.clone(),
            scope,
            clock,
            retry: cfg.retry.clone(),
            cache: tokio::sync::Mutex::new(None),
            fetched: Default::default(),
        })
    }

    pub fn fetched(&self) -> u64 {
        self.fetched.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A token valid for at least [`REFRESH_MARGIN`] by the client's clock.
    pub async fn token(&self) -> Result<Arc<Secret>, ArmError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            if self.clock.now() < c.refresh_at {
                return Ok(c.token.clone());
            }
        }
        // Entra is retried when busy or unreachable; a refusal of the credentials is final.
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.min_backoff)
            .with_max_delay(self.retry.max_backoff)
            .with_max_times(self.retry.max_retries)
            .with_jitter();
        let fresh = (|| self.fetch())
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e| match e {
                ArmError::Transport { .. } => true,
                ArmError::Auth { code, .. } => {
                    code == "temporarily_unavailable" || code.starts_with("http_5")
                }
                _ => false,
            })
            .notify(|e, wait| tracing::info!(?wait, error = %e, "token request will be retried"))
            .await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    /// Forgets `used` if it is still the cached token (ARM refused it); a newer one is kept.
    pub async fn invalidate(&self, used: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| *c.token == *used) {
            *cache = None;
        }
    }

    async fn fetch(&self) -> Result<Cached, ArmError> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose())
            .append_pair("scope", &self.scope)
            .finish();
        let asked_at = self.clock.now();
        let resp = self
            .http
            .post(self.token_url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .send()
            .await
            .map_err(|e| ArmError::Transport {
                what: format!(
                    "the Azure sign-in endpoint {}",
                    self.token_url.origin().ascii_serialization()
                ),
                message: super::client::describe_reqwest(&e),
            })?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| ArmError::Transport {
            what: "the Azure sign-in endpoint".into(),
            message: super::client::describe_reqwest(&e),
        })?;
        if !(200..300).contains(&status) {
            return Err(entra_error(status, &body));
        }
        let a: TokenAnswer =
            serde_json::from_slice(&body).map_err(|e| ArmError::decode("the token answer", e))?;
        self.fetched
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let refresh_at = refresh_at(asked_at, a.expires_in);
        Ok(Cached {
            token: Arc::new(Secret::new(a.access_token)),
            refresh_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_expires_in_is_clamped_not_a_panic() {
        let at = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            refresh_at(at, 3599),
            at + chrono::Duration::seconds(3599) - REFRESH_MARGIN
        );
        let day = at + chrono::Duration::seconds(MAX_TOKEN_LIFE_SECS) - REFRESH_MARGIN;
        assert_eq!(refresh_at(at, i64::MAX), day);
        assert_eq!(refresh_at(at, 10_000_000_000_000), day);
        assert_eq!(refresh_at(at, i64::MIN), at);
        assert_eq!(refresh_at(at, 60), at);
        // Near the end of chrono's range the addition is checked, not a panic.
        assert_eq!(
            refresh_at(DateTime::<Utc>::MAX_UTC, i64::MAX),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn scope_follows_the_cloud() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(scope_for(&u("https://management.azure.com")), PUBLIC_SCOPE);
        assert_eq!(
            scope_for(&u("https://management.usgovcloudapi.net/")),
            "https://management.usgovcloudapi.net/.default"
        );
        assert_eq!(scope_for(&u("https://127.0.0.1:8443")), PUBLIC_SCOPE);
    }
}
