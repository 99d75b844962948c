//! Ergon tasks: QUEUED, then RUNNING, then SUCCEEDED or FAILED, read from simulated time. A task's
//! effect is applied by `advance` when its completion time has passed, so that a client sees the
//! change exactly when the task reports SUCCEEDED.

use serde_json::{json, Value};
use uuid::Uuid;

use super::error::{PrismError, PrismResult};
use super::model::{Cluster, Effect, Task, TaskEntity, TaskFailure};

/// Time a task waits in QUEUED before RUNNING.
pub const QUEUE_USECS: i64 = 1_000_000;

pub struct NewTask<'a> {
    pub kind: &'a str,
    pub operation_type: &'a str,
    pub method_name: &'a str,
    pub entities: Vec<TaskEntity>,
    pub run_usecs: i64,
    pub effect: Option<Effect>,
}

pub fn entity(kind: &str, id: impl ToString, name: impl Into<String>) -> TaskEntity {
    TaskEntity {
        id: id.to_string(),
        name: name.into(),
        entity_type: kind.to_string(),
    }
}

/// Whether the next task of `kind` is to fail (consuming one injected failure).
pub fn take_fault(cl: &mut Cluster, kind: &str) -> Option<TaskFailure> {
    let fault = cl.settings.task_faults.get_mut(kind)?;
    if fault.remaining == 0 {
        return None;
    }
    fault.remaining -= 1;
    let failure = TaskFailure {
        code: fault.error_code,
        detail: fault.message.clone(),
    };
    if fault.remaining == 0 {
        cl.settings.task_faults.remove(kind);
    }
    Some(failure)
}

pub fn create(cl: &mut Cluster, now: i64, t: NewTask<'_>) -> Uuid {
    let failure = take_fault(cl, t.kind);
    create_with(cl, now, t, failure)
}

pub fn create_with(
    cl: &mut Cluster,
    now: i64,
    t: NewTask<'_>,
    failure: Option<TaskFailure>,
) -> Uuid {
    let uuid = Uuid::new_v4();
    let start = now + QUEUE_USECS;
    cl.tasks.push(Task {
        uuid,
        kind: t.kind.to_string(),
        operation_type: t.operation_type.to_string(),
        method_name: t.method_name.to_string(),
        create_usecs: now,
        start_usecs: start,
        complete_usecs: start + t.run_usecs.max(1),
        entities: t.entities,
        effect: if failure.is_some() { None } else { t.effect },
        failure,
        applied: false,
    });
    uuid
}

pub fn status(t: &Task, now: i64) -> (&'static str, i64) {
    if now < t.start_usecs {
        ("QUEUED", 0)
    } else if now < t.complete_usecs {
        let span = (t.complete_usecs - t.start_usecs).max(1);
        let pct = ((now - t.start_usecs) * 100 / span).clamp(1, 99);
        ("RUNNING", pct)
    } else if t.failure.is_some() {
        ("FAILED", 100)
    } else {
        ("SUCCEEDED", 100)
    }
}

pub fn is_done(t: &Task, now: i64) -> bool {
    now >= t.complete_usecs
}

pub fn render(cl: &Cluster, t: &Task, now: i64) -> Value {
    let (progress, pct) = status(t, now);
    let mut v = json!({
        "uuid": t.uuid,
        "cluster_uuid": cl.uuid,
        "display_name": t.operation_type,
        "operation_type": t.operation_type,
        "meta_request": { "method_name": t.method_name },
        "create_time_usecs": t.create_usecs,
        "last_updated_time_usecs": now.min(t.complete_usecs).max(t.create_usecs),
        "entity_list": t.entities.iter().map(|e| json!({
            "entity_id": e.id, "entity_name": e.name, "entity_type": e.entity_type,
        })).collect::<Vec<_>>(),
        "message": "",
        "percentage_complete": pct,
        "progress_status": progress,
        "subtask_uuid_list": [],
    });
    let m = v.as_object_mut().expect("object");
    if now >= t.start_usecs {
        m.insert("start_time_usecs".into(), json!(t.start_usecs));
    }
    if is_done(t, now) {
        m.insert("complete_time_usecs".into(), json!(t.complete_usecs));
        let (code, detail) = match &t.failure {
            Some(f) => (f.code, f.detail.clone()),
            None => (0, String::new()),
        };
        m.insert(
            "meta_response".into(),
            json!({ "error_code": code, "error_detail": detail }),
        );
        if let Some(f) = &t.failure {
            m.insert("message".into(), json!(f.detail));
        }
    }
    v
}

pub fn get(cl: &Cluster, key: &str, now: i64) -> PrismResult<Value> {
    let uuid = Uuid::parse_str(key)
        .map_err(|_| PrismError::bad_request(format!("Invalid task UUID '{key}'")))?;
    let t = cl
        .tasks
        .iter()
        .find(|t| t.uuid == uuid)
        .ok_or_else(|| PrismError::not_found("Task", key))?;
    Ok(render(cl, t, now))
}

/// `POST /tasks/poll` for one instant: the completed tasks among those asked for.
pub fn poll_once(cl: &Cluster, wanted: &[Uuid], now: i64) -> PrismResult<Vec<Value>> {
    let mut out = Vec::new();
    for u in wanted {
        let t = cl
            .tasks
            .iter()
            .find(|t| t.uuid == *u)
            .ok_or_else(|| PrismError::not_found("Task", &u.to_string()))?;
        if is_done(t, now) {
            out.push(render(cl, t, now));
        }
    }
    Ok(out)
}

pub fn list(cl: &Cluster, now: i64, include_completed: bool) -> Value {
    let entities: Vec<Value> = cl
        .tasks
        .iter()
        .rev()
        .filter(|t| include_completed || !is_done(t, now))
        .map(|t| render(cl, t, now))
        .collect();
    super::collection(entities)
}
