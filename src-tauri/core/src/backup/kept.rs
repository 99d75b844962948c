//! What `backup all` keeps of discovery until it has planned: the desktops (or the kinds asked
//! for) of an account, each with only what the plan, the guest agent's index and the plan's order
//! read, its ids held by [`IdPrefixes`]. A whole [`DiscoveredResource`] with its eight strings
//! (two ARM ids of about 140 characters among them) was about 700 bytes; at 5,000 desktops these
//! were held together with the account's VMs at the peak of discovery. Planning takes them back
//! as resources a few hundred at a time ([`Kept::resources`]).
//!
//! Left out, because planning does not read them: the owner, the desktop's Frame state and the
//! Frame account (the one being planned).

use crate::id_prefixes::{IdPrefixes, PrefixedId};
use crate::inventory::{self, DiscoveredResource, PowerState, ResourceKind};

struct Resource {
    id: PrefixedId,
    name: Box<str>,
    kind: ResourceKind,
    vm_id: Option<PrefixedId>,
    location: Box<str>,
    size_bytes: f64,
    power: Option<PowerState>,
    power_detail: Option<Box<str>>,
    not_protected_reason: Option<Box<str>>,
}

#[derive(Default)]
pub(super) struct Kept {
    ids: IdPrefixes,
    resources: Vec<Resource>,
}

impl Kept {
    pub fn push(&mut self, r: DiscoveredResource) {
        let id = self.ids.keep(&r.provider_id);
        let vm_id = r.vm_id.as_deref().map(|v| self.ids.keep(v));
        self.resources.push(Resource {
            id,
            name: r.name.into(),
            kind: r.kind,
            vm_id,
            location: r.location.into(),
            size_bytes: r.size_bytes,
            power: r.power,
            power_detail: r.power_detail.map(Into::into),
            not_protected_reason: r.not_protected_reason.map(Into::into),
        });
    }

    /// In discovery's order ([`inventory::sort`]), and no room held beyond what is kept.
    pub fn sort(&mut self) {
        self.resources.sort_by(|a, b| {
            inventory::order(a.kind, &a.name).cmp(&inventory::order(b.kind, &b.name))
        });
        self.resources.shrink_to_fit();
    }

    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// Each kept resource's provider id and name.
    pub fn ids_and_names(&self) -> impl Iterator<Item = (String, &str)> {
        self.resources
            .iter()
            .map(|r| (self.ids.join(&r.id), &*r.name))
    }

    /// The kept resources from `from`, at most `count` of them, as resources of `frame_account`
    /// (see the module's documentation for what they leave out).
    pub fn resources(
        &self,
        from: usize,
        count: usize,
        frame_account: &str,
    ) -> Vec<DiscoveredResource> {
        let from = from.min(self.resources.len());
        self.resources[from..]
            .iter()
            .take(count)
            .map(|r| DiscoveredResource {
                provider_id: self.ids.join(&r.id),
                name: r.name.to_string(),
                kind: r.kind,
                frame_account: frame_account.to_string(),
                owner: None,
                desktop_state: None,
                size_bytes: r.size_bytes,
                vm_id: r.vm_id.as_ref().map(|v| self.ids.join(v)),
                power: r.power,
                power_detail: r.power_detail.as_deref().map(str::to_string),
                location: r.location.to_string(),
                not_protected_reason: r.not_protected_reason.as_deref().map(str::to_string),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(name: &str, kind: ResourceKind, vm: Option<&str>) -> DiscoveredResource {
        DiscoveredResource {
            provider_id: format!(
                "/subscriptions/s/resourceGroups/RG/providers/Microsoft.Compute/disks/{name}-os"
            ),
            name: name.into(),
            kind,
            frame_account: "acme".into(),
            owner: Some("alice@example.com".into()),
            desktop_state: None,
            size_bytes: 137_438_953_472.0,
            vm_id: vm.map(|v| {
                format!("/subscriptions/s/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/{v}")
            }),
            power: Some(PowerState::Other),
            power_detail: Some("starting".into()),
            location: "westeurope".into(),
            not_protected_reason: (kind == ResourceKind::TemplateImage)
                .then(|| inventory::TEMPLATE_NOT_PROTECTED.to_string()),
        }
    }

    #[test]
    fn resources_come_back_in_discoverys_order_with_what_planning_reads() {
        use ResourceKind::*;
        let all = vec![
            res("tpl", TemplateImage, None),
            res("zed", PersistentDesktop, Some("VM-Zed")),
            res("amy", PersistentDesktop, Some("vm-amy")),
            res("box", Sandbox, Some("sbx")),
        ];
        let mut kept = Kept::default();
        for r in all.clone() {
            kept.push(r);
        }
        kept.sort();
        let mut expected = all;
        inventory::sort(&mut expected);
        for r in &mut expected {
            // What planning does not read is not kept.
            r.owner = None;
            r.frame_account = "acme".into();
        }
        let back = kept.resources(0, 10, "acme");
        assert_eq!(back, expected);
        assert_eq!(kept.resources(1, 2, "acme"), expected[1..3]);
        assert!(kept.resources(4, 2, "acme").is_empty());
        let names: Vec<&str> = kept.ids_and_names().map(|(_, n)| n).collect();
        assert_eq!(names, ["box", "amy", "zed", "tpl"]);
        assert_eq!(
            kept.ids_and_names().next().unwrap().0,
            expected[0].provider_id
        );
    }
}
