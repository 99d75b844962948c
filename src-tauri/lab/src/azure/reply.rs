//! ARM answers: success bodies with their headers, and errors in ARM's `{"error": {...}}` shape.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct ArmError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub target: Option<String>,
    pub headers: Vec<(&'static str, String)>,
}

impl ArmError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.into(),
            target: None,
            headers: Vec::new(),
        }
    }
    pub fn with_target(mut self, target: &str) -> Self {
        self.target = Some(target.to_string());
        self
    }
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    /// ARM's answer for a property a request must have.
    pub fn missing(path: &str) -> Self {
        let leaf = path.rsplit('.').next().unwrap_or(path);
        Self::bad_request(
            "InvalidParameter",
            format!("Required parameter '{leaf}' is missing (null)."),
        )
        .with_target(path)
    }
    /// ARM's answer when a body does not deserialise (wrong type, unknown enum value).
    pub fn invalid_content(path: &str, detail: &str) -> Self {
        Self::bad_request(
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: '{detail}. Path '{path}'.'"),
        )
        .with_target(path)
    }
    pub fn not_found(kind: &str, name: &str, resource_group: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!("The Resource 'Microsoft.Compute/{kind}/{name}' under resource group '{resource_group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"),
        )
    }
    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::conflict("OperationNotAllowed", message)
    }

    pub fn body(&self) -> Value {
        let mut e = json!({"code": self.code, "message": self.message});
        if let Some(t) = &self.target {
            e["target"] = json!(t);
        }
        json!({ "error": e })
    }
}

/// A successful ARM answer.
#[derive(Debug)]
pub struct ArmReply {
    pub status: StatusCode,
    pub body: Option<Value>,
    pub headers: Vec<(&'static str, String)>,
}

impl ArmReply {
    pub fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(body),
            headers: Vec::new(),
        }
    }
    pub fn status(status: StatusCode, body: Option<Value>) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

pub type ArmResult = Result<ArmReply, ArmError>;

fn build(
    status: StatusCode,
    body: Option<Value>,
    headers: &[(&'static str, String)],
) -> Response<Body> {
    let mut r = match body {
        Some(b) => {
            let mut r = Response::new(Body::from(b.to_string()));
            r.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            r
        }
        None => Response::new(Body::empty()),
    };
    *r.status_mut() = status;
    let id = uuid::Uuid::new_v4().to_string();
    for (name, value) in [
        ("x-ms-request-id", id.clone()),
        ("x-ms-correlation-request-id", id),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            r.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            r.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
    r
}

pub fn into_response(result: ArmResult) -> Response<Body> {
    match result {
        Ok(reply) => build(reply.status, reply.body, &reply.headers),
        Err(e) => build(e.status, Some(e.body()), &e.headers),
    }
}

pub fn arm_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}
