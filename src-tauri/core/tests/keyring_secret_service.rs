//! Against a real Secret Service: `./test` runs the Rust tests inside a private D-Bus session with
//! an unlocked gnome-keyring (scripts/rust-tests.sh). Outside it these tests say why they are
//! skipped, except under CI, where a missing keyring is a failure.

use standby_core::accounts::{Accounts, NewAhvAccount};
use standby_core::catalog::Catalog;
use standby_core::secret::Secret;
use standby_core::secrets::{Keyring, SecretKey, SecretStore, SecretsError};

fn keyring_or_skip() -> Option<Keyring> {
    let probe = SecretKey::new(&format!("probe-{}", std::process::id()), "password");
    match Keyring.put(&probe, &Secret::new("probe")) {
        Ok(()) => {
            Keyring.delete(&probe).unwrap();
            Some(Keyring)
        }
        Err(e) => {
            let msg = format!("no usable Secret Service here ({e}); ./test provides one");
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{msg}");
            }
            eprintln!("SKIPPED: {msg}");
            None
        }
    }
}

#[test]
fn a_secret_round_trips_through_the_os_keyring_and_is_deleted() {
    let Some(store) = keyring_or_skip() else {
        return;
    };
    let key = SecretKey::new(&uuid_like(), "client-secret");
    store.put(&key, &Secret::new("v3ry-s3cret")).unwrap();
    assert_eq!(store.get(&key).unwrap().expose(), "v3ry-s3cret");
    store.put(&key, &Secret::new("rotated")).unwrap();
    assert_eq!(store.get(&key).unwrap().expose(), "rotated");
    store.delete(&key).unwrap();
    assert!(matches!(store.get(&key), Err(SecretsError::Missing { .. })));
    store.delete(&key).unwrap();
}

#[test]
fn removing_an_account_removes_its_keyring_entry() {
    let Some(store) = keyring_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let catalog = Catalog::open(&dir.path().join("c.sqlite3")).unwrap();
    let accounts = Accounts {
        catalog: &catalog,
        store: &store,
    };
    let a = accounts
        .add(
            NewAhvAccount {
                name: format!("keyring-test-{}", uuid_like()),
                address: "10.1.2.3".into(),
                port: None,
                username: "admin".into(),
                password: Secret::new("pa55word"),
                trusted_sha256: "ab".repeat(32),
            },
            chrono::Utc::now(),
        )
        .unwrap();
    assert_eq!(accounts.credentials(&a.id).unwrap().2.expose(), "pa55word");
    let db = std::fs::read(dir.path().join("c.sqlite3")).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains("pa55word"),
        "the catalog never holds the password"
    );
    accounts.remove(&a.id).unwrap();
    let err = store.get(&SecretKey::new(&a.id, "password")).unwrap_err();
    assert!(matches!(err, SecretsError::Missing { .. }), "{err}");
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}
