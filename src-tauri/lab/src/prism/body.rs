//! Reading request bodies the way Prism's Jackson-based gateway does: unknown fields are ignored,
//! numbers and booleans may come as strings, but a wrong type, a missing required field or a value
//! outside an enum is a 400 with a message naming the field.

use serde_json::{Map, Value};

use super::error::{PrismError, PrismResult};

pub fn parse(bytes: &[u8]) -> PrismResult<Value> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes)
        .map_err(|e| PrismError::bad_request(format!("Malformed JSON request body: {e}")))
}

pub fn object(v: &Value) -> PrismResult<&Map<String, Value>> {
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => Err(PrismError::bad_request("Request body is required")),
        other => Err(PrismError::bad_request(format!(
            "Cannot deserialize request body: expected a JSON object, got {}",
            kind(other)
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_error(field: &str, want: &str, got: &Value) -> PrismError {
    PrismError::bad_request(format!(
        "Cannot deserialize field '{field}': expected {want}, got {} {got}",
        kind(got)
    ))
}

fn present<'a>(m: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    m.get(field).filter(|v| !v.is_null())
}

pub fn opt_str(m: &Map<String, Value>, field: &str) -> PrismResult<Option<String>> {
    match present(m, field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        // Jackson turns scalars into strings when the target is a String.
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(type_error(field, "string", other)),
    }
}

pub fn req_str(m: &Map<String, Value>, field: &str) -> PrismResult<String> {
    match opt_str(m, field)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(missing(field)),
    }
}

pub fn missing(field: &str) -> PrismError {
    PrismError::bad_request(format!("Missing required field '{field}'"))
}

pub fn opt_bool(m: &Map<String, Value>, field: &str) -> PrismResult<Option<bool>> {
    match present(m, field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(type_error(field, "boolean", other)),
    }
}

pub fn opt_i64(m: &Map<String, Value>, field: &str) -> PrismResult<Option<i64>> {
    match present(m, field) {
        None => Ok(None),
        Some(v) => as_i64(v)
            .map(Some)
            .ok_or_else(|| type_error(field, "integer", v)),
    }
}

pub fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn opt_u64(m: &Map<String, Value>, field: &str) -> PrismResult<Option<u64>> {
    match opt_i64(m, field)? {
        None => Ok(None),
        Some(n) if n >= 0 => Ok(Some(n as u64)),
        Some(n) => Err(PrismError::bad_request(format!(
            "Field '{field}' must not be negative, got {n}"
        ))),
    }
}

pub fn opt_str_list(m: &Map<String, Value>, field: &str) -> PrismResult<Option<Vec<String>>> {
    match present(m, field) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(type_error(&format!("{field}[]"), "string", other)),
            })
            .collect::<PrismResult<Vec<_>>>()
            .map(Some),
        Some(other) => Err(type_error(field, "array of strings", other)),
    }
}

pub fn opt_object<'a>(
    m: &'a Map<String, Value>,
    field: &str,
) -> PrismResult<Option<&'a Map<String, Value>>> {
    match present(m, field) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(type_error(field, "object", other)),
    }
}

pub fn opt_array<'a>(
    m: &'a Map<String, Value>,
    field: &str,
) -> PrismResult<Option<&'a Vec<Value>>> {
    match present(m, field) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(other) => Err(type_error(field, "array", other)),
    }
}

/// An enum value, matched without regard to case as Prism does, answered in its canonical spelling.
pub fn enum_value(field: &str, value: &str, allowed: &[&'static str]) -> PrismResult<&'static str> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value))
        .copied()
        .ok_or_else(|| {
            PrismError::bad_request(format!(
                "Cannot deserialize value of type `{field}` from String \"{value}\": not one of the values accepted for Enum class: [{}]",
                allowed.join(", ")
            ))
        })
}
