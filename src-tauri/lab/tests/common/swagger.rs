//! A small Swagger 2.0 schema checker for conformance tests: resolves local `#/definitions/...`
//! references within the spec and checks `type`, `required`, `properties`, `items`, `enum`,
//! `allOf` and `additionalProperties`. Formats are ignored. Errors name the JSON path.

use std::path::Path;

use serde_json::{Map, Value};

/// Validates `instance` against `schema` (which may be a `$ref` into `spec`).
pub fn validate(spec: &Value, schema: &Value, instance: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(spec, schema, instance, "$", &mut errors, 0);
    errors
}

const MAX_DEPTH: usize = 64;

fn resolve<'a>(spec: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    // JSON pointer escapes (`~1` for `/`, `~0` for `~`); definition names themselves are literal.
    let mut cur = spec;
    for raw in pointer.split('/').skip(1) {
        let key = raw.replace("~1", "/").replace("~0", "~");
        cur = cur.get(&key)?;
    }
    Some(cur)
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        "number" => v.is_number(),
        "null" => v.is_null(),
        "file" => true,
        _ => true,
    }
}

fn describe(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!("{}...", &s[..60])
    } else {
        s
    }
}

fn check(
    spec: &Value,
    schema: &Value,
    v: &Value,
    path: &str,
    errors: &mut Vec<String>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        errors.push(format!("{path}: schema nesting too deep (recursive $ref?)"));
        return;
    }
    let Some(s) = schema.as_object() else {
        return;
    };
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        match resolve(spec, r) {
            Some(target) => check(spec, target, v, path, errors, depth + 1),
            None => errors.push(format!("{path}: unresolvable $ref {r}")),
        }
        return;
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            check(spec, sub, v, path, errors, depth + 1);
        }
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        if !type_matches(t, v) {
            errors.push(format!("{path}: expected {t}, got {}", describe(v)));
            return;
        }
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array) {
        if !allowed.contains(v) {
            errors.push(format!(
                "{path}: {} is not one of {}",
                describe(v),
                describe(&Value::Array(allowed.clone()))
            ));
        }
    }
    if let Some(o) = v.as_object() {
        check_object(spec, s, o, path, errors, depth);
    }
    if let (Some(items), Some(a)) = (s.get("items"), v.as_array()) {
        for (i, item) in a.iter().enumerate() {
            check(
                spec,
                items,
                item,
                &format!("{path}[{i}]"),
                errors,
                depth + 1,
            );
        }
    }
}

fn check_object(
    spec: &Value,
    s: &Map<String, Value>,
    o: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<String>,
    depth: usize,
) {
    if let Some(req) = s.get("required").and_then(Value::as_array) {
        for r in req.iter().filter_map(Value::as_str) {
            if !o.contains_key(r) {
                errors.push(format!("{path}: missing required property '{r}'"));
            }
        }
    }
    let props = s.get("properties").and_then(Value::as_object);
    for (k, val) in o {
        let child = format!("{path}.{k}");
        match props.and_then(|p| p.get(k)) {
            Some(ps) => check(spec, ps, val, &child, errors, depth + 1),
            None => match s.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    errors.push(format!("{path}: property '{k}' is not allowed"))
                }
                Some(extra @ Value::Object(_)) => {
                    check(spec, extra, val, &child, errors, depth + 1)
                }
                _ => {}
            },
        }
    }
}

/// YAML (1.2: `ON` and `OFF` stay strings, as Swagger authors mean them) to JSON values.
pub fn load_yaml(path: impl AsRef<Path>) -> Value {
    let path = path.as_ref();
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let docs = yaml_rust2::YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
    docs.into_iter()
        .next()
        .map(yaml_to_json)
        .unwrap_or(Value::Null)
}

pub fn load_json(path: impl AsRef<Path>) -> Value {
    let path = path.as_ref();
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn yaml_to_json(y: yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::String(s)),
        Yaml::Integer(i) => Value::from(i),
        Yaml::String(s) => Value::String(s),
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Array(a) => Value::Array(a.into_iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) | Yaml::Real(s) => s,
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => format!("{other:?}"),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> Value {
        json!({
            "swagger": "2.0",
            "definitions": {
                "Pet": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": { "type": "string" },
                        "kind": { "type": "string", "enum": ["CAT", "DOG"] },
                        "tags": { "type": "array", "items": { "$ref": "#/definitions/Tag" } },
                        "age": { "type": "integer" }
                    }
                },
                "Tag": { "type": "object", "properties": { "id": { "type": "integer" } }, "additionalProperties": false },
                "Named": { "allOf": [ { "$ref": "#/definitions/Pet" }, { "required": ["age"] } ] }
            }
        })
    }

    #[test]
    fn accepts_a_valid_instance() {
        let s = spec();
        let ok =
            json!({ "name": "rex", "kind": "DOG", "tags": [{ "id": 1 }], "age": 3, "extra": true });
        assert_eq!(
            validate(&s, &json!({ "$ref": "#/definitions/Pet" }), &ok),
            Vec::<String>::new()
        );
    }

    #[test]
    fn reports_each_violation_with_its_path() {
        let s = spec();
        let bad = json!({ "kind": "FISH", "tags": [{ "id": "x", "more": 1 }], "age": 1.5 });
        let errs = validate(&s, &json!({ "$ref": "#/definitions/Pet" }), &bad);
        let joined = errs.join("\n");
        assert!(
            joined.contains("$: missing required property 'name'"),
            "{joined}"
        );
        assert!(
            joined.contains("$.kind: \"FISH\" is not one of"),
            "{joined}"
        );
        assert!(
            joined.contains("$.tags[0].id: expected integer"),
            "{joined}"
        );
        assert!(
            joined.contains("$.tags[0]: property 'more' is not allowed"),
            "{joined}"
        );
        assert!(joined.contains("$.age: expected integer"), "{joined}");
        assert_eq!(errs.len(), 5, "{joined}");
    }

    #[test]
    fn all_of_combines_and_bad_refs_are_reported() {
        let s = spec();
        let errs = validate(
            &s,
            &json!({ "$ref": "#/definitions/Named" }),
            &json!({ "name": "a" }),
        );
        assert_eq!(errs, vec!["$: missing required property 'age'".to_string()]);
        let errs = validate(&s, &json!({ "$ref": "#/definitions/Nope" }), &json!({}));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].contains("unresolvable"));
    }
}
