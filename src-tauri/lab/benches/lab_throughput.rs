//! The lab's throughput on loopback for a mixed read/write load over HTTPS, so that later
//! benchmarks can show the lab is not their bottleneck.
//!
//! `cargo bench -p standby-lab --bench lab_throughput` (env: `LAB_BENCH_REQUESTS`, default 20000;
//! `LAB_BENCH_WORKERS`, default 16; `LAB_BENCH_SECS`, a time bound, default 60).
//!
//! The mix, in equal parts: Prism `GET /vms`, Prism protection-domain snapshots
//! (`POST .../oob_schedules`), ARM `GET disk`, ARM `PUT snapshot` (full copies, so the
//! 7-per-5-minutes rule for incremental snapshots does not throttle the run).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use standby_lab::{Lab, LabConfig};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn client(pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(standby_lab::tls::client_config(&[pem]).expect("TLS config"))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    PrismList,
    PrismSnapshot,
    ArmGet,
    ArmPut,
}
const KINDS: [Kind; 4] = [
    Kind::PrismList,
    Kind::PrismSnapshot,
    Kind::ArmGet,
    Kind::ArmPut,
];

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let total = env_usize("LAB_BENCH_REQUESTS", 20_000);
    let workers = env_usize("LAB_BENCH_WORKERS", 16);
    let limit = Duration::from_secs(env_usize("LAB_BENCH_SECS", 60) as u64);
    let mut config = LabConfig::for_tests();
    config.azure.token_lifetime_secs = 86_400;
    let lab = Lab::start(config).await?;

    let p = lab.prism[0].clone();
    let prism = client(&p.certificate_pem);
    let pe = format!("{}PrismGateway/services/rest/v2.0", p.base_url);
    let auth = |r: reqwest::RequestBuilder| r.basic_auth(&p.username, Some(&p.password));
    auth(
        prism
            .post(format!("{pe}/protection_domains"))
            .json(&json!({"value": "bench-pd"})),
    )
    .send()
    .await?;
    auth(
        prism
            .post(format!("{pe}/protection_domains/bench-pd/protect_vms"))
            .json(&json!({"names": ["acme-pd-desk-0001"]})),
    )
    .send()
    .await?;

    let a = lab.azure.clone();
    let arm = client(&a.ca_certificate_pem);
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "client_credentials"),
            ("client_id", a.client_id.as_str()),
            ("client_secret", a.client_secret.as_str()),
            ("scope", "https://management.azure.com/.default"),
        ])
        .finish();
    let token: serde_json::Value = arm
        .post(format!(
            "{}{}/oauth2/v2.0/token",
            a.authority_url, a.tenant_id
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await?
        .json()
        .await?;
    let token = token["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let rg = format!(
        "{}subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute",
        a.arm_url, a.subscription_id, a.resource_group
    );

    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (next, errors, prism, arm) = (next.clone(), errors.clone(), prism.clone(), arm.clone());
        let (pe, rg, token, user, pass) = (
            pe.clone(),
            rg.clone(),
            token.clone(),
            p.username.clone(),
            p.password.clone(),
        );
        let disk_id = format!(
            "/{}/disks/acme-pd-desk-0002-osdisk",
            rg.split_once("subscriptions")
                .map(|(_, r)| format!("subscriptions{r}"))
                .unwrap_or_default()
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<(Kind, Duration)> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || start.elapsed() > limit {
                    return latencies;
                }
                let kind = KINDS[i % KINDS.len()];
                let t = Instant::now();
                let resp = match kind {
                    Kind::PrismList => prism.get(format!("{pe}/vms")).basic_auth(&user, Some(&pass)).send().await,
                    Kind::PrismSnapshot => {
                        prism
                            .post(format!("{pe}/protection_domains/bench-pd/oob_schedules"))
                            .basic_auth(&user, Some(&pass))
                            .json(&json!({"remote_site_names": [], "snapshot_retention_time_secs": 86400}))
                            .send()
                            .await
                    }
                    Kind::ArmGet => {
                        arm.get(format!("{rg}/disks/acme-pd-desk-0003-osdisk?api-version=2025-01-02")).bearer_auth(&token).send().await
                    }
                    Kind::ArmPut => {
                        arm.put(format!("{rg}/snapshots/bench-{i}?api-version=2025-01-02"))
                            .bearer_auth(&token)
                            .json(&json!({"location": "westeurope", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": disk_id}, "incremental": false}}))
                            .send()
                            .await
                    }
                };
                let ok = match resp {
                    Ok(r) => {
                        let ok = r.status().is_success();
                        let _ = r.bytes().await;
                        ok
                    }
                    Err(_) => false,
                };
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                latencies.push((kind, t.elapsed()));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let elapsed = start.elapsed();
    lab.shutdown().await?;

    let n = all.len();
    let errors = errors.load(Ordering::Relaxed);
    println!("lab_throughput: {n} requests ({workers} concurrent clients, keep-alive HTTPS on loopback) in {:.2} s", elapsed.as_secs_f64());
    println!(
        "lab_throughput: {:.0} requests/s overall, {errors} errors",
        n as f64 / elapsed.as_secs_f64()
    );
    for kind in KINDS {
        let mut l: Vec<Duration> = all
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, d)| *d)
            .collect();
        l.sort();
        if l.is_empty() {
            continue;
        }
        let pct = |p: f64| l[((l.len() as f64 * p) as usize).min(l.len() - 1)];
        println!(
            "lab_throughput: {:<14} {:>5} requests  p50 {:>6.1} ms  p99 {:>6.1} ms",
            format!("{kind:?}"),
            l.len(),
            pct(0.5).as_secs_f64() * 1000.0,
            pct(0.99).as_secs_f64() * 1000.0
        );
    }
    if errors * 100 > n {
        anyhow::bail!("more than 1% of requests failed ({errors} of {n})");
    }
    Ok(())
}
