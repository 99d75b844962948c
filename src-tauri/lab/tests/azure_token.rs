//! The Entra client-credentials flow and ARM's verification of its tokens on the lab clock.

#[path = "lab_client.rs"]
mod lab_client;

use lab_client::*;
use serde_json::Value;

async fn ask(lab: &standby_lab::LabHandle, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = post_form(&azure_client(lab), url, form).await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn token_answers_like_entra_and_errors_in_its_shape() {
    let lab = start().await;
    let url = token_url(&lab);
    let a = &lab.azure;
    let good = [
        ("grant_type", "client_credentials"),
        ("client_id", a.client_id.as_str()),
        ("client_secret", a.client_secret.as_str()),
        ("scope", "https://management.azure.com/.default"),
    ];
    let (s, body) = ask(&lab, &url, &good).await;
    assert_eq!(s, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert!(body["ext_expires_in"].is_number());
    assert!(body["access_token"].as_str().unwrap().len() > 100);

    let mut bad_secret = good;
    bad_secret[2].1 = "not-the-secret";
    let (s, body) = ask(&lab, &url, &bad_secret).await;
    assert_eq!(s, 401);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"][0], 7000215);
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS7000215"));
    for k in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[k].is_string(), "{k} in {body}");
    }

    let (s, body) = ask(
        &lab,
        &format!(
            "{}00000000-0000-0000-0000-000000000000/oauth2/v2.0/token",
            a.authority_url
        ),
        &good,
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(body["error_codes"][0], 90002);

    let mut bad_scope = good;
    bad_scope[3].1 = "https://management.azure.com/user_impersonation";
    let (s, body) = ask(&lab, &url, &bad_scope).await;
    assert_eq!(s, 400);
    assert_eq!(body["error"], "invalid_scope");

    let mut bad_grant = good;
    bad_grant[0].1 = "password";
    let (s, body) = ask(&lab, &url, &bad_grant).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    let (s, body) = ask(&lab, &url, &good[..3]).await;
    assert_eq!(
        (s, body["error_codes"][0].as_u64()),
        (400, Some(900144)),
        "missing scope"
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn arm_checks_tokens_and_their_expiry_on_the_lab_clock() {
    let lab = start().await;
    let arm = Arm::new(&lab).await;
    let url = arm.rg_url("disks", DISK_API);
    assert_eq!(arm.get(&url).await.0, 200);

    let resp = arm.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AuthenticationFailed");

    let forged = Arm {
        token: format!("{}x", arm.token),
        ..Arm::new(&lab).await
    };
    let (s, _, body) = forged.get(&url).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationToken"))
    );

    advance(&lab, 3598);
    assert_eq!(
        arm.get(&url).await.0,
        200,
        "still valid a second before expiry"
    );
    advance(&lab, 1);
    let (s, _, body) = arm.get(&url).await;
    assert_eq!(s, 401);
    assert_eq!(body["error"]["code"], "ExpiredAuthenticationToken");
    let fresh = Arm::new(&lab).await;
    assert_eq!(fresh.get(&url).await.0, 200, "a new token works again");
    lab.shutdown().await.unwrap();
}
