//! The app's own commands, called from an end-to-end test through the page (as its screens call
//! them), for set-up that a flow does not walk through the window on purpose.

use anyhow::{bail, Context};
use fantoccini::Client;
use serde_json::{json, Value};

/// Calls a Tauri command of the running app with `args`; its answer, or its error as the failure.
pub async fn invoke(client: &Client, cmd: &str, args: Value) -> anyhow::Result<Value> {
    let out = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1])
               .then((v) => done({ ok: v === undefined ? null : v }), (e) => done({ err: e }));",
            vec![json!(cmd), args],
        )
        .await
        .with_context(|| format!("invoke {cmd}"))?;
    match out.get("ok") {
        Some(v) => Ok(v.clone()),
        None => bail!("{cmd} failed: {}", out["err"]),
    }
}

/// DR for `acme-pd` on `lab-azure` to northeurope: the request the Enable DR wizard's *Enable*
/// sends (the wizard's own walk is `e2e/setup_flows.rs`).
pub async fn enable_lab_azure_dr(client: &Client) -> anyhow::Result<Value> {
    invoke(
        client,
        "enable_dr_azure",
        json!({"request": {
            "account": "lab-azure", "frame_account": "acme-pd", "secondary_region": "northeurope",
            "secondary_resource_group": "frame-acme-pd-dr", "replicas_kept": 7
        }}),
    )
    .await
}

/// A persistent desktop of `acme-pd` on `lab-azure`, assigned to a user and powered off (nobody in
/// session on it), as discovery sees it.
pub async fn assigned_powered_off_desktop(client: &Client) -> anyhow::Result<Value> {
    let resources = invoke(
        client,
        "discover_resources",
        json!({"accountId": "lab-azure", "frameAccount": "acme-pd"}),
    )
    .await?;
    resources
        .as_array()
        .context("discovery answers a list")?
        .iter()
        .find(|r| {
            r["kind"] == "persistent_desktop"
                && r["desktop_state"] == "assigned"
                && r["power"] == "off"
        })
        .cloned()
        .context("the seed has a powered-off assigned desktop")
}
