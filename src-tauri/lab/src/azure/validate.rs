//! Request checks from the DiskRP 2025-01-02 and ComputeRP 2025-04-01 specs: required properties,
//! types and enum values, answered the way ARM answers them. The rules are written out here (the
//! lab never reads the spec files at run time); the conformance tests hold them against the specs.

use serde_json::Value;

use super::reply::ArmError;

/// `DiskCreateOption`.
pub const CREATE_OPTIONS: [&str; 11] = [
    "Empty",
    "Attach",
    "FromImage",
    "Import",
    "Copy",
    "Restore",
    "Upload",
    "CopyStart",
    "ImportSecure",
    "UploadPreparedSecure",
    "CopyFromSanSnapshot",
];
/// `DiskStorageAccountTypes`.
pub const DISK_SKUS: [&str; 7] = [
    "Standard_LRS",
    "Premium_LRS",
    "StandardSSD_LRS",
    "UltraSSD_LRS",
    "Premium_ZRS",
    "StandardSSD_ZRS",
    "PremiumV2_LRS",
];
/// `SnapshotStorageAccountTypes`.
pub const SNAPSHOT_SKUS: [&str; 3] = ["Standard_LRS", "Premium_LRS", "Standard_ZRS"];
/// `OperatingSystemTypes`.
pub const OS_TYPES: [&str; 2] = ["Windows", "Linux"];
/// `ProvisionedBandwidthCopyOption`.
pub const COPY_SPEEDS: [&str; 2] = ["None", "Enhanced"];

fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(v, |v, k| v.get(k))
        .filter(|v| !v.is_null())
}

pub fn opt_str<'a>(v: &'a Value, path: &str) -> Result<Option<&'a str>, ArmError> {
    match at(v, path) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ArmError::invalid_content(
            path,
            &format!("Error converting value {other} to type 'System.String'"),
        )),
    }
}

pub fn req_str<'a>(v: &'a Value, path: &str) -> Result<&'a str, ArmError> {
    opt_str(v, path)?.ok_or_else(|| ArmError::missing(path))
}

pub fn opt_bool(v: &Value, path: &str) -> Result<Option<bool>, ArmError> {
    match at(v, path) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ArmError::invalid_content(
            path,
            &format!("Error converting value {other} to type 'System.Boolean'"),
        )),
    }
}

pub fn opt_u64(v: &Value, path: &str) -> Result<Option<u64>, ArmError> {
    match at(v, path) {
        None => Ok(None),
        Some(n) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(other) => Err(ArmError::invalid_content(
            path,
            &format!("Error converting value {other} to type 'System.Int32'"),
        )),
    }
}

pub fn opt_enum<'a>(
    v: &'a Value,
    path: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, ArmError> {
    match opt_str(v, path)? {
        None => Ok(None),
        // ARM accepts enum values in any case.
        Some(s) => match allowed.iter().find(|a| a.eq_ignore_ascii_case(s)) {
            Some(_) => Ok(Some(s)),
            None => Err(ArmError::invalid_content(
                path,
                &format!(
                    "Requested value '{s}' was not found. Allowed values are {}",
                    allowed.join(", ")
                ),
            )),
        },
    }
}

pub fn canonical<'a>(value: &str, allowed: &[&'a str]) -> &'a str {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value))
        .copied()
        .unwrap_or("")
}

/// Tags: an object of strings.
pub fn tags(v: &Value) -> Result<Option<super::model::Tags>, ArmError> {
    match at(v, "tags") {
        None => Ok(None),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(ArmError::invalid_content(
                    &format!("tags.{k}"),
                    &format!("Error converting value {other} to type 'System.String'"),
                )),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(ArmError::invalid_content(
            "tags",
            "Error converting value to type 'Dictionary<String, String>'",
        )),
    }
}

/// What disk and snapshot PUTs share: `location` (TrackedResource), `properties.creationData`
/// and its `createOption` (required by DiskProperties/SnapshotProperties and CreationData).
pub struct CreationRequest<'a> {
    pub location: &'a str,
    pub create_option: &'static str,
    pub source_resource_id: Option<&'a str>,
    pub copy_speed: Option<&'a str>,
    pub size_gb: Option<u64>,
    pub incremental: Option<bool>,
}

pub fn creation<'a>(body: &'a Value, skus: &[&str]) -> Result<CreationRequest<'a>, ArmError> {
    if !body.is_object() {
        return Err(ArmError::invalid_content(
            "",
            "The request body must be a JSON object",
        ));
    }
    let location = opt_str(body, "location")?.ok_or_else(|| {
        ArmError::bad_request(
            "LocationRequired",
            "The location property is required for this definition.",
        )
        .with_target("location")
    })?;
    if at(body, "properties").is_none() {
        return Err(ArmError::missing("properties"));
    }
    if at(body, "properties.creationData").is_none() {
        return Err(ArmError::missing("properties.creationData"));
    }
    let create_option = opt_enum(
        body,
        "properties.creationData.createOption",
        &CREATE_OPTIONS,
    )?
    .ok_or_else(|| ArmError::missing("properties.creationData.createOption"))?;
    opt_enum(body, "sku.name", skus)?;
    opt_enum(
        body,
        "properties.creationData.provisionedBandwidthCopySpeed",
        &COPY_SPEEDS,
    )?;
    tags(body)?;
    Ok(CreationRequest {
        location,
        create_option: canonical(create_option, &CREATE_OPTIONS),
        source_resource_id: opt_str(body, "properties.creationData.sourceResourceId")?,
        copy_speed: opt_str(
            body,
            "properties.creationData.provisionedBandwidthCopySpeed",
        )?,
        size_gb: opt_u64(body, "properties.diskSizeGB")?,
        incremental: opt_bool(body, "properties.incremental")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn creation_requires_location_creation_data_and_a_known_create_option() {
        let e = creation(&json!({"properties": {}}), &DISK_SKUS)
            .err()
            .unwrap();
        assert_eq!(e.code, "LocationRequired");
        let e = creation(
            &json!({"location": "westeurope", "properties": {}}),
            &DISK_SKUS,
        )
        .err()
        .unwrap();
        assert_eq!(e.target.as_deref(), Some("properties.creationData"));
        let e = creation(
            &json!({"location": "westeurope", "properties": {"creationData": {"createOption": "Clone"}}}),
            &DISK_SKUS,
        )
        .err()
        .unwrap();
        assert_eq!(e.code, "InvalidRequestContent");
        let e = creation(
            &json!({"location": "westeurope", "properties": {"incremental": "yes", "creationData": {"createOption": "copy"}}}),
            &DISK_SKUS,
        )
        .err()
        .unwrap();
        assert_eq!(e.target.as_deref(), Some("properties.incremental"));
        let body = json!({"location": "westeurope", "properties": {"creationData": {"createOption": "copy"}}});
        let ok = creation(&body, &DISK_SKUS).unwrap();
        assert_eq!(ok.create_option, "Copy");
    }
}
