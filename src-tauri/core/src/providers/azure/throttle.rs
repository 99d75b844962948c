//! ARM's throttling: `Retry-After` on 429 (seconds or an HTTP date; it can be 20 minutes) and
//! pre-emptive slowing when `x-ms-ratelimit-remaining-subscription-reads/writes` runs low, so that
//! a long job spreads its requests instead of running into a 429 wall.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

pub const REMAINING_READS: &str = "x-ms-ratelimit-remaining-subscription-reads";
pub const REMAINING_WRITES: &str = "x-ms-ratelimit-remaining-subscription-writes";

/// When to start slowing reads, and how writes keep to their budget.
#[derive(Debug, Clone)]
pub struct SlowDown {
    /// Slow reads when fewer remain than this (10% of ARM's 12,000 reads per hour).
    pub reads_below: u64,
    /// Slow writes when fewer remain than this; 0 (the default): writes are not slowed, they
    /// stop at the budget instead (see [`Budget::ticket`]).
    pub writes_below: u64,
    /// The delay when nothing remains; it shrinks linearly as more remain.
    pub max_delay: Duration,
    /// With the write budget used up, one write is sent anyway this often (ARM answers it 429
    /// with the wait, or with a new budget), and also after `max_delay` when no read has shown
    /// a budget lately (nothing else would tell that the hour turned).
    pub probe_every: Duration,
    /// While writes wait for a new budget and no read has shown a count for this long, one
    /// read is sent to look (see [`Budget::look_due`]): nothing else would tell that the hour
    /// turned when every worker waits for a write.
    pub look_every: Duration,
}

impl Default for SlowDown {
    fn default() -> Self {
        Self {
            reads_below: 1_200,
            writes_below: 0,
            max_delay: Duration::from_secs(5),
            probe_every: Duration::from_secs(30),
            look_every: Duration::from_secs(1),
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

/// The last remaining counts ARM reported, and the write budget as the client keeps to it.
#[derive(Debug, Default)]
pub struct Budget {
    reads: Mutex<Option<u64>>,
    writes: Mutex<Option<u64>>,
    gate: Arc<Mutex<WriteGate>>,
    changed: Arc<tokio::sync::Notify>,
}

/// The writes one job sends in order (a backup: deallocate, snapshot, start, `CopyStart`). Its
/// first write goes only when the budget can take all of them: the rest are then reserved for
/// it, and a write of a chain already begun goes before any write that would begin another.
/// Without it, each new budget (an hour of ARM's) went in a burst to whichever writers were
/// waiting, snapshots and power operations as much as copy starts, and a copy waited for the
/// next hour holding its copy slot while the snapshots it would copy piled up. Reserving never
/// lets a write past the budget: a reserved write still goes only while the budget has room.
/// Dropping the chain (the job ended, or its last write went) gives back what it did not use.
pub struct WriteChain {
    gate: Arc<Mutex<WriteGate>>,
    changed: Arc<tokio::sync::Notify>,
    state: Mutex<ChainState>,
}

#[derive(Debug, Default)]
struct ChainState {
    /// Writes the chain will send, counting the first.
    length: i64,
    started: bool,
    /// Reserved writes not yet sent.
    held: i64,
}

impl std::fmt::Debug for WriteChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteChain")
            .field("state", &*self.state.lock())
            .finish()
    }
}

impl WriteChain {
    /// `n` of the chain's writes will not be sent after all (a step found its work already
    /// done): their reservation goes back at once, not when the chain ends.
    pub fn skipped(&self, n: u32) {
        let mut g = self.gate.lock();
        let mut c = self.state.lock();
        if c.started {
            let back = c.held.min(n as i64);
            c.held -= back;
            g.reserved -= back;
            drop((c, g));
            if back > 0 {
                self.changed.notify_waiters();
            }
        } else {
            c.length = (c.length - n as i64).max(1);
        }
    }
}

impl Drop for WriteChain {
    fn drop(&mut self) {
        let held = std::mem::take(&mut self.state.get_mut().held);
        if held > 0 {
            self.gate.lock().reserved -= held;
            self.changed.notify_waiters();
        }
    }
}

/// Writes are let through only while the budget ARM last reported, less the writes sent since
/// and not yet answered, is above zero: many workers writing at once then never go past it
/// (each answer's count already includes the writes ARM handled before it). Used up, writes
/// wait until a read's remaining count rises by more than reads answered out of order could explain
/// (the hour turned, or a bucket refilled), then one write goes first to learn the new budget;
/// or until a probe is due (see [`SlowDown::probe_every`]).
#[derive(Debug, Default)]
struct WriteGate {
    /// Writes that may still be sent; `None` until ARM has reported a count.
    left: Option<i64>,
    writes_in_flight: i64,
    reads_in_flight: i64,
    /// The most reads ever in flight at once: answers can come back in another order than ARM
    /// counted them, by at most that many.
    reads_peak: i64,
    last_reads: Option<u64>,
    last_read_at: Option<tokio::time::Instant>,
    /// The lowest write count answered since the budget was last seen renewed: an answer showing
    /// more is one answered out of order (ignored) unless it shows more than the writes in
    /// flight could explain, or answers a probe.
    writes_floor: Option<u64>,
    /// The most writes ever in flight at once.
    writes_peak: i64,
    /// A read showed that the hour may have turned: the next write goes and learns the budget.
    probe_granted: bool,
    /// Since when no write went while the budget is used up (it ran out, or the last probe).
    quiet_since: Option<tokio::time::Instant>,
    /// Writes of begun chains not yet sent (see [`WriteChain`]): a write that would begin a
    /// chain, or that belongs to none, leaves them to their chains.
    reserved: i64,
    /// The longest chain seen: with less room than this past the reserved writes, a chain may be
    /// waiting for a new budget.
    longest: i64,
    /// A read sent to look at the budget is in flight (see [`Budget::look_due`]).
    looking: bool,
}

impl WriteGate {
    /// Room for writes beyond those reserved by begun chains (`None`: no count yet).
    fn free(&self) -> Option<i64> {
        self.left.map(|n| n - self.reserved)
    }

    /// Whether a chain may be kept waiting for a new budget (or any write, when it is used up).
    fn starved(&self) -> bool {
        self.free().is_some_and(|f| f < self.longest.max(1))
    }

    /// `Some(probe)` when a write may go now (`probe`: it goes to learn the budget). `chain`:
    /// the chain the write belongs to (see [`WriteChain`]).
    fn try_pass(
        &mut self,
        now: tokio::time::Instant,
        cfg: &SlowDown,
        chain: Option<&mut ChainState>,
    ) -> Option<bool> {
        let since = |t: Option<tokio::time::Instant>| t.map(|t| now.duration_since(t));
        // A reserved write needs room in the budget; any other write needs room past the
        // reserved ones, for itself and the rest of its chain.
        let holds = chain.as_ref().is_some_and(|c| c.held > 0);
        let rest = match &chain {
            Some(c) if !c.started => (c.length - 1).max(0),
            _ => 0,
        };
        let room = match self.left {
            None => true,
            Some(n) if holds => n > 0,
            Some(n) => n - self.reserved > rest,
        };
        let pass = if room {
            self.left = self.left.map(|n| n - 1);
            self.quiet_since = None;
            Some(false)
        } else {
            let quiet = *self.quiet_since.get_or_insert(now);
            let quiet = now.duration_since(quiet);
            let probe = std::mem::take(&mut self.probe_granted)
                || quiet >= cfg.probe_every
                || (quiet >= cfg.max_delay
                    && since(self.last_read_at).is_none_or(|d| d >= cfg.max_delay));
            if probe {
                self.quiet_since = Some(now);
                // Sent within what is left, if anything is (a chain waiting for room).
                self.left = self.left.map(|n| if n > 0 { n - 1 } else { n });
            }
            probe.then_some(true)
        };
        if pass.is_some() {
            self.writes_in_flight += 1;
            self.writes_peak = self.writes_peak.max(self.writes_in_flight);
            if let Some(c) = chain {
                if holds {
                    c.held -= 1;
                    self.reserved -= 1;
                } else if !c.started {
                    c.held = rest;
                    self.reserved += rest;
                }
                c.started = true;
            }
        }
        pass
    }
}

/// A read looking at the budget is in flight until dropped (see [`Budget::look_due`]).
pub struct Look<'a> {
    budget: &'a Budget,
}

impl Drop for Look<'_> {
    fn drop(&mut self) {
        self.budget.gate.lock().looking = false;
    }
}

/// A request counted as in flight until its answer (or its failure) is recorded.
pub struct Ticket<'a> {
    budget: &'a Budget,
    is_read: bool,
    /// A write sent to learn the budget: its answer's count is taken whatever it shows.
    probe: bool,
    open: bool,
}

impl Ticket<'_> {
    /// Records the answer's remaining counts; the request is no longer in flight.
    pub fn answered(mut self, headers: &reqwest::header::HeaderMap) {
        self.open = false;
        self.budget
            .answered(self.is_read, self.probe, Some(headers));
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if self.open {
            // No answer (a connection error, a cancel): only the count in flight changes.
            self.budget.answered(self.is_read, self.probe, None);
        }
    }
}

fn remaining(headers: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

impl Budget {
    /// Records the remaining counts of an answer not sent through a ticket.
    pub fn record(&self, headers: &reqwest::header::HeaderMap) {
        if let Some(r) = remaining(headers, REMAINING_READS) {
            *self.reads.lock() = Some(r);
        }
        if let Some(w) = remaining(headers, REMAINING_WRITES) {
            *self.writes.lock() = Some(w);
        }
    }

    fn answered(&self, is_read: bool, probe: bool, headers: Option<&reqwest::header::HeaderMap>) {
        if let Some(h) = headers {
            self.record(h);
        }
        let mut g = self.gate.lock();
        let mut opened = false;
        if is_read {
            g.reads_in_flight -= 1;
            if let Some(r) = headers.and_then(|h| remaining(h, REMAINING_READS)) {
                let rose = g
                    .last_reads
                    .is_some_and(|prev| r as i64 > prev as i64 + g.reads_peak + 1);
                if rose && g.starved() {
                    // Perhaps a new budget: one write may go and learn it.
                    g.probe_granted = true;
                    opened = true;
                }
                g.last_reads = Some(r);
                g.last_read_at = Some(tokio::time::Instant::now());
            }
        } else {
            g.writes_in_flight -= 1;
            let current = |w: u64, g: &WriteGate| {
                probe
                    || g.writes_floor
                        .is_none_or(|floor| w <= floor || w as i64 > floor as i64 + g.writes_peak)
            };
            if let Some(w) = headers
                .and_then(|h| remaining(h, REMAINING_WRITES))
                .filter(|w| current(*w, &g))
            {
                g.writes_floor = Some(w);
                let left = w as i64 - g.writes_in_flight.max(0);
                let was_open = g.left.is_none_or(|n| n > 0);
                // Room grew where a chain may be waiting for it (see `WriteGate::starved`).
                let was_free = g.free();
                opened = (left > 0 && !was_open)
                    || (g.starved() && was_free.is_some_and(|f| left - g.reserved > f));
                if left <= 0 && was_open {
                    g.quiet_since = Some(tokio::time::Instant::now());
                }
                g.left = Some(left);
            }
        }
        drop(g);
        if opened {
            self.changed.notify_waiters();
        }
    }

    /// A chain of `writes` writes to be sent in order (see [`WriteChain`]).
    pub fn chain(&self, writes: u32) -> Arc<WriteChain> {
        let length = i64::from(writes.max(1));
        {
            let mut g = self.gate.lock();
            g.longest = g.longest.max(length);
        }
        Arc::new(WriteChain {
            gate: self.gate.clone(),
            changed: self.changed.clone(),
            state: Mutex::new(ChainState {
                length,
                ..ChainState::default()
            }),
        })
    }

    /// Waits until a request of this kind may be sent (writes: see [`WriteGate`]) and counts it
    /// in flight. `None` when `cancel` was raised while waiting. `on_wait` is told once when a
    /// write has to wait. `chain`: the chain a write belongs to.
    pub async fn ticket(
        &self,
        is_read: bool,
        cfg: &SlowDown,
        cancel: &crate::cancel::CancelFlag,
        chain: Option<&WriteChain>,
        on_wait: impl FnOnce(),
    ) -> Option<Ticket<'_>> {
        let ticket = |b, probe| Ticket {
            budget: b,
            is_read,
            probe,
            open: true,
        };
        if is_read {
            let mut g = self.gate.lock();
            g.reads_in_flight += 1;
            g.reads_peak = g.reads_peak.max(g.reads_in_flight);
            return Some(ticket(self, false));
        }
        let mut on_wait = Some(on_wait);
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let passed = {
                let mut g = self.gate.lock();
                let mut c = chain.map(|c| c.state.lock());
                g.try_pass(tokio::time::Instant::now(), cfg, c.as_deref_mut())
            };
            if let Some(probe) = passed {
                return Some(ticket(self, probe));
            }
            if let Some(f) = on_wait.take() {
                f();
            }
            // Looked at again when a count changes, and at least every `max_delay / 5` for a
            // probe coming due.
            tokio::select! {
                _ = &mut notified => {}
                go_on = cancel.sleep(cfg.max_delay / 5) => if !go_on { return None },
            }
        }
    }

    /// Whether a write waiting for the budget should send one read now to look whether the hour
    /// turned (a read's remaining count rising opens the gate): the budget leaves no room, no
    /// read has shown a count for `look_every`, no other look is in flight, and reads are not
    /// running low themselves. At most one read per `look_every` while writes wait: 3,600 an
    /// hour of ARM's 12,000 at the very most, and none while copies are followed (their reads
    /// show the count). The look is over when the returned guard is dropped.
    pub fn look_due(&self, cfg: &SlowDown) -> Option<Look<'_>> {
        if self.reads.lock().is_some_and(|r| r < cfg.reads_below) {
            return None;
        }
        let mut g = self.gate.lock();
        let now = tokio::time::Instant::now();
        let quiet = g
            .last_read_at
            .is_none_or(|t| now.duration_since(t) >= cfg.look_every);
        if !(g.starved() && !g.looking && quiet) {
            return None;
        }
        g.looking = true;
        drop(g);
        Some(Look { budget: self })
    }

    /// ARM refused a write (429): the budget is used up whatever was counted; writes wait as
    /// for a used-up budget (the refused one is retried after its `Retry-After`).
    pub fn writes_refused(&self) {
        let mut g = self.gate.lock();
        g.left = Some(g.left.unwrap_or(0).min(0));
        g.quiet_since = Some(tokio::time::Instant::now());
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

    /// No probe writes within a test: only the counts open the gate.
    fn without_probes() -> SlowDown {
        SlowDown {
            max_delay: Duration::from_secs(3_600),
            probe_every: Duration::from_secs(3_600),
            ..SlowDown::default()
        }
    }

    fn counted(name: &'static str, n: u64) -> reqwest::header::HeaderMap {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(name, n.to_string().parse().unwrap());
        h
    }

    #[tokio::test]
    async fn writes_stop_at_the_budget_and_go_on_when_the_hour_turns() {
        let b = Budget::default();
        let cfg = without_probes();
        let cancel = crate::cancel::CancelFlag::new();
        let blocked = Duration::from_millis(50);
        let read = b.ticket(true, &cfg, &cancel, None, || {}).await.unwrap();
        read.answered(&counted(REMAINING_READS, 9_000));
        let first = b.ticket(false, &cfg, &cancel, None, || {}).await.unwrap();
        first.answered(&counted(REMAINING_WRITES, 2));
        // Two may go, and are in flight together: a third waits for their answers.
        let a = b.ticket(false, &cfg, &cancel, None, || {}).await.unwrap();
        let c = b.ticket(false, &cfg, &cancel, None, || {}).await.unwrap();
        let waited = std::cell::Cell::new(false);
        let third = b.ticket(false, &cfg, &cancel, None, || waited.set(true));
        tokio::pin!(third);
        assert!(tokio::time::timeout(blocked, &mut third).await.is_err());
        // Answered out of order: ARM counted `a` before `c`, so `c`'s 0 is the last word.
        c.answered(&counted(REMAINING_WRITES, 0));
        a.answered(&counted(REMAINING_WRITES, 1));
        assert!(tokio::time::timeout(blocked, &mut third).await.is_err());
        // Reads answered out of order show a count a little higher: not a new hour.
        let r1 = b.ticket(true, &cfg, &cancel, None, || {}).await.unwrap();
        let r2 = b.ticket(true, &cfg, &cancel, None, || {}).await.unwrap();
        r2.answered(&counted(REMAINING_READS, 8_998));
        r1.answered(&counted(REMAINING_READS, 8_999));
        assert!(tokio::time::timeout(blocked, &mut third).await.is_err());
        // The hour turned: one write goes and learns the new budget...
        let r = b.ticket(true, &cfg, &cancel, None, || {}).await.unwrap();
        r.answered(&counted(REMAINING_READS, 11_999));
        let probe = tokio::time::timeout(Duration::from_secs(5), &mut third)
            .await
            .expect("a write goes once the hour turned")
            .unwrap();
        assert!(waited.get(), "the wait was reported");
        assert!(
            tokio::time::timeout(blocked, b.ticket(false, &cfg, &cancel, None, || {}))
                .await
                .is_err()
        );
        probe.answered(&counted(REMAINING_WRITES, 1_199));
        // ... and the others follow.
        for _ in 0..10 {
            let t = tokio::time::timeout(
                Duration::from_secs(5),
                b.ticket(false, &cfg, &cancel, None, || {}),
            )
            .await
            .expect("writes go on")
            .unwrap();
            drop(t);
        }
        // A cancel ends a wait.
        b.writes_refused();
        let waiting = b.ticket(false, &cfg, &cancel, None, || {});
        cancel.cancel();
        assert!(waiting.await.is_none());
    }

    #[tokio::test]
    async fn a_begun_chain_s_writes_go_before_writes_that_would_begin_another() {
        let b = Budget::default();
        let cfg = without_probes();
        let cancel = crate::cancel::CancelFlag::new();
        let blocked = Duration::from_millis(50);
        let go = Duration::from_secs(5);
        let read = b.ticket(true, &cfg, &cancel, None, || {}).await.unwrap();
        read.answered(&counted(REMAINING_READS, 9_000));
        let first = b.ticket(false, &cfg, &cancel, None, || {}).await.unwrap();
        first.answered(&counted(REMAINING_WRITES, 3));
        // A backup's snapshot and copy start: the snapshot goes, and the copy start's write is
        // kept for it.
        let copy_a = b.chain(2);
        let a1 = b
            .ticket(false, &cfg, &cancel, Some(&copy_a), || {})
            .await
            .unwrap();
        // A write of no chain takes what is not kept...
        let x = b.ticket(false, &cfg, &cancel, None, || {}).await.unwrap();
        assert!(
            tokio::time::timeout(blocked, b.ticket(false, &cfg, &cancel, None, || {}))
                .await
                .is_err(),
            "the last write is kept for the begun chain"
        );
        // ... and another backup's snapshot waits: its copy start could not follow.
        let copy_b = b.chain(2);
        let b1 = b.ticket(false, &cfg, &cancel, Some(&copy_b), || {});
        tokio::pin!(b1);
        assert!(tokio::time::timeout(blocked, &mut b1).await.is_err());
        // The first backup's copy start goes at once.
        let a2 = tokio::time::timeout(go, b.ticket(false, &cfg, &cancel, Some(&copy_a), || {}))
            .await
            .expect("the begun chain's write goes")
            .unwrap();
        drop(copy_a);
        a1.answered(&counted(REMAINING_WRITES, 2));
        x.answered(&counted(REMAINING_WRITES, 1));
        a2.answered(&counted(REMAINING_WRITES, 0));
        assert!(tokio::time::timeout(blocked, &mut b1).await.is_err());
        // The hour turns: the waiting snapshot goes (to learn the budget), and its copy start
        // goes before a third backup's snapshot when one write is left.
        let r = b.ticket(true, &cfg, &cancel, None, || {}).await.unwrap();
        r.answered(&counted(REMAINING_READS, 11_999));
        let b1 = tokio::time::timeout(go, &mut b1)
            .await
            .expect("a write goes once the hour turned")
            .unwrap();
        b1.answered(&counted(REMAINING_WRITES, 1));
        let copy_c = b.chain(2);
        let mut c1 = Box::pin(b.ticket(false, &cfg, &cancel, Some(&copy_c), || {}));
        assert!(tokio::time::timeout(blocked, &mut c1).await.is_err());
        let b2 = tokio::time::timeout(go, b.ticket(false, &cfg, &cancel, Some(&copy_b), || {}))
            .await
            .expect("the begun chain's write goes first")
            .unwrap();
        b2.answered(&counted(REMAINING_WRITES, 0));
        // Another hour: the third snapshot goes, and with two writes left, one is kept for
        // its copy start; a chain that ends without its writes gives back what it kept.
        for reads in [11_000, 11_999] {
            let read = b.ticket(true, &cfg, &cancel, None, || {}).await.unwrap();
            read.answered(&counted(REMAINING_READS, reads));
        }
        let probe = tokio::time::timeout(go, &mut c1).await.unwrap().unwrap();
        drop(c1);
        probe.answered(&counted(REMAINING_WRITES, 2));
        let copy_d = b.chain(2);
        let d1 = b.ticket(false, &cfg, &cancel, Some(&copy_d), || {});
        tokio::pin!(d1);
        assert!(
            tokio::time::timeout(blocked, &mut d1).await.is_err(),
            "one of two writes is kept for the third backup's copy start"
        );
        drop(copy_c);
        tokio::time::timeout(go, &mut d1)
            .await
            .expect("the kept write was given back")
            .unwrap();
    }

    #[tokio::test]
    async fn a_used_up_budget_is_probed_when_nothing_else_can_tell() {
        let b = Budget::default();
        let cfg = SlowDown {
            max_delay: Duration::from_millis(100),
            probe_every: Duration::from_secs(3_600),
            ..SlowDown::default()
        };
        let cancel = crate::cancel::CancelFlag::new();
        let w = b.ticket(false, &cfg, &cancel, None, || {}).await.unwrap();
        w.answered(&counted(REMAINING_WRITES, 0));
        // No read shows a budget: after `max_delay`, one write goes to ask ARM.
        let started = tokio::time::Instant::now();
        let probe = tokio::time::timeout(
            Duration::from_secs(5),
            b.ticket(false, &cfg, &cancel, None, || {}),
        )
        .await
        .expect("a probe goes")
        .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(100));
        probe.answered(&counted(REMAINING_WRITES, 0));
        assert!(
            tokio::time::timeout(
                Duration::from_millis(50),
                b.ticket(false, &cfg, &cancel, None, || {})
            )
            .await
            .is_err(),
            "one probe at a time"
        );
    }

    #[tokio::test]
    async fn one_read_looks_at_a_used_up_budget_when_nothing_else_reads() {
        let b = Budget::default();
        let cfg = SlowDown {
            look_every: Duration::from_millis(50),
            ..SlowDown::default()
        };
        let cancel = crate::cancel::CancelFlag::new();
        assert!(
            b.look_due(&cfg).is_none(),
            "no count yet: nothing to look at"
        );
        let w = b.ticket(false, &cfg, &cancel, None, || {}).await.unwrap();
        w.answered(&counted(REMAINING_WRITES, 5));
        assert!(b.look_due(&cfg).is_none(), "room left");
        let w = b.ticket(false, &cfg, &cancel, None, || {}).await.unwrap();
        w.answered(&counted(REMAINING_WRITES, 0));
        let look = b.look_due(&cfg).expect("used up, no read seen: look");
        assert!(b.look_due(&cfg).is_none(), "one look at a time");
        let r = b.ticket(true, &cfg, &cancel, None, || {}).await.unwrap();
        r.answered(&counted(REMAINING_READS, 9_000));
        drop(look);
        assert!(b.look_due(&cfg).is_none(), "a read was just seen");
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(b.look_due(&cfg).is_some(), "no read for `look_every`");
    }

    #[test]
    fn slowing_grows_as_the_budget_shrinks() {
        let b = Budget::default();
        let cfg = SlowDown {
            reads_below: 100,
            writes_below: 10,
            max_delay: Duration::from_secs(10),
            ..SlowDown::default()
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
