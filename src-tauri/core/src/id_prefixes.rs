//! Provider ids held by the thousand, compactly. The ARM ids of one resource group share all but
//! their last segment (`/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/disks/`
//! is about 110 of a disk id's 140 characters): a table keeps each such prefix once, and an id
//! becomes the prefix's number and its own last segment. Discovery and planning hold one or two
//! ids for each of an account's VMs and desktops (15,000 strings at 5,000 users), and this is
//! most of what they cost. An AHV uuid has no `/`: its prefix is empty and it is kept whole.
//!
//! The table is exact: an id comes back from [`IdPrefixes::join`] as it went in. Callers that
//! compare ids without case (ARM's) put in the lower-case form.

use std::collections::HashMap;

/// An id of an [`IdPrefixes`] table; equal ids of one table are equal strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrefixedId {
    prefix: u32,
    last: Box<str>,
}

impl PrefixedId {
    /// The id's own last segment (the whole id when it has no `/`).
    pub fn last(&self) -> &str {
        &self.last
    }
}

#[derive(Debug, Default)]
pub struct IdPrefixes {
    prefixes: Vec<Box<str>>,
    numbers: HashMap<Box<str>, u32>,
}

/// Everything up to and with the last `/`, and what follows it.
fn cut(id: &str) -> (&str, &str) {
    match id.rfind('/') {
        Some(i) => id.split_at(i + 1),
        None => ("", id),
    }
}

impl IdPrefixes {
    /// `id` in this table, its prefix added when new.
    pub fn keep(&mut self, id: &str) -> PrefixedId {
        let (prefix, last) = cut(id);
        let number = match self.numbers.get(prefix) {
            Some(n) => *n,
            None => {
                // As many prefixes as ids at most: far fewer than 2^32 fit in memory.
                let n = u32::try_from(self.prefixes.len()).expect("fewer than 2^32 prefixes");
                self.prefixes.push(prefix.into());
                self.numbers.insert(prefix.into(), n);
                n
            }
        };
        PrefixedId {
            prefix: number,
            last: last.into(),
        }
    }

    /// `id` as this table would keep it, without adding to it: `None` when no id kept here has
    /// its prefix (so no id kept here is `id`).
    pub fn find(&self, id: &str) -> Option<PrefixedId> {
        let (prefix, last) = cut(id);
        self.numbers.get(prefix).map(|n| PrefixedId {
            prefix: *n,
            last: last.into(),
        })
    }

    /// The id as it was kept.
    pub fn join(&self, id: &PrefixedId) -> String {
        let prefix = self
            .prefixes
            .get(id.prefix as usize)
            .map(|p| &**p)
            .unwrap_or_default();
        format!("{prefix}{}", id.last)
    }

    /// How many distinct prefixes the table holds.
    pub fn prefixes(&self) -> usize {
        self.prefixes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_back_as_they_went_in_and_share_their_prefixes() {
        let mut t = IdPrefixes::default();
        let ids = [
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/a",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/B",
            "/subscriptions/s/resourceGroups/other/providers/Microsoft.Compute/disks/a",
            "0f9a2c9e-6b1d-4c55-9f0e-2b7f6c1d2e3f",
            "ends-with/",
            "",
        ];
        let kept: Vec<PrefixedId> = ids.iter().map(|i| t.keep(i)).collect();
        for (id, k) in ids.iter().zip(&kept) {
            assert_eq!(t.join(k), *id);
            assert_eq!(t.find(id).as_ref(), Some(k));
        }
        // Two disks of one group share a prefix; the other group and the bare ids add theirs.
        assert_eq!(t.prefixes(), 4);
        assert_ne!(kept[0], kept[2], "same last segment, other prefix");
        assert_eq!(kept[3].last(), "0f9a2c9e-6b1d-4c55-9f0e-2b7f6c1d2e3f");
        assert_eq!(t.keep(ids[1]), kept[1], "kept again: the same id");
        assert_eq!(t.prefixes(), 4);
    }

    #[test]
    fn an_id_with_a_prefix_never_kept_is_not_found_and_case_counts() {
        let mut t = IdPrefixes::default();
        t.keep("/a/b/c");
        assert_eq!(t.find("/x/b/c"), None);
        assert_eq!(t.find("/A/B/c"), None);
        assert_ne!(t.find("/a/b/C"), Some(t.keep("/a/b/c")));
        assert!(
            t.find("/a/b/zz").is_some(),
            "a known prefix: found, not kept"
        );
    }
}
