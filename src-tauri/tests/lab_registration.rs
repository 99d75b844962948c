//! The lab registers itself like any cloud account, and the registered settings reach it.

use standby_app::lab::registration;
use standby_core::accounts::{AccountSettings, Accounts};
use standby_core::catalog::Catalog;
use standby_core::lab_registration::register;
use standby_core::model::ProviderKind;
use standby_core::secrets::MemoryStore;
use standby_lab::{Lab, LabConfig};

#[tokio::test]
async fn the_lab_becomes_three_cloud_accounts_and_a_second_start_updates_them() {
    let lab = Lab::start(LabConfig::for_tests()).await.unwrap();
    let catalog = Catalog::in_memory().unwrap();
    let store = MemoryStore::default();
    let accounts = Accounts {
        catalog: &catalog,
        store: &store,
    };
    let (clusters, sub) = registration(&lab);
    let registered = register(&accounts, clusters, sub, chrono::Utc::now()).unwrap();
    let names: Vec<_> = registered.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["lab-ahv-primary", "lab-ahv-secondary", "lab-azure"]);
    assert_eq!(registered[2].kind, ProviderKind::Azure);

    let (_, settings, password) = accounts.credentials("lab-ahv-primary").unwrap();
    let AccountSettings::Ahv(ahv) = settings else {
        panic!("not AHV")
    };
    assert_eq!(ahv.trusted_sha256, lab.prism[0].certificate_sha256);
    assert_eq!(
        ahv.base_url(),
        lab.prism[0].base_url.as_str().trim_end_matches('/')
    );
    assert_eq!(password.expose(), lab.prism[0].password);

    // The registered address really is a TLS endpoint presenting the pinned certificate.
    let cert = standby_core::providers::tls::probe(&ahv.address, ahv.port)
        .await
        .unwrap();
    assert_eq!(cert.sha256, ahv.trusted_sha256);
    assert!(cert.self_signed);

    // A second start (new ports, new certificates) refreshes the same three accounts.
    let lab2 = Lab::start(LabConfig::for_tests()).await.unwrap();
    let (clusters, sub) = registration(&lab2);
    register(&accounts, clusters, sub, chrono::Utc::now()).unwrap();
    assert_eq!(catalog.list_accounts().unwrap().len(), 3);
    let (_, settings) = accounts.settings("lab-ahv-primary").unwrap();
    let AccountSettings::Ahv(ahv) = settings else {
        panic!("not AHV")
    };
    assert_eq!(ahv.trusted_sha256, lab2.prism[0].certificate_sha256);
    assert_ne!(
        lab.prism[0].certificate_sha256,
        lab2.prism[0].certificate_sha256
    );
    lab.shutdown().await.unwrap();
    lab2.shutdown().await.unwrap();
}
