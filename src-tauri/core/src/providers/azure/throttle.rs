//! ARM's throttling: `Retry-After` on 429 (seconds or an HTTP date; it can be 20 minutes) and
//! pre-emptive slowing when `x-ms-ratelimit-remaining-subscription-reads/writes` runs low, so that
//! a long job spreads its requests instead of running into a 429 wall.

use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

pub const REMAINING_READS: &str = "x-ms-ratelimit-remaining-subscription-reads";
pub const REMAINING_WRITES: &str = "x-ms-ratelimit-remaining-subscription-writes";

/// When to start slowing and by how much.
#[derive(Debug, Clone)]
pub struct SlowDown {
    /// Slow reads when fewer remain than this (10% of ARM's 12,000 reads per hour).
    pub reads_below: u64,
    /// Slow writes when fewer remain than this (10% of ARM's 1,200 writes per hour).
    pub writes_below: u64,
    /// The delay when nothing remains; it shrinks linearly as more remain.
    pub max_delay: Duration,
}

impl Default for SlowDown {
    fn default() -> Self {
        Self {
            reads_below: 1_200,
            writes_below: 120,
            max_delay: Duration::from_secs(5),
        }
    }
}

/// The longest `Retry-After` believed (a day): a larger one, or one too large to represent, is
/// cut to this (it is far past `RetryPolicy::max_throttle_wait` anyway, so it surfaces as
/// `ArmError::Throttled`).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// `Retry-After`: delta-seconds or an HTTP date (compared with the client's clock), at most
/// [`MAX_RETRY_AFTER`]. Never panics, whatever the header says.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            let d = Duration::try_from_secs_f64(secs).unwrap_or(MAX_RETRY_AFTER);
            return Some(d.min(MAX_RETRY_AFTER));
        }
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    let d = at
        .signed_duration_since(now)
        .to_std()
        .unwrap_or(Duration::ZERO);
    Some(d.min(MAX_RETRY_AFTER))
}

/// The last remaining counts ARM reported.
#[derive(Debug, Default)]
pub struct Budget {
    reads: Mutex<Option<u64>>,
    writes: Mutex<Option<u64>>,
}

impl Budget {
    pub fn record(&self, headers: &reqwest::header::HeaderMap) {
        let read = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if let Some(r) = read(REMAINING_READS) {
            *self.reads.lock() = Some(r);
        }
        if let Some(w) = read(REMAINING_WRITES) {
            *self.writes.lock() = Some(w);
        }
    }

    /// How long to wait before the next request of this kind, and the remaining count that
    /// caused it.
    pub fn delay(&self, is_read: bool, cfg: &SlowDown) -> Option<(Duration, u64)> {
        let (remaining, below) = if is_read {
            (*self.reads.lock(), cfg.reads_below)
        } else {
            (*self.writes.lock(), cfg.writes_below)
        };
        let remaining = remaining?;
        if below == 0 || remaining >= below {
            return None;
        }
        let short = 1.0 - remaining as f64 / below as f64;
        Some((cfg.max_delay.mul_f64(short), remaining))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("1200", now),
            Some(Duration::from_secs(1200))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn a_huge_retry_after_is_capped_not_a_panic() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for v in [
            "1e300",
            "99999999999999999999999",
            "18446744073709551615",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            assert_eq!(parse_retry_after(v, now), Some(MAX_RETRY_AFTER), "{v}");
        }
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn slowing_grows_as_the_budget_shrinks() {
        let b = Budget::default();
        let cfg = SlowDown {
            reads_below: 100,
            writes_below: 10,
            max_delay: Duration::from_secs(10),
        };
        assert_eq!(b.delay(true, &cfg), None);
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(REMAINING_READS, "500".parse().unwrap());
        b.record(&h);
        assert_eq!(b.delay(true, &cfg), None);
        h.insert(REMAINING_READS, "75".parse().unwrap());
        b.record(&h);
        assert_eq!(b.delay(true, &cfg), Some((Duration::from_millis(2500), 75)));
        h.insert(REMAINING_READS, "0".parse().unwrap());
        b.record(&h);
        assert_eq!(b.delay(true, &cfg), Some((Duration::from_secs(10), 0)));
        assert_eq!(b.delay(false, &cfg), None);
    }
}
