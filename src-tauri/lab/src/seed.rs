//! The Frame account the lab is seeded with, and the naming/tagging convention that says which
//! infrastructure object is which Frame resource.
//!
//! The convention (documented in `docs/lab.md` and read by the product's inventory discovery):
//! every object that belongs to a Frame account carries these tags. On AHV, VMs and volume groups
//! carry them in their `description` as `key=value` pairs separated by `;` (Prism v2.0 has no
//! free-form tags on VMs); on Azure, disks and VMs carry them as resource tags.
//!
//! | tag | values |
//! |---|---|
//! | `frame.account` | the Frame account's name, e.g. `acme-pd` |
//! | `frame.role` | `sandbox`, `utility-server`, `persistent-desktop`, `enterprise-profile`, `personal-drive`, `template-image` |
//! | `frame.owner` | the user's e-mail (persistent desktops that are assigned or unassigned, profiles, personal drives) |
//! | `frame.desktop-state` | `assigned`, `unassigned`, `shadow` (persistent desktops only) |
//!
//! Names follow `{account}-{kind}-{suffix}` so that an administrator can read them in Prism or the
//! Azure portal: `acme-pd-sandbox`, `acme-pd-util-01`, `acme-pd-desk-0001`, `acme-pd-profile-0001`,
//! `acme-pd-pdrive-0001`, `acme-pd-template-w11`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub const TAG_ACCOUNT: &str = "frame.account";
pub const TAG_ROLE: &str = "frame.role";
pub const TAG_OWNER: &str = "frame.owner";
pub const TAG_DESKTOP_STATE: &str = "frame.desktop-state";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Sandbox,
    UtilityServer,
    PersistentDesktop,
    EnterpriseProfile,
    PersonalDrive,
    /// Not a persistent resource: never backed up (it is not part of a Frame account).
    TemplateImage,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sandbox => "sandbox",
            Role::UtilityServer => "utility-server",
            Role::PersistentDesktop => "persistent-desktop",
            Role::EnterpriseProfile => "enterprise-profile",
            Role::PersonalDrive => "personal-drive",
            Role::TemplateImage => "template-image",
        }
    }
    /// Resources that are VM disks (one per VM) as opposed to per-user volumes.
    pub fn is_vm(self) -> bool {
        matches!(
            self,
            Role::Sandbox | Role::UtilityServer | Role::PersistentDesktop | Role::TemplateImage
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DesktopState {
    Assigned,
    Unassigned,
    Shadow,
}

impl DesktopState {
    pub fn as_str(self) -> &'static str {
        match self {
            DesktopState::Assigned => "assigned",
            DesktopState::Unassigned => "unassigned",
            DesktopState::Shadow => "shadow",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub email: String,
    pub display_name: String,
}

/// One persistent resource (or the template image) of the seeded account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// VM name for VM roles, volume group / data disk name for per-user volumes.
    pub name: String,
    pub role: Role,
    pub owner: Option<String>,
    pub desktop_state: Option<DesktopState>,
    pub size_gib: u64,
    /// What the guest reports as used (the simulated guest agent derives free space from it).
    pub used_gib: u64,
    /// VM roles: powered on at seed time.
    pub powered_on: bool,
    /// Storage container (AHV) the resource lives in: VM disks in the default container, per-user
    /// volumes in the self-service container, as in the Frame DR document.
    pub container: String,
}

impl Resource {
    pub fn tags(&self, account: &str) -> Vec<(&'static str, String)> {
        let mut t = vec![
            (TAG_ACCOUNT, account.to_string()),
            (TAG_ROLE, self.role.as_str().to_string()),
        ];
        if let Some(o) = &self.owner {
            t.push((TAG_OWNER, o.clone()));
        }
        if let Some(s) = self.desktop_state {
            t.push((TAG_DESKTOP_STATE, s.as_str().to_string()));
        }
        t
    }

    /// The AHV `description` form of the tags: `frame.account=acme-pd;frame.role=sandbox`.
    pub fn description(&self, account: &str) -> String {
        encode_description(&self.tags(account))
    }
}

pub fn encode_description(tags: &[(&str, String)]) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// Reads tags back from an AHV description; unknown text around them is ignored.
pub fn decode_description(description: &str) -> Vec<(String, String)> {
    description
        .split(';')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let k = k.trim();
            k.starts_with("frame.")
                .then(|| (k.to_string(), v.trim().to_string()))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeedSize {
    /// A few dozen users: the default, fast to start.
    Small,
    /// 5,000 users: for benchmarks and the "does it stay fast" checks.
    Large,
    /// Any number of users (the crash test seeds 1,000).
    Users(usize),
}

impl SeedSize {
    pub fn users(self) -> usize {
        match self {
            SeedSize::Small => 36,
            SeedSize::Large => 5_000,
            SeedSize::Users(n) => n,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown seed {0:?}: use small, large, or a number of users (e.g. 1000)")]
pub struct UnknownSeedSize(pub String);

impl std::str::FromStr for SeedSize {
    type Err = UnknownSeedSize;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "small" => Ok(Self::Small),
            "large" => Ok(Self::Large),
            other => match other.parse::<usize>() {
                Ok(n) if n > 0 => Ok(Self::Users(n)),
                _ => Err(UnknownSeedSize(other.to_string())),
            },
        }
    }
}

pub const DEFAULT_CONTAINER: &str = "default-container-77107";
pub const SELF_SERVICE_CONTAINER: &str = "SelfServiceContainer";

/// A whole seeded Frame account: deterministic for a given (name, users, seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub name: String,
    pub users: Vec<User>,
    pub resources: Vec<Resource>,
}

impl Account {
    /// Generates an account with `users` users. Most users have an assigned desktop; about one in
    /// twelve was unassigned; two shadow desktops wait for new users. Every user has an enterprise
    /// profile and a personal drive. A few desktops start powered on, and some of those have their
    /// user in session (sessions live in the simulators, not here).
    pub fn generate(name: &str, users: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        const FIRST: [&str; 16] = [
            "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
            "mallory", "niaj", "olivia", "peggy", "rupert", "sybil",
        ];
        const LAST: [&str; 8] = [
            "martin", "nguyen", "okafor", "schmidt", "rossi", "tanaka", "silva", "kowalski",
        ];
        let users: Vec<User> = (0..users)
            .map(|i| {
                let f = FIRST[i % FIRST.len()];
                let l = LAST[(i / FIRST.len()) % LAST.len()];
                let n = i / (FIRST.len() * LAST.len());
                let local = if n == 0 {
                    format!("{f}.{l}")
                } else {
                    format!("{f}.{l}{n}")
                };
                User {
                    email: format!("{local}@{name}.example"),
                    display_name: format!(
                        "{}{} {}{}",
                        &f[..1].to_uppercase(),
                        &f[1..],
                        &l[..1].to_uppercase(),
                        &l[1..]
                    ),
                }
            })
            .collect();

        let vm = |name: String, role: Role, size: u64, used: u64, on: bool| Resource {
            name,
            role,
            owner: None,
            desktop_state: None,
            size_gib: size,
            used_gib: used,
            powered_on: on,
            container: DEFAULT_CONTAINER.to_string(),
        };
        let mut resources = vec![
            vm(
                format!("{name}-template-w11"),
                Role::TemplateImage,
                128,
                41,
                false,
            ),
            vm(format!("{name}-sandbox"), Role::Sandbox, 128, 57, false),
            vm(
                format!("{name}-util-01"),
                Role::UtilityServer,
                100,
                38,
                true,
            ),
            vm(
                format!("{name}-util-02"),
                Role::UtilityServer,
                100,
                44,
                true,
            ),
        ];
        for (i, u) in users.iter().enumerate() {
            let state = if i % 12 == 11 {
                DesktopState::Unassigned
            } else {
                DesktopState::Assigned
            };
            let size: u64 = [64, 64, 96, 128][rng.random_range(0..4)];
            // A few desktops run close to full, so that autogrow has something to do.
            let used = if rng.random_ratio(1, 10) {
                size - rng.random_range(1..5)
            } else {
                rng.random_range(size / 4..size * 3 / 4)
            };
            let on = state == DesktopState::Assigned && rng.random_ratio(1, 4);
            resources.push(Resource {
                name: format!("{name}-desk-{:04}", i + 1),
                role: Role::PersistentDesktop,
                owner: Some(u.email.clone()),
                desktop_state: Some(state),
                size_gib: size,
                used_gib: used,
                powered_on: on,
                container: DEFAULT_CONTAINER.to_string(),
            });
            for (kind, role, size) in [
                ("profile", Role::EnterpriseProfile, 30u64),
                ("pdrive", Role::PersonalDrive, 50u64),
            ] {
                let used = rng.random_range(size / 10..size * 9 / 10);
                resources.push(Resource {
                    name: format!("{name}-{kind}-{:04}", i + 1),
                    role,
                    owner: Some(u.email.clone()),
                    desktop_state: None,
                    size_gib: size,
                    used_gib: used,
                    powered_on: false,
                    container: SELF_SERVICE_CONTAINER.to_string(),
                });
            }
        }
        for s in 1..=2 {
            resources.push(Resource {
                name: format!("{name}-desk-shadow-{s:02}"),
                role: Role::PersistentDesktop,
                owner: None,
                desktop_state: Some(DesktopState::Shadow),
                size_gib: 64,
                used_gib: 22,
                powered_on: s == 1,
                container: DEFAULT_CONTAINER.to_string(),
            });
        }
        Account {
            name: name.to_string(),
            users,
            resources,
        }
    }

    pub fn small(name: &str) -> Self {
        Self::generate(name, SeedSize::Small.users(), 7)
    }

    pub fn sized(name: &str, size: SeedSize) -> Self {
        Self::generate(name, size.users(), 7)
    }

    pub fn resources_with(&self, role: Role) -> impl Iterator<Item = &Resource> {
        self.resources.iter().filter(move |r| r.role == role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_seed_has_every_kind_and_is_deterministic() {
        let a = Account::small("acme-pd");
        assert_eq!(a, Account::small("acme-pd"));
        assert_eq!(a.users.len(), 36);
        assert_eq!(a.resources_with(Role::Sandbox).count(), 1);
        assert_eq!(a.resources_with(Role::UtilityServer).count(), 2);
        assert_eq!(a.resources_with(Role::TemplateImage).count(), 1);
        assert_eq!(a.resources_with(Role::PersistentDesktop).count(), 36 + 2);
        assert_eq!(a.resources_with(Role::EnterpriseProfile).count(), 36);
        assert_eq!(a.resources_with(Role::PersonalDrive).count(), 36);
        let states: Vec<_> = a
            .resources_with(Role::PersistentDesktop)
            .map(|r| r.desktop_state.unwrap())
            .collect();
        assert!(states.contains(&DesktopState::Unassigned));
        assert!(states.contains(&DesktopState::Shadow));
        let mut names: Vec<_> = a.resources.iter().map(|r| &r.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), a.resources.len(), "names are unique");
        let emails: std::collections::HashSet<_> = a.users.iter().map(|u| &u.email).collect();
        assert_eq!(emails.len(), a.users.len(), "e-mails are unique");
    }

    #[test]
    fn description_tags_round_trip() {
        let a = Account::small("acme-pd");
        let desk = a.resources_with(Role::PersistentDesktop).next().unwrap();
        let d = desk.description("acme-pd");
        let back = decode_description(&format!("managed by Frame; {d}"));
        assert!(back.contains(&(TAG_ROLE.to_string(), "persistent-desktop".to_string())));
        assert!(back.contains(&(TAG_OWNER.to_string(), desk.owner.clone().unwrap())));
    }

    #[test]
    fn large_seed_has_five_thousand_unique_users() {
        let a = Account::sized("big", SeedSize::Large);
        let emails: std::collections::HashSet<_> = a.users.iter().map(|u| &u.email).collect();
        assert_eq!(emails.len(), 5_000);
    }
}
