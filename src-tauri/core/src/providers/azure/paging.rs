//! ARM lists: `{"value": [...], "nextLink": "..."}`. `nextLink` is an absolute URL carrying its own
//! `api-version` and skip token; it is followed exactly as given, but only when its origin is the
//! configured ARM URL's (the bearer token goes with it).

use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

use super::client::{ArmClient, Repeat};
use super::error::ArmError;

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(default)]
    pub next_link: Option<String>,
}

/// A guard against a server that keeps answering pages (a loop of links).
const MAX_PAGES: usize = 100_000;

impl ArmClient {
    /// Every item of a list, page after page.
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        first: Url,
        what: &str,
    ) -> Result<Vec<T>, ArmError> {
        let mut out = Vec::new();
        self.for_each_page(first, what, |page: Vec<T>| out.extend(page))
            .await?;
        Ok(out)
    }

    /// Hands each page's items to `f` as it arrives, so that a caller keeping only part of each
    /// item holds one page at a time, not the whole list.
    pub async fn for_each_page<T: DeserializeOwned>(
        &self,
        first: Url,
        what: &str,
        f: impl FnMut(Vec<T>),
    ) -> Result<(), ArmError> {
        self.for_each_page_paced(first, what, f, || std::future::ready(()))
            .await
    }

    /// As [`ArmClient::for_each_page`], asking for each next page only once `pace` is done: a
    /// caller that cannot use a page yet holds back the list instead of keeping its pages.
    pub async fn for_each_page_paced<T: DeserializeOwned, P: std::future::Future<Output = ()>>(
        &self,
        first: Url,
        what: &str,
        mut f: impl FnMut(Vec<T>),
        mut pace: impl FnMut() -> P,
    ) -> Result<(), ArmError> {
        let mut url = first;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            pace().await;
            let r = self
                .send(Method::GET, url.clone(), None, Repeat::Safe)
                .await?;
            let page: Page<T> = r.json(what)?;
            f(page.value);
            match page.next_link.filter(|l| !l.trim().is_empty()) {
                None => return Ok(()),
                Some(link) => {
                    if !seen.insert(link.clone()) {
                        return Err(ArmError::decode(what, format!("nextLink repeats: {link}")));
                    }
                    url = Url::parse(&link)
                        .map_err(|e| ArmError::decode(what, format!("nextLink {link}: {e}")))?;
                    // Followed as given, but only to ARM itself: the token goes with it.
                    self.check_origin(&url)?;
                }
            }
        }
        Err(ArmError::decode(what, "too many pages"))
    }
}
