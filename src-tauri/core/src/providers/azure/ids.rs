//! ARM resource ids. ARM compares them case-insensitively and some answers omit the leading `/`
//! (the CopyStart example does): ids are normalised for comparison and keep their original casing
//! for display.

use std::fmt;

/// `/subscriptions/{s}/resourceGroups/{rg}/providers/{namespace}/{type}/{name}[/...]`
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceId {
    /// With a leading `/`, no trailing one, casing as given.
    id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an ARM resource id: {0:?}")]
pub struct BadResourceId(pub String);

impl ResourceId {
    pub fn parse(s: &str) -> Result<Self, BadResourceId> {
        let segs: Vec<&str> = s.trim().split('/').filter(|x| !x.is_empty()).collect();
        let ok = segs.len() >= 8
            && segs.chunks(2).all(|pair| pair.len() == 2)
            && segs[0].eq_ignore_ascii_case("subscriptions")
            && segs[2].eq_ignore_ascii_case("resourceGroups")
            && segs[4].eq_ignore_ascii_case("providers");
        if !ok {
            return Err(BadResourceId(s.to_string()));
        }
        Ok(Self {
            id: format!("/{}", segs.join("/")),
        })
    }

    fn new(sub: &str, rg: &str, kind: &str, name: &str) -> Self {
        Self {
            id: format!(
                "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/{kind}/{name}"
            ),
        }
    }
    pub fn disk(sub: &str, rg: &str, name: &str) -> Self {
        Self::new(sub, rg, "disks", name)
    }
    pub fn snapshot(sub: &str, rg: &str, name: &str) -> Self {
        Self::new(sub, rg, "snapshots", name)
    }
    pub fn vm(sub: &str, rg: &str, name: &str) -> Self {
        Self::new(sub, rg, "virtualMachines", name)
    }

    fn seg(&self, i: usize) -> &str {
        self.id.split('/').nth(i + 1).unwrap_or("")
    }
    pub fn as_str(&self) -> &str {
        &self.id
    }
    pub fn subscription(&self) -> &str {
        self.seg(1)
    }
    pub fn resource_group(&self) -> &str {
        self.seg(3)
    }
    /// `Microsoft.Compute/disks` for a top-level resource.
    pub fn resource_type(&self) -> String {
        format!("{}/{}", self.seg(5), self.seg(6))
    }
    pub fn name(&self) -> &str {
        self.id.rsplit('/').next().unwrap_or("")
    }
    pub fn is_kind(&self, kind: &str) -> bool {
        self.seg(6).eq_ignore_ascii_case(kind)
    }

    /// The lower-case form ARM compares.
    pub fn key(&self) -> String {
        self.id.to_ascii_lowercase()
    }
}

impl PartialEq for ResourceId {
    fn eq(&self, other: &Self) -> bool {
        self.id.eq_ignore_ascii_case(&other.id)
    }
}
impl Eq for ResourceId {}

impl std::hash::Hash for ResourceId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl TryFrom<String> for ResourceId {
    type Error = BadResourceId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ResourceId> for String {
    fn from(r: ResourceId) -> String {
        r.id
    }
}

impl std::str::FromStr for ResourceId {
    type Err = BadResourceId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Two id strings name the same resource (leading slash and case do not matter).
pub fn same(a: &str, b: &str) -> bool {
    match (ResourceId::parse(a), ResourceId::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a
            .trim_matches('/')
            .eq_ignore_ascii_case(b.trim_matches('/')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_normalise_and_compare_case_insensitively() {
        let a = ResourceId::parse(
            "subscriptions/S1/resourceGroups/RG/providers/Microsoft.Compute/snapshots/Snap1",
        )
        .unwrap();
        assert_eq!(
            a.as_str(),
            "/subscriptions/S1/resourceGroups/RG/providers/Microsoft.Compute/snapshots/Snap1"
        );
        let b = ResourceId::snapshot("s1", "rg", "snap1");
        assert_eq!(a, b);
        assert_eq!(a.name(), "Snap1");
        assert_eq!(a.resource_group(), "RG");
        assert!(a.is_kind("SNAPSHOTS"));
        assert_eq!(a.resource_type(), "Microsoft.Compute/snapshots");
        assert!(ResourceId::parse("/subscriptions/s/resourceGroups/rg").is_err());
        assert!(same(
            a.as_str(),
            "/SUBSCRIPTIONS/s1/resourcegroups/rg/providers/microsoft.compute/snapshots/SNAP1"
        ));
    }
}
