//! What only the inside of a desktop knows: who is in session, and how much free space each
//! volume has. Neither Prism nor Resource Manager reports these, so Standby reads them from a guest
//! agent that speaks a small documented protocol (docs/guest-agent.md). The lab serves it for its
//! simulated desktops; in a real deployment a collector fed by Frame's session events and the
//! guest's volume statistics would serve the same shape (not part of Standby).
//!
//! An account without a guest agent is not guessed at: sessions and free space are `unknown`, and
//! the rules that need them say so (a running desktop is then not powered off for a scheduled
//! backup, autogrow does nothing).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError};
use crate::inventory::DiscoveredResource;
use crate::providers::azure::ids;

pub const TIMEOUT: Duration = Duration::from_secs(15);

/// One volume as the guest agent reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct GuestVolume {
    /// The provider's id of the volume: a VM uuid, a volume group uuid, an ARM disk id.
    pub id: String,
    pub name: String,
    /// The VM it is part of or attached to.
    #[serde(default)]
    pub vm: Option<String>,
    /// Whether that VM is running; `None` when the volume is attached to nothing.
    #[serde(default)]
    pub power_on: Option<bool>,
    /// The Frame user in session on that VM.
    #[serde(default)]
    pub session_user: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<f64>,
    #[serde(default)]
    pub free_bytes: Option<f64>,
}

/// One reading of an account's guest agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct GuestReport {
    /// Who answered (the agent's own words).
    pub source: String,
    pub volumes: Vec<GuestVolume>,
}

impl GuestReport {
    /// The guest's view of a discovered resource: by provider id (ARM ids compare without case or
    /// leading slash), else by name.
    pub fn volume(&self, r: &DiscoveredResource) -> Option<&GuestVolume> {
        self.volumes
            .iter()
            .find(|v| ids::same(&v.id, &r.provider_id))
            .or_else(|| {
                self.volumes
                    .iter()
                    .find(|v| v.name.eq_ignore_ascii_case(&r.name))
            })
    }
}

/// What is known of a volume's guest, for the rules that depend on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Session {
    /// Nobody is in session.
    None,
    InSession {
        user: String,
    },
    /// No guest agent for the account, or it did not answer, or it does not know this volume.
    Unknown {
        why: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("the guest agent at {url} is not a usable address: {detail}")]
    BadUrl { url: String, detail: String },
    #[error("the guest agent at {url} did not answer: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the guest agent at {url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("the guest agent at {url} answered something Standby cannot read: {detail}")]
    Decode { url: String, detail: String },
}

impl From<GuestError> for crate::ApiError {
    fn from(e: GuestError) -> Self {
        let code = match &e {
            GuestError::Catalog(_) => crate::ErrorCode::Storage,
            GuestError::BadUrl { .. } => crate::ErrorCode::InvalidInput,
            _ => crate::ErrorCode::Unavailable,
        };
        crate::ApiError::new(code, e.to_string())
    }
}

/// The guest agent configured for an account, if any.
pub fn configured(catalog: &Catalog, account_id: &str) -> Result<Option<String>, CatalogError> {
    catalog.guest_agent(account_id)
}

/// Checks an address before it is stored: absolute http(s) only.
pub fn check_url(url: &str) -> Result<url::Url, GuestError> {
    let parsed = url::Url::parse(url.trim()).map_err(|e| GuestError::BadUrl {
        url: url.to_string(),
        detail: format!("{e}; give an absolute http:// or https:// address"),
    })?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(GuestError::BadUrl {
            url: url.to_string(),
            detail: format!("the scheme {other:?} is not http or https"),
        }),
    }
}

/// Reads the guest agent at `url` (a GET, retried once: it changes nothing).
pub async fn read(url: &str) -> Result<GuestReport, GuestError> {
    read_kept(url, |_| true).await
}

/// As [`read`], keeping only the volumes `keep` accepts. The answer is parsed as it arrives and
/// each volume is looked at once, so neither the whole answer nor the volumes passed over are
/// held: an account's report names every volume of the account (three per user on the large
/// seed, 4.4 MB of JSON at 5,000 users), where `backup all` needs only its desktops'.
pub async fn read_kept(
    url: &str,
    keep: impl Fn(&GuestVolume) -> bool + Send + 'static,
) -> Result<GuestReport, GuestError> {
    let parsed = check_url(url)?;
    let unreachable = |e: reqwest::Error| GuestError::Unreachable {
        url: url.to_string(),
        detail: crate::providers::azure::client::describe_reqwest(&e),
    };
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(crate::providers::tls::web_client_config(None).map_err(|e| {
            GuestError::BadUrl {
                url: url.to_string(),
                detail: e.to_string(),
            }
        })?)
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| GuestError::BadUrl {
            url: url.to_string(),
            detail: crate::providers::azure::client::describe_reqwest(&e),
        })?;
    let mut last = None;
    let mut resp = None;
    for attempt in 0..2 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        match http.get(parsed.clone()).send().await {
            Ok(r) => {
                resp = Some(r);
                break;
            }
            Err(e) => last = Some(unreachable(e)),
        }
    }
    let Some(mut resp) = resp else {
        return Err(last.expect("two attempts were made"));
    };
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.map_err(unreachable)?;
        return Err(GuestError::Status {
            url: url.to_string(),
            status: status.as_u16(),
            body: body.chars().take(300).collect(),
        });
    }
    // The parser reads on the blocking pool from chunks handed over as they arrive; a few in
    // flight at most.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let parser = tokio::task::spawn_blocking(move || {
        parse_kept(
            std::io::BufReader::new(ChunkReader {
                chunks: rx,
                current: None,
                at: 0,
            }),
            &keep,
        )
    });
    let mut failed = None;
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if tx.send(chunk).await.is_err() {
                    // The parser stopped early: its error says why.
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                failed = Some(unreachable(e));
                break;
            }
        }
    }
    drop(tx);
    let parsed_report = parser.await.map_err(|e| GuestError::Decode {
        url: url.to_string(),
        detail: format!("the reader stopped: {e}"),
    })?;
    // A body cut short is the transport's failure, not a report that does not parse.
    if let Some(e) = failed {
        return Err(e);
    }
    parsed_report.map_err(|e| GuestError::Decode {
        url: url.to_string(),
        detail: e.to_string(),
    })
}

/// The body's chunks as a reader, for a parser on a blocking thread.
struct ChunkReader<B> {
    chunks: tokio::sync::mpsc::Receiver<B>,
    current: Option<B>,
    at: usize,
}

impl<B: AsRef<[u8]>> std::io::Read for ChunkReader<B> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(chunk) = &self.current {
                let rest = &chunk.as_ref()[self.at..];
                if !rest.is_empty() {
                    let n = rest.len().min(buf.len());
                    buf[..n].copy_from_slice(&rest[..n]);
                    self.at += n;
                    return Ok(n);
                }
            }
            match self.chunks.blocking_recv() {
                Some(chunk) => {
                    self.current = Some(chunk);
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
    }
}

/// Parses a report from `reader`, keeping the volumes `keep` accepts, in their order. Fields
/// other than `source` and `volumes` are passed over, as the plain reading does.
fn parse_kept(
    reader: impl std::io::Read,
    keep: &dyn Fn(&GuestVolume) -> bool,
) -> Result<GuestReport, serde_json::Error> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let report = KeptReport { keep }.deserialize(&mut de)?;
    de.end()?;
    Ok(report)
}

struct KeptReport<'k> {
    keep: &'k dyn Fn(&GuestVolume) -> bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for KeptReport<'_> {
    type Value = GuestReport;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<GuestReport, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeptReport<'_> {
    type Value = GuestReport;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a guest agent's report: an object with `source` and `volumes`")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<GuestReport, A::Error> {
        use serde::de::Error;
        let (mut source, mut volumes) = (None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "source" => source = Some(map.next_value::<String>()?),
                "volumes" => volumes = Some(map.next_value_seed(KeptVolumes { keep: self.keep })?),
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(GuestReport {
            source: source.ok_or_else(|| A::Error::missing_field("source"))?,
            volumes: volumes.ok_or_else(|| A::Error::missing_field("volumes"))?,
        })
    }
}

struct KeptVolumes<'k> {
    keep: &'k dyn Fn(&GuestVolume) -> bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for KeptVolumes<'_> {
    type Value = Vec<GuestVolume>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Vec<GuestVolume>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeptVolumes<'_> {
    type Value = Vec<GuestVolume>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of volumes")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<Vec<GuestVolume>, A::Error> {
        let mut kept = Vec::new();
        while let Some(v) = seq.next_element::<GuestVolume>()? {
            if (self.keep)(&v) {
                kept.push(v);
            }
        }
        Ok(kept)
    }
}

/// Reads the account's guest agent, or says why there is nothing to read. Never fails: a rule
/// that needs the guest treats "unknown" with care rather than stopping the whole operation.
pub async fn read_for(catalog: &crate::catalog::SharedCatalog, account_id: &str) -> Observed {
    read_for_kept(catalog, account_id, |_| true).await
}

/// As [`read_for`], keeping only the volumes `keep` accepts (see [`read_kept`]).
pub async fn read_for_kept(
    catalog: &crate::catalog::SharedCatalog,
    account_id: &str,
    keep: impl Fn(&GuestVolume) -> bool + Send + 'static,
) -> Observed {
    let url =
        match catalog.lock().guest_agent(account_id) {
            Ok(Some(u)) => u,
            Ok(None) => return Observed::Unknown(
                "no guest agent is configured for this account (standbyctl account guest-agent)"
                    .into(),
            ),
            Err(e) => return Observed::Unknown(e.to_string()),
        };
    match read_kept(&url, keep).await {
        Ok(r) => Observed::Read(r),
        Err(e) => Observed::Unknown(e.to_string()),
    }
}

/// The outcome of [`read_for`].
#[derive(Debug, Clone)]
pub enum Observed {
    Read(GuestReport),
    Unknown(String),
}

impl Observed {
    pub fn volume(&self, r: &DiscoveredResource) -> Option<&GuestVolume> {
        match self {
            Observed::Read(g) => g.volume(r),
            Observed::Unknown(_) => None,
        }
    }

    /// Who is in session on the VM this resource belongs to.
    pub fn session(&self, r: &DiscoveredResource) -> Session {
        match self {
            Observed::Unknown(why) => Session::Unknown { why: why.clone() },
            Observed::Read(g) => match g.volume(r) {
                None => Session::Unknown {
                    why: format!("the guest agent ({}) does not know {}", g.source, r.name),
                },
                Some(v) => match &v.session_user {
                    Some(u) => Session::InSession { user: u.clone() },
                    None => Session::None,
                },
            },
        }
    }

    /// Free bytes on the volume, when the guest reports them.
    pub fn free_bytes(&self, r: &DiscoveredResource) -> Option<f64> {
        self.volume(r).and_then(|v| v.free_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{PowerState, ResourceKind};

    fn resource(id: &str, name: &str) -> DiscoveredResource {
        DiscoveredResource {
            provider_id: id.into(),
            name: name.into(),
            kind: ResourceKind::PersistentDesktop,
            frame_account: "acme-pd".into(),
            owner: None,
            desktop_state: None,
            size_bytes: 0.0,
            vm_id: None,
            power: Some(PowerState::On),
            power_detail: None,
            location: "westeurope".into(),
            not_protected_reason: None,
        }
    }

    fn report() -> GuestReport {
        serde_json::from_value(serde_json::json!({
            "source": "test agent",
            "volumes": [
                {"id": "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/disks/d1",
                 "name": "d1", "vm": "vm1", "power_on": true, "session_user": "ann@example.com",
                 "size_bytes": 100.0, "free_bytes": 40.0},
                {"id": "u-2", "name": "desk-2", "power_on": false}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn volumes_are_matched_by_id_whatever_the_case_and_slash_then_by_name() {
        let g = Observed::Read(report());
        let by_id = resource(
            "subscriptions/s/resourcegroups/rg/providers/microsoft.compute/disks/D1",
            "other",
        );
        assert_eq!(
            g.session(&by_id),
            Session::InSession {
                user: "ann@example.com".into()
            }
        );
        assert_eq!(g.free_bytes(&by_id), Some(40.0));
        assert_eq!(g.session(&resource("x", "DESK-2")), Session::None);
        assert!(matches!(
            g.session(&resource("x", "nobody")),
            Session::Unknown { .. }
        ));
    }

    #[test]
    fn without_an_agent_everything_is_unknown_with_the_reason() {
        let g = Observed::Unknown("no guest agent".into());
        assert_eq!(
            g.session(&resource("u-2", "desk-2")),
            Session::Unknown {
                why: "no guest agent".into()
            }
        );
        assert_eq!(g.free_bytes(&resource("u-2", "desk-2")), None);
    }

    /// Hands out at most three bytes a read: a report split anywhere parses the same.
    struct Dribble<'a>(&'a [u8]);

    impl std::io::Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(3);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_kept_reading_holds_only_the_volumes_asked_for_in_their_order() {
        let mut text = serde_json::to_value(report()).unwrap();
        text["agent_version"] = serde_json::json!({"any": ["shape"]});
        text["volumes"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"id": "u-3", "name": "desk-3", "extra": 1}));
        let bytes = serde_json::to_vec(&text).unwrap();
        let all = parse_kept(Dribble(&bytes), &|_| true).unwrap();
        assert_eq!(all.volumes.len(), 3);
        assert_eq!(all.volumes[..2], report().volumes[..]);
        let kept = parse_kept(Dribble(&bytes), &|v| v.name != "desk-2").unwrap();
        assert_eq!(kept.source, "test agent");
        let names: Vec<&str> = kept.volumes.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["d1", "desk-3"]);
    }

    #[test]
    fn a_kept_reading_refuses_what_the_plain_one_refuses() {
        let no_source = br#"{"volumes": []}"#;
        let err = parse_kept(Dribble(no_source), &|_| true).unwrap_err();
        assert!(err.to_string().contains("missing field `source`"), "{err}");
        let cut = br#"{"source": "a", "volumes": [{"id": "x", "na"#;
        assert!(parse_kept(Dribble(cut), &|_| true).unwrap_err().is_eof());
        let trailing = br#"{"source": "a", "volumes": []} {"#;
        assert!(parse_kept(Dribble(trailing), &|_| true).is_err());
        let bad_volume = br#"{"source": "a", "volumes": [{"name": "no id"}]}"#;
        let err = parse_kept(Dribble(bad_volume), &|_| true).unwrap_err();
        assert!(err.to_string().contains("missing field `id`"), "{err}");
    }

    /// A one-shot HTTP server on loopback that answers `status` with `body`, declaring
    /// `declared` bytes (more than `body` cuts the answer short), then closes.
    async fn answer_once(status: &str, body: &[u8], declared: usize) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {declared}\r\nconnection: close\r\n\r\n"
        );
        let body = body.to_vec();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/guest", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            socket.write_all(head.as_bytes()).await.unwrap();
            // In pieces, as a network would.
            for piece in body.chunks(7) {
                socket.write_all(piece).await.unwrap();
                socket.flush().await.unwrap();
            }
        });
        url
    }

    #[tokio::test]
    async fn a_report_is_read_as_it_arrives() {
        let body = serde_json::to_vec(&report()).unwrap();
        let url = answer_once("200 OK", &body, body.len()).await;
        let kept = read_kept(&url, |v| v.name == "desk-2").await.unwrap();
        assert_eq!(kept.volumes, report().volumes[1..]);
    }

    #[tokio::test]
    async fn a_body_cut_short_is_the_agent_not_answering_not_a_bad_report() {
        let body = serde_json::to_vec(&report()).unwrap();
        let url = answer_once("200 OK", &body, body.len() + 100).await;
        let err = read(&url).await.unwrap_err();
        assert!(matches!(err, GuestError::Unreachable { .. }), "{err}");
    }

    #[tokio::test]
    async fn an_answer_that_is_not_a_report_says_so() {
        let body = br#"{"source": "a", "volumes": 7}"#;
        let url = answer_once("200 OK", body, body.len()).await;
        let err = read(&url).await.unwrap_err();
        assert!(matches!(err, GuestError::Decode { .. }), "{err}");
        let url = answer_once("503 Service Unavailable", b"no", 2).await;
        let err = read(&url).await.unwrap_err();
        assert!(
            matches!(&err, GuestError::Status { status: 503, body, .. } if body == "no"),
            "{err}"
        );
    }

    #[test]
    fn only_http_addresses_are_accepted() {
        assert!(check_url("http://127.0.0.1:7780/_lab/azure/guest-agent").is_ok());
        assert!(matches!(
            check_url("ftp://x/"),
            Err(GuestError::BadUrl { .. })
        ));
        assert!(matches!(
            check_url("not a url"),
            Err(GuestError::BadUrl { .. })
        ));
    }
}
