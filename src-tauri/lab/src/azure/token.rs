//! The Entra ID client-credentials token endpoint, and ARM's check of the bearer tokens it issues.
//!
//! Tokens are JWT-shaped (header.claims.signature, base64url) so that a client that peeks at `exp`
//! finds it, signed with a keyed SHA-256 over the lab's own key (the lab is not an identity
//! provider; the product must treat tokens as opaque). Expiry follows the lab clock.

use axum::body::Body;
use axum::http::{Response, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::reply::ArmError;
use crate::config::AzureConfig;
use crate::faults::entra_error;

pub const ARM_AUDIENCE: &str = "https://management.azure.com/";
const ARM_SCOPE: &str = "https://management.azure.com/.default";

fn sign(key: &str, signing_input: &str) -> String {
    let mut h = Sha256::new();
    h.update(key.as_bytes());
    h.update(b".");
    h.update(signing_input.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

pub fn issue(key: &str, cfg: &AzureConfig, now: DateTime<Utc>) -> String {
    let header = URL_SAFE_NO_PAD
        .encode(json!({"typ": "JWT", "alg": "LAB-SHA256", "kid": "standby-lab"}).to_string());
    let iat = now.timestamp();
    let claims = URL_SAFE_NO_PAD.encode(
        json!({
            "aud": ARM_AUDIENCE,
            "iss": format!("https://sts.windows.net/{}/", cfg.tenant_id),
            "iat": iat,
            "nbf": iat,
            "exp": iat + cfg.token_lifetime_secs,
            "appid": cfg.client_id,
            "tid": cfg.tenant_id,
            "oid": cfg.client_id,
            "sub": cfg.client_id,
            "idtyp": "app",
            "ver": "1.0",
        })
        .to_string(),
    );
    let input = format!("{header}.{claims}");
    let sig = sign(key, &input);
    format!("{input}.{sig}")
}

fn www_authenticate(cfg: &AzureConfig, error: Option<&str>) -> (&'static str, String) {
    let mut v = format!(
        "Bearer authorization_uri=\"https://login.microsoftonline.com/{}\", error_uri=\"https://login.microsoftonline.com/error\"",
        cfg.tenant_id
    );
    if let Some(e) = error {
        v.push_str(&format!(
            ", error=\"{e}\", error_description=\"The access token is invalid or expired\""
        ));
    }
    ("www-authenticate", v)
}

fn unauthorized(cfg: &AzureConfig, code: &str, message: String, token_error: bool) -> ArmError {
    let mut e = ArmError::new(StatusCode::UNAUTHORIZED, code, message);
    e.headers.push(www_authenticate(
        cfg,
        token_error.then_some("invalid_token"),
    ));
    e
}

/// ARM's check of `Authorization: Bearer ...`, with ARM's 401 codes.
pub fn verify(
    key: &str,
    cfg: &AzureConfig,
    authorization: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), ArmError> {
    let Some(auth) = authorization else {
        return Err(unauthorized(
            cfg,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.".into(),
            false,
        ));
    };
    let token = match auth.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
        _ => return Err(unauthorized(
            cfg,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is provided in an invalid format."
                .into(),
            false,
        )),
    };
    let invalid = || {
        unauthorized(
            cfg,
            "InvalidAuthenticationToken",
            "The access token is invalid.".into(),
            true,
        )
    };
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    if sign(key, &format!("{h}.{c}")) != s {
        return Err(invalid());
    }
    let claims: serde_json::Value = URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(invalid)?;
    if claims["aud"].as_str() != Some(ARM_AUDIENCE) {
        return Err(unauthorized(
            cfg,
            "InvalidAuthenticationTokenAudience",
            "The access token has been obtained for wrong audience or resource.".into(),
            true,
        ));
    }
    if claims["tid"].as_str() != Some(cfg.tenant_id.as_str()) {
        return Err(unauthorized(
            cfg,
            "InvalidAuthenticationTokenTenant",
            format!("The access token is from the wrong issuer. It must match the tenant 'https://sts.windows.net/{}/' associated with this subscription.", cfg.tenant_id),
            true,
        ));
    }
    let exp = claims["exp"].as_i64().ok_or_else(invalid)?;
    if now.timestamp() >= exp {
        let exp_t = Utc.timestamp_opt(exp, 0).single().unwrap_or_default();
        let fmt = |t: DateTime<Utc>| t.format("%-m/%-d/%Y %-I:%M:%S %p").to_string();
        return Err(unauthorized(
            cfg,
            "ExpiredAuthenticationToken",
            format!(
                "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                fmt(exp_t),
                fmt(now)
            ),
            true,
        ));
    }
    Ok(())
}

/// `POST /{tenant}/oauth2/v2.0/token` with a form body.
pub fn token_endpoint(
    key: &str,
    cfg: &AzureConfig,
    tenant: &str,
    form: &[u8],
    now: DateTime<Utc>,
) -> Response<Body> {
    let bad =
        |error: &str, code: u32, msg: &str| entra_error(StatusCode::BAD_REQUEST, error, code, msg);
    if !tenant.eq_ignore_ascii_case(&cfg.tenant_id) {
        return bad(
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        );
    }
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(form).into_owned().collect();
    let missing = |p: &str| {
        bad(
            "invalid_request",
            900144,
            &format!("The request body must contain the following parameter: '{p}'."),
        )
    };
    let Some(grant) = params.get("grant_type") else {
        return missing("grant_type");
    };
    if grant != "client_credentials" {
        return bad(
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{grant}'."),
        );
    }
    let Some(client_id) = params.get("client_id") else {
        return missing("client_id");
    };
    if !client_id.eq_ignore_ascii_case(&cfg.client_id) {
        return bad(
            "unauthorized_client",
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."),
        );
    }
    let Some(scope) = params.get("scope") else {
        return missing("scope");
    };
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    if scopes.iter().any(|s| !s.ends_with("/.default")) {
        return bad(
            "invalid_scope",
            1002012,
            &format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
        );
    }
    if scopes.len() != 1 || !scopes[0].eq_ignore_ascii_case(ARM_SCOPE) {
        return bad(
            "invalid_resource",
            500011,
            &format!("The resource principal named {} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", scopes.first().copied().unwrap_or(""), tenant),
        );
    }
    let Some(secret) = params.get("client_secret") else {
        return entra_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
        );
    };
    if secret != &cfg.client_secret {
        return entra_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", cfg.client_id),
        );
    }
    let token = issue(key, cfg, now);
    let body = json!({
        "token_type": "Bearer",
        "expires_in": cfg.token_lifetime_secs,
        "ext_expires_in": cfg.token_lifetime_secs,
        "access_token": token,
    });
    let mut r = Response::new(Body::from(body.to_string()));
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store, no-cache"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_they_expire_and_not_when_tampered() {
        let cfg = AzureConfig::default();
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let t = issue("k", &cfg, now);
        assert!(verify("k", &cfg, Some(&format!("Bearer {t}")), now).is_ok());
        let later = now + chrono::Duration::seconds(cfg.token_lifetime_secs);
        let e = verify("k", &cfg, Some(&format!("Bearer {t}")), later).unwrap_err();
        assert_eq!(e.code, "ExpiredAuthenticationToken");
        let e = verify("other", &cfg, Some(&format!("Bearer {t}")), now).unwrap_err();
        assert_eq!(e.code, "InvalidAuthenticationToken");
        let e = verify("k", &cfg, None, now).unwrap_err();
        assert_eq!(e.code, "AuthenticationFailed");
    }
}
