//! The HTTP face of one cluster: base paths, authentication, and which call goes where.
//!
//! Routing is done here on path segments rather than with axum routes, so that both base paths and
//! Prism's optional trailing slashes (`/remote_sites/` and `/remote_sites`) reach the same code.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use uuid::Uuid;

use super::error::{PrismError, PrismResult};
use super::model::LabState;
use super::{body, inventory, protection, remote_sites, tasks, PrismLab};

const BASES: [&str; 2] = ["/PrismGateway/services/rest/v2.0", "/api/nutanix/v2.0"];
const MAX_BODY: usize = 8 * 1024 * 1024;
/// `POST /tasks/poll` waits at most this long in real time, whatever the client asks.
const MAX_POLL_WAIT: Duration = Duration::from_secs(30);

pub fn router(lab: Arc<PrismLab>, index: usize) -> Router {
    Router::new().fallback(move |req: Request| {
        let lab = lab.clone();
        async move { handle(lab, index, req).await }
    })
}

async fn handle(lab: Arc<PrismLab>, me: usize, req: Request) -> Response {
    let latency = lab.state.lock().clusters[me].settings.api_latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let (parts, body) = req.into_parts();
    let Some(rest) = BASES
        .iter()
        .find_map(|b| parts.uri.path().strip_prefix(b))
        .filter(|r| r.is_empty() || r.starts_with('/'))
    else {
        return PrismError::not_found("Resource", parts.uri.path()).into_response();
    };
    let segs: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();

    let new_session = match authenticate(&lab, me, &parts.headers) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return PrismError::bad_request("Request body too large").into_response(),
    };
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let result = match body::parse(&bytes) {
        Err(e) => Err(e),
        Ok(v) if parts.method == Method::POST && segs == ["tasks", "poll"] => {
            poll(&lab, me, &v).await
        }
        Ok(v) => lab.with_state(|st, now| dispatch(st, me, now, &parts.method, &segs, &query, &v)),
    };
    let mut resp = match result {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err(e) => e.into_response(),
    };
    if let Some(id) = new_session {
        let cookie = format!("JSESSIONID={id}; Path=/; Secure; HttpOnly");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// Accepts a known `JSESSIONID` cookie or Basic credentials; the latter open a new session whose id
/// is returned to be set as a cookie.
fn authenticate(lab: &PrismLab, me: usize, headers: &HeaderMap) -> PrismResult<Option<String>> {
    let mut st = lab.state.lock();
    let cl = &mut st.clusters[me];
    let cookie_ok = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().strip_prefix("JSESSIONID="))
        .any(|id| cl.sessions.iter().any(|s| s == id));
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
        })
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    match basic {
        Some(creds) => {
            let ok = creds
                .split_once(':')
                .is_some_and(|(u, p)| u == cl.username && p == cl.password);
            if !ok {
                return Err(PrismError::unauthorized());
            }
            if cookie_ok {
                return Ok(None);
            }
            let id = Uuid::new_v4().simple().to_string().to_uppercase();
            cl.sessions.push(id.clone());
            // A gateway keeps a bounded number of sessions; the oldest go first.
            if cl.sessions.len() > 1024 {
                cl.sessions.remove(0);
            }
            Ok(Some(id))
        }
        None if cookie_ok => Ok(None),
        None => Err(PrismError::unauthorized()),
    }
}

async fn poll(lab: &PrismLab, me: usize, req: &Value) -> PrismResult<Value> {
    let m = body::object(req)?;
    let ids = body::opt_str_list(m, "completed_tasks")?
        .ok_or_else(|| body::missing("completed_tasks"))?;
    let wanted: Vec<Uuid> = ids
        .iter()
        .map(|i| {
            Uuid::parse_str(i)
                .map_err(|_| PrismError::bad_request(format!("Invalid task UUID '{i}'")))
        })
        .collect::<PrismResult<_>>()?;
    let timeout = body::opt_i64(m, "timeout_interval")?.unwrap_or(0).max(0) as u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout).min(MAX_POLL_WAIT);
    loop {
        let (done, frozen) = lab.with_state(|st, now| {
            (
                tasks::poll_once(&st.clusters[me], &wanted, now),
                lab.clock.scale() == 0.0,
            )
        });
        let done = done?;
        // Nothing completes on a frozen clock by waiting: answer at once.
        if !done.is_empty() || frozen || tokio::time::Instant::now() >= deadline {
            let timed_out = done.is_empty();
            return Ok(json!({ "completed_tasks_info": done, "timed_out": timed_out }));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn dispatch(
    st: &mut LabState,
    me: usize,
    now: i64,
    method: &Method,
    segs: &[&str],
    query: &[(String, String)],
    req: &Value,
) -> PrismResult<Value> {
    let m = method.as_str();
    let cl = &mut st.clusters[me];
    match (m, segs) {
        ("GET", ["cluster"]) => Ok(json!({
            "uuid": cl.uuid, "id": format!("{}::{}", cl.uuid, cl.cluster_id), "name": cl.name,
            "cluster_external_ipaddress": cl.ip.to_string(), "version": "6.8.1", "full_version": "el8.5-release-fraser-6.8.1-stable",
            "cluster_incarnation_id": cl.incarnation_id, "hypervisor_types": ["kKvm"],
        })),
        ("GET", ["storage_containers"]) => Ok(inventory::containers(cl)),
        ("GET", ["storage_containers", id]) => inventory::container(cl, id),

        ("GET", ["vms"]) => Ok(inventory::vms(cl, query)),
        ("GET", ["vms", id]) => inventory::vm(cl, id, query),
        ("PUT", ["vms", id]) => {
            let mm = body::object(req)?;
            if body::opt_array(mm, "vm_disks")?.is_some() {
                inventory::update_vm_disks(cl, id, req, now)
            } else {
                Err(PrismError::bad_request(
                    "Only vm_disks updates (disk resize) are simulated on PUT /vms/{uuid}",
                ))
            }
        }
        ("PUT", ["vms", id, "disks", "update"]) => inventory::update_vm_disks(cl, id, req, now),
        ("POST", ["vms", id, "set_power_state"]) => inventory::set_power_state(cl, id, req, now),

        ("GET", ["volume_groups"]) => Ok(inventory::vgs(cl)),
        ("GET", ["volume_groups", id]) => inventory::vg(cl, id),
        ("POST", ["volume_groups", id, "clone"]) => inventory::clone_vg(cl, id, req, now),
        ("PUT", ["volume_groups", id, "disks"]) => inventory::update_vg_disk(cl, id, req, now),

        ("GET", ["tasks", id]) => tasks::get(cl, id, now),
        ("POST", ["tasks", "list"]) => Ok(tasks::list(cl, now, true)),

        ("GET", ["remote_sites"]) => Ok(remote_sites::list(st, me, query)),
        ("POST", ["remote_sites"]) => remote_sites::create(st, me, req),
        ("PUT", ["remote_sites"]) => remote_sites::update(st, me, req),
        ("GET", ["remote_sites", "dr_snapshots"]) => {
            protection::remote_snapshots(st, me, None, query, now)
        }
        ("GET", ["remote_sites", "pending_replications"]) => {
            protection::pending_replications(cl, None, None, now)
        }
        ("GET", ["remote_sites", name]) => remote_sites::get(st, me, name),
        ("DELETE", ["remote_sites", name]) => remote_sites::delete(st, me, name),
        ("GET", ["remote_sites", name, "dr_snapshots"]) => {
            protection::remote_snapshots(st, me, Some(name), query, now)
        }
        ("GET", ["remote_sites", name, "pending_replications"]) => {
            if cl.site(name).is_none() {
                return Err(PrismError::not_found("Remote site", name));
            }
            protection::pending_replications(cl, None, Some(name), now)
        }

        ("GET", ["protection_domains"]) => Ok(protection::list(cl, query)),
        ("POST", ["protection_domains"]) => protection::create(cl, req),
        ("GET", ["protection_domains", "dr_snapshots"]) => {
            protection::snapshots(cl, None, query, now)
        }
        ("GET", ["protection_domains", "replications"]) => protection::replications(st, me, None),
        ("GET", ["protection_domains", "pending_replications"]) => {
            protection::pending_replications(cl, None, None, now)
        }
        ("GET", ["protection_domains", pd]) => protection::get(cl, pd),
        ("DELETE", ["protection_domains", pd]) => protection::delete(cl, pd),
        ("POST", ["protection_domains", pd, "protect_vms"]) => protection::protect(cl, pd, req),
        ("POST", ["protection_domains", pd, "unprotect_vms"]) => protection::unprotect(cl, pd, req),
        ("GET", ["protection_domains", pd, "schedules"]) => protection::schedules(cl, pd),
        ("POST", ["protection_domains", pd, "schedules"]) => {
            protection::add_schedule(cl, pd, req, now)
        }
        ("DELETE", ["protection_domains", pd, "schedules"]) => {
            protection::delete_schedules(cl, pd, None)
        }
        ("PUT", ["protection_domains", pd, "schedules", id]) => {
            protection::update_schedule(cl, pd, id, req, now)
        }
        ("DELETE", ["protection_domains", pd, "schedules", id]) => {
            protection::delete_schedules(cl, pd, Some(id))
        }
        ("POST", ["protection_domains", pd, "schedules", id, "retention_policies"]) => {
            protection::set_retention(cl, pd, id, req)
        }
        ("POST", ["protection_domains", pd, "oob_schedules"]) => {
            protection::add_oob(st, me, pd, req, now)
        }
        ("GET", ["protection_domains", pd, "oob_schedules"]) => protection::oob_list(cl, pd),
        ("GET", ["protection_domains", pd, "dr_snapshots"]) => {
            protection::snapshots(cl, Some(pd), query, now)
        }
        ("DELETE", ["protection_domains", pd, "dr_snapshots", id]) => {
            protection::delete_snapshot(cl, pd, id)
        }
        ("GET", ["protection_domains", pd, "replications"]) => {
            protection::replications(st, me, Some(pd))
        }
        ("GET", ["protection_domains", pd, "pending_replications"]) => {
            protection::pending_replications(cl, Some(pd), None, now)
        }
        ("POST", ["protection_domains", pd, "restore_entities"]) => {
            protection::restore(cl, pd, req, now)
        }

        _ => Err(PrismError::not_found(
            "Resource",
            &format!("{m} /{}", segs.join("/")),
        )),
    }
}
