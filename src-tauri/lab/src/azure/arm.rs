//! ARM's front door: authentication, path routing (case-insensitive), api-version, subscription and
//! resource group checks, then the resource handlers.

use std::collections::HashMap;

use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use parking_lot::MutexGuard;
use serde_json::{json, Value};

use super::ids::{self, Kind};
use super::model::{normalize_location, AzureState};
use super::reply::{ArmError, ArmReply, ArmResult};
use super::{disks, ops, snapshots, token, vms, AzureLab, Settings};

/// Everything a handler needs for one request, with the state locked.
pub(super) struct Ctx<'a> {
    pub lab: &'a AzureLab,
    pub now: DateTime<Utc>,
    /// `https://host:port` as the client addressed ARM (links point back there).
    pub base: String,
    pub api_version: String,
    pub query: HashMap<String, String>,
    pub st: MutexGuard<'a, AzureState>,
    pub settings: Settings,
}

impl Ctx<'_> {
    pub fn sub(&self) -> &str {
        &self.lab.cfg.subscription_id
    }

    pub fn id(&self, resource_group: &str, kind: Kind, name: &str) -> String {
        ids::format(self.sub(), resource_group, kind, name)
    }

    pub fn known_region(&self, location: &str, kind: Kind) -> Result<String, ArmError> {
        let loc = normalize_location(location);
        let regions = [&self.lab.cfg.primary_region, &self.lab.cfg.secondary_region];
        if regions.iter().any(|r| **r == loc) {
            Ok(loc)
        } else {
            Err(ArmError::bad_request(
                "LocationNotAvailableForResourceType",
                format!(
                    "The provided location '{location}' is not available for resource type 'Microsoft.Compute/{}'. List of available regions for the resource type is '{},{}'.",
                    kind.segment(),
                    self.lab.cfg.primary_region,
                    self.lab.cfg.secondary_region
                ),
            )
            .with_target("location"))
        }
    }

    /// A region that is down answers 503 for its resources.
    pub fn region_up(&self, location: &str) -> Result<(), ArmError> {
        if self.st.regions_down.iter().any(|r| r == location) {
            let mut e = ArmError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                format!("The service is unavailable in region '{location}'. Please retry the request later."),
            );
            e.headers.push(("retry-after", "30".into()));
            return Err(e);
        }
        Ok(())
    }

    /// One page of a list, with `nextLink` when more follow. Only the page's items are rendered,
    /// so listing 15,000 disks page by page stays linear.
    pub fn page<T>(&self, items: Vec<&T>, render: impl Fn(&T) -> Value, path: &str) -> ArmReply {
        let skip: usize = self
            .query
            .get("$skiptoken")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let size = self.settings.page_size;
        let total = items.len();
        let end = (skip + size).min(total);
        let slice: Vec<Value> = items
            .into_iter()
            .skip(skip)
            .take(size)
            .map(render)
            .collect();
        let mut body = json!({ "value": slice });
        if end < total {
            // The next page answers the same question: the list's other parameters
            // (`statusOnly`) go along, as in ARM's own links.
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("api-version", &self.api_version);
            let mut kept: Vec<(&String, &String)> = self
                .query
                .iter()
                .filter(|(k, _)| {
                    !k.eq_ignore_ascii_case("api-version") && !k.eq_ignore_ascii_case("$skiptoken")
                })
                .collect();
            kept.sort();
            for (k, v) in kept {
                query.append_pair(k, v);
            }
            body["nextLink"] = json!(format!(
                "{}{}?{}&$skiptoken={}",
                self.base,
                path,
                query.finish(),
                end
            ));
        }
        ArmReply::ok(body)
    }
}

#[derive(Debug)]
enum Route {
    List {
        resource_group: Option<String>,
        kind: Kind,
    },
    Item {
        resource_group: String,
        kind: Kind,
        name: String,
    },
    VmAction {
        resource_group: String,
        name: String,
        action: String,
    },
    Usages {
        location: String,
    },
    Operation {
        location: String,
        id: String,
    },
}

fn parse_route(path: &str) -> Option<(String, Route)> {
    let s: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let eq = |i: usize, lit: &str| s.get(i).is_some_and(|x| x.eq_ignore_ascii_case(lit));
    if !eq(0, "subscriptions") || s.len() < 2 {
        return None;
    }
    let sub = s[1].to_string();
    if eq(2, "resourceGroups") && eq(4, "providers") && eq(5, "Microsoft.Compute") {
        let rg = s.get(3)?.to_string();
        let kind = Kind::parse(s.get(6)?)?;
        let route = match s.len() {
            7 => Route::List {
                resource_group: Some(rg),
                kind,
            },
            8 => Route::Item {
                resource_group: rg,
                kind,
                name: s[7].to_string(),
            },
            9 if kind == Kind::VirtualMachines => Route::VmAction {
                resource_group: rg,
                name: s[7].to_string(),
                action: s[8].to_ascii_lowercase(),
            },
            _ => return None,
        };
        return Some((sub, route));
    }
    if eq(2, "providers") && eq(3, "Microsoft.Compute") {
        if s.len() == 5 {
            return Some((
                sub,
                Route::List {
                    resource_group: None,
                    kind: Kind::parse(s[4])?,
                },
            ));
        }
        if eq(4, "locations") && s.len() >= 7 {
            let location = s[5].to_string();
            if eq(6, "usages") && s.len() == 7 {
                return Some((sub, Route::Usages { location }));
            }
            if eq(6, "operations") && s.len() == 8 {
                return Some((
                    sub,
                    Route::Operation {
                        location,
                        id: s[7].to_string(),
                    },
                ));
            }
        }
    }
    None
}

fn api_versions<'a>(lab: &'a AzureLab, route: &Route) -> Vec<&'a String> {
    let disk = || lab.cfg.disk_api_versions.iter().collect::<Vec<_>>();
    let compute = || lab.cfg.compute_api_versions.iter().collect::<Vec<_>>();
    match route {
        Route::List { kind, .. } | Route::Item { kind, .. } => match kind {
            Kind::Disks | Kind::Snapshots => disk(),
            Kind::VirtualMachines => compute(),
        },
        Route::VmAction { .. } | Route::Usages { .. } => compute(),
        Route::Operation { .. } => disk().into_iter().chain(compute()).collect(),
    }
}

fn parse_body(method: &Method, body: &[u8]) -> Result<Value, ArmError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(if *method == Method::POST {
            Value::Null
        } else {
            json!({})
        });
    }
    serde_json::from_slice(body).map_err(|e| {
        ArmError::bad_request(
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: '{e}'."),
        )
    })
}

pub(super) fn handle(lab: &AzureLab, parts: &Parts, body: &[u8]) -> ArmResult {
    let now = lab.clock.now();
    let key = lab.state.lock().token_key.clone();
    let auth = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    token::verify(&key, &lab.cfg, auth, now)?;

    let path = parts.uri.path();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let Some((sub, route)) = parse_route(path) else {
        return Err(ArmError::new(
            StatusCode::NOT_FOUND,
            "InvalidResourceType",
            format!("The resource type could not be found for the request path '{path}'. The lab serves Microsoft.Compute disks, snapshots, virtualMachines, usages and operations."),
        ));
    };
    let supported = api_versions(lab, &route);
    let api_version = match query.get("api-version") {
        None => {
            return Err(ArmError::bad_request(
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            ))
        }
        Some(v) if !supported.contains(&v) => {
            let list: Vec<&str> = supported.iter().map(|s| s.as_str()).collect();
            return Err(ArmError::bad_request(
                "InvalidApiVersionParameter",
                format!(
                    "The api-version '{v}' is invalid. The supported versions are '{}'.",
                    list.join(",")
                ),
            ));
        }
        Some(v) => v.clone(),
    };
    if !sub.eq_ignore_ascii_case(&lab.cfg.subscription_id) {
        return Err(ArmError::new(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!("The subscription '{sub}' could not be found."),
        ));
    }
    let host = parts
        .headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("management.azure.com");
    let mut ctx = Ctx {
        lab,
        now,
        base: format!("https://{host}"),
        api_version,
        query,
        st: lab.state.lock(),
        settings: lab.settings.lock().clone(),
    };
    let rg_name = match &route {
        Route::List {
            resource_group: Some(rg),
            ..
        }
        | Route::Item {
            resource_group: rg, ..
        }
        | Route::VmAction {
            resource_group: rg, ..
        } => Some(rg.clone()),
        _ => None,
    };
    let rg = match rg_name {
        Some(name) => match ctx.st.resource_groups.get(&name.to_ascii_lowercase()) {
            Some(rg) => Some(rg.name.clone()),
            None => {
                return Err(ArmError::new(
                    StatusCode::NOT_FOUND,
                    "ResourceGroupNotFound",
                    format!("Resource group '{name}' could not be found."),
                ))
            }
        },
        None => None,
    };
    let method = parts.method.clone();
    let needs_body = matches!(method, Method::PUT | Method::PATCH | Method::POST);
    let body = if needs_body {
        parse_body(&method, body)?
    } else {
        Value::Null
    };

    match (route, method) {
        (Route::List { kind, .. }, Method::GET) => match kind {
            Kind::Disks => disks::list(&mut ctx, rg.as_deref(), path),
            Kind::Snapshots => snapshots::list(&mut ctx, rg.as_deref(), path),
            Kind::VirtualMachines => vms::list(&mut ctx, rg.as_deref(), path),
        },
        (Route::Item { kind, name, .. }, m) => {
            let rg = rg.unwrap_or_default();
            match (kind, m) {
                (Kind::Disks, Method::GET) => disks::get(&mut ctx, &rg, &name),
                (Kind::Disks, Method::PUT) => disks::put(&mut ctx, &rg, &name, &body),
                (Kind::Disks, Method::PATCH) => disks::patch(&mut ctx, &rg, &name, &body),
                (Kind::Disks, Method::DELETE) => disks::delete(&mut ctx, &rg, &name),
                (Kind::Snapshots, Method::GET) => snapshots::get(&mut ctx, &rg, &name),
                (Kind::Snapshots, Method::PUT) => snapshots::put(&mut ctx, &rg, &name, &body),
                (Kind::Snapshots, Method::PATCH) => snapshots::patch(&mut ctx, &rg, &name, &body),
                (Kind::Snapshots, Method::DELETE) => snapshots::delete(&mut ctx, &rg, &name),
                (Kind::VirtualMachines, Method::GET) => vms::get(&mut ctx, &rg, &name),
                (Kind::VirtualMachines, Method::PUT) => {
                    vms::update(&mut ctx, &rg, &name, &body, true)
                }
                (Kind::VirtualMachines, Method::PATCH) => {
                    vms::update(&mut ctx, &rg, &name, &body, false)
                }
                (_, m) => Err(method_not_allowed(&m)),
            }
        }
        (Route::VmAction { name, action, .. }, m) => {
            let rg = rg.unwrap_or_default();
            match (action.as_str(), m) {
                ("instanceview", Method::GET) => vms::instance_view(&mut ctx, &rg, &name),
                ("deallocate" | "start" | "poweroff", Method::POST) => {
                    vms::power(&mut ctx, &rg, &name, &action)
                }
                ("attachdetachdatadisks", Method::POST) => {
                    vms::attach_detach(&mut ctx, &rg, &name, &body)
                }
                (_, m) => Err(method_not_allowed(&m)),
            }
        }
        (Route::Usages { location }, Method::GET) => ops::usages(&mut ctx, &location, path),
        (Route::Operation { location, id }, Method::GET) => ops::status(&mut ctx, &location, &id),
        (_, m) => Err(method_not_allowed(&m)),
    }
}

fn method_not_allowed(m: &Method) -> ArmError {
    ArmError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "HttpMethodNotAllowed",
        format!("The HTTP method '{m}' is not supported for this resource path."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_case_insensitively() {
        let (_, r) =
            parse_route("/SUBSCRIPTIONS/s/resourcegroups/rg/providers/microsoft.compute/DISKS")
                .unwrap();
        assert!(matches!(
            r,
            Route::List {
                kind: Kind::Disks,
                resource_group: Some(_)
            }
        ));
        let (_, r) = parse_route("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/instanceView").unwrap();
        assert!(matches!(r, Route::VmAction { ref action, .. } if action == "instanceview"));
        let (_, r) =
            parse_route("/subscriptions/s/providers/Microsoft.Compute/locations/westeurope/usages")
                .unwrap();
        assert!(matches!(r, Route::Usages { .. }));
        assert!(
            parse_route("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/x")
                .is_none()
        );
    }
}
