//! The control API (`/_lab/...`, plain HTTP on its own loopback listener): time, faults, endpoints
//! down and up, certificate rotation, the full state for assertions, and the simulators' own
//! control routes under `/_lab/prism` and `/_lab/azure`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::faults::FaultSpec;
use crate::Core;

fn problem(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": message.to_string()}))).into_response()
}

pub(crate) fn router(core: Arc<Core>) -> Router {
    let own = Router::new()
        .route("/state", get(state))
        .route("/endpoints", get(endpoints))
        .route("/time", get(time))
        .route("/time/advance", post(advance))
        .route("/time/scale", post(scale))
        .route("/faults", get(list_faults).delete(clear_faults))
        .route(
            "/faults/{target}",
            get(get_fault).put(set_fault).delete(clear_fault),
        )
        .route("/faults/{target}/stats", get(fault_stats))
        .route("/endpoints/{target}/down", post(down))
        .route("/endpoints/{target}/up", post(up))
        .route("/certificates/{cluster}/rotate", post(rotate))
        .with_state(core.clone());
    let dirty = core.dirty.clone();
    Router::new().nest(
        "/_lab",
        own.nest("/prism", core.prism.control_router())
            .nest("/azure", core.azure.control_router())
            // Control calls change state as much as API calls do: save after them too.
            .layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| {
                    let dirty = dirty.clone();
                    async move {
                        let write = req.method() != axum::http::Method::GET;
                        let resp = next.run(req).await;
                        if write {
                            dirty.notify_one();
                        }
                        resp
                    }
                },
            )),
    )
}

async fn state(State(core): State<Arc<Core>>) -> Json<serde_json::Value> {
    Json(core.state_json())
}

async fn endpoints(State(core): State<Arc<Core>>) -> Json<serde_json::Value> {
    Json(core.endpoints_json())
}

async fn time(State(core): State<Arc<Core>>) -> Json<serde_json::Value> {
    Json(json!({"now": core.clock.now(), "scale": core.clock.scale()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceReq {
    seconds: f64,
}

async fn advance(State(core): State<Arc<Core>>, Json(req): Json<AdvanceReq>) -> Response {
    if !req.seconds.is_finite() || req.seconds < 0.0 {
        return problem(StatusCode::BAD_REQUEST, "seconds must be >= 0");
    }
    core.clock.advance(Duration::from_secs_f64(req.seconds));
    Json(json!({"now": core.clock.now(), "scale": core.clock.scale()})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaleReq {
    scale: f64,
}

async fn scale(State(core): State<Arc<Core>>, Json(req): Json<ScaleReq>) -> Response {
    if !req.scale.is_finite() || req.scale < 0.0 {
        return problem(StatusCode::BAD_REQUEST, "scale must be >= 0");
    }
    core.clock.set_scale(req.scale);
    Json(json!({"now": core.clock.now(), "scale": core.clock.scale()})).into_response()
}

async fn list_faults(State(core): State<Arc<Core>>) -> Json<serde_json::Value> {
    Json(json!(core.faults.all()))
}

async fn clear_faults(State(core): State<Arc<Core>>) -> Json<serde_json::Value> {
    for t in core.faults.targets() {
        let _ = core.set_down(&t, false);
    }
    core.faults.clear_all();
    Json(json!(core.faults.all()))
}

async fn get_fault(State(core): State<Arc<Core>>, Path(target): Path<String>) -> Response {
    match core.faults.get(&target) {
        Some(f) => Json(f).into_response(),
        None => problem(StatusCode::NOT_FOUND, format!("unknown target {target:?}")),
    }
}

async fn fault_stats(State(core): State<Arc<Core>>, Path(target): Path<String>) -> Response {
    match core.faults.stats(&target) {
        Some(s) => Json(s).into_response(),
        None => problem(StatusCode::NOT_FOUND, format!("unknown target {target:?}")),
    }
}

async fn set_fault(
    State(core): State<Arc<Core>>,
    Path(target): Path<String>,
    Json(spec): Json<FaultSpec>,
) -> Response {
    let down = spec.down;
    if let Err(e) = core.faults.set(&target, spec) {
        return problem(StatusCode::BAD_REQUEST, e);
    }
    if let Err(e) = core.set_down(&target, down) {
        return problem(StatusCode::BAD_REQUEST, e);
    }
    Json(core.faults.get(&target)).into_response()
}

async fn clear_fault(State(core): State<Arc<Core>>, Path(target): Path<String>) -> Response {
    if let Err(e) = core.faults.set(&target, FaultSpec::default()) {
        return problem(StatusCode::NOT_FOUND, e);
    }
    let _ = core.set_down(&target, false);
    Json(core.faults.get(&target)).into_response()
}

async fn down(State(core): State<Arc<Core>>, Path(target): Path<String>) -> Response {
    match core.set_down(&target, true) {
        Ok(()) => Json(json!({"target": target, "down": true})).into_response(),
        Err(e) => problem(StatusCode::NOT_FOUND, e),
    }
}

async fn up(State(core): State<Arc<Core>>, Path(target): Path<String>) -> Response {
    match core.set_down(&target, false) {
        Ok(()) => Json(json!({"target": target, "down": false})).into_response(),
        Err(e) => problem(StatusCode::NOT_FOUND, e),
    }
}

async fn rotate(State(core): State<Arc<Core>>, Path(cluster): Path<String>) -> Response {
    let cluster = cluster
        .strip_prefix("prism:")
        .unwrap_or(&cluster)
        .to_string();
    match core.rotate_certificate(&cluster) {
        Ok(pair) => Json(json!({
            "cluster": cluster,
            "certificate_sha256": pair.sha256_hex(),
            "certificate_pem": pair.cert_pem,
        }))
        .into_response(),
        Err(e) => problem(StatusCode::NOT_FOUND, e),
    }
}
