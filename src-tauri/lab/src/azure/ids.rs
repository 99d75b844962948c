//! ARM resource ids: parsed leniently (with or without the leading `/`, any case), printed in ARM's
//! canonical form.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Disks,
    Snapshots,
    VirtualMachines,
}

impl Kind {
    pub fn segment(self) -> &'static str {
        match self {
            Kind::Disks => "disks",
            Kind::Snapshots => "snapshots",
            Kind::VirtualMachines => "virtualMachines",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Kind::Disks, Kind::Snapshots, Kind::VirtualMachines]
            .into_iter()
            .find(|k| k.segment().eq_ignore_ascii_case(s))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceId {
    pub subscription: String,
    pub resource_group: String,
    pub kind: Kind,
    pub name: String,
}

/// `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/{kind}/{name}`.
pub fn parse(id: &str) -> Option<ResourceId> {
    let segs: Vec<&str> = id.split('/').filter(|s| !s.is_empty()).collect();
    if segs.len() != 8 {
        return None;
    }
    let eq = |i: usize, lit: &str| segs[i].eq_ignore_ascii_case(lit);
    if !(eq(0, "subscriptions")
        && eq(2, "resourceGroups")
        && eq(4, "providers")
        && eq(5, "Microsoft.Compute"))
    {
        return None;
    }
    Some(ResourceId {
        subscription: segs[1].to_string(),
        resource_group: segs[3].to_string(),
        kind: Kind::parse(segs[6])?,
        name: segs[7].to_string(),
    })
}

pub fn format(subscription: &str, resource_group: &str, kind: Kind, name: &str) -> String {
    format!(
        "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.Compute/{}/{name}",
        kind.segment()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_without_leading_slash_and_in_any_case() {
        let id = parse("SUBSCRIPTIONS/s/resourcegroups/RG/providers/microsoft.compute/Disks/d1")
            .unwrap();
        assert_eq!(id.kind, Kind::Disks);
        assert_eq!(id.resource_group, "RG");
        assert_eq!(id.name, "d1");
        assert!(
            parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/nics/x")
                .is_none()
        );
    }
}
