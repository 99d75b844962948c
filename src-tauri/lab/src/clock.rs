//! Simulated time for the lab.
//!
//! Everything the lab does that depends on time (replication progress, copy progress, token expiry,
//! snapshot rate windows, retention expiry) reads `LabClock::now()`, never the system clock, so that
//! tests and demos can advance or scale time and get consistent answers. Progress is computed lazily
//! from the clock when state is read, so advancing time needs no background task.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use parking_lot::Mutex;

/// Where real time comes from. The lab's default reads the system clock; tests may pass a manual one.
pub trait RealTime: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock. This is the only place the lab reads it.
#[derive(Debug, Default)]
pub struct SystemTime;

impl RealTime for SystemTime {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A real-time source that only moves when told to (for deterministic tests).
#[derive(Debug)]
pub struct ManualTime(Mutex<DateTime<Utc>>);

impl ManualTime {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start))
    }
    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock() = t;
    }
    pub fn add(&self, d: Duration) {
        let mut t = self.0.lock();
        *t += chrono::Duration::from_std(d).expect("duration in range");
    }
}

impl RealTime for ManualTime {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock()
    }
}

impl RealTime for Arc<ManualTime> {
    fn now(&self) -> DateTime<Utc> {
        self.as_ref().now()
    }
}

#[derive(Debug, Clone, Copy)]
struct Rebase {
    real: DateTime<Utc>,
    sim: DateTime<Utc>,
    scale: f64,
}

/// Simulated time: `sim = sim_at_rebase + (real - real_at_rebase) * scale`.
/// Cloning shares the same clock.
#[derive(Clone)]
pub struct LabClock {
    real: Arc<dyn RealTime>,
    base: Arc<Mutex<Rebase>>,
}

impl std::fmt::Debug for LabClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabClock")
            .field("now", &self.now())
            .field("scale", &self.scale())
            .finish()
    }
}

impl LabClock {
    /// A clock that follows real time at scale 1, starting at the real time.
    pub fn new(real: Arc<dyn RealTime>) -> Self {
        let now = real.now();
        Self {
            real,
            base: Arc::new(Mutex::new(Rebase {
                real: now,
                sim: now,
                scale: 1.0,
            })),
        }
    }

    /// A clock on the system's real time.
    pub fn system() -> Self {
        Self::new(Arc::new(SystemTime))
    }

    /// A clock frozen at `start` that moves only with `advance` (scale 0).
    pub fn frozen_at(start: DateTime<Utc>) -> Self {
        let c = Self::new(Arc::new(SystemTime));
        {
            let mut b = c.base.lock();
            b.sim = start;
            b.scale = 0.0;
        }
        c
    }

    pub fn now(&self) -> DateTime<Utc> {
        let b = *self.base.lock();
        let real_elapsed = self.real.now() - b.real;
        let ms = real_elapsed.num_milliseconds() as f64 * b.scale;
        b.sim + chrono::Duration::milliseconds(ms.round() as i64)
    }

    /// Epoch microseconds, the unit Prism speaks.
    pub fn now_usecs(&self) -> i64 {
        self.now().timestamp_micros()
    }

    pub fn scale(&self) -> f64 {
        self.base.lock().scale
    }

    /// Jump simulated time forward.
    pub fn advance(&self, d: Duration) {
        let now_real = self.real.now();
        let mut b = self.base.lock();
        let sim_now = b.sim
            + chrono::Duration::milliseconds(
                ((now_real - b.real).num_milliseconds() as f64 * b.scale).round() as i64,
            );
        b.real = now_real;
        b.sim = sim_now + chrono::Duration::from_std(d).expect("duration in range");
    }

    /// Make simulated time run `scale` times as fast as real time (0 freezes it).
    pub fn set_scale(&self, scale: f64) {
        assert!(scale >= 0.0 && scale.is_finite(), "scale must be >= 0");
        self.advance(Duration::ZERO);
        self.base.lock().scale = scale;
    }
}

/// Epoch microseconds to a UTC time (Prism's unit).
pub fn from_usecs(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_and_advance_move_simulated_time() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let real = Arc::new(ManualTime::new(start));
        let clock = LabClock::new(real.clone());
        real.add(Duration::from_secs(10));
        assert_eq!(clock.now(), start + chrono::Duration::seconds(10));
        clock.set_scale(60.0);
        real.add(Duration::from_secs(1));
        assert_eq!(clock.now(), start + chrono::Duration::seconds(70));
        clock.advance(Duration::from_secs(3600));
        assert_eq!(clock.now(), start + chrono::Duration::seconds(3670));
        clock.set_scale(0.0);
        real.add(Duration::from_secs(100));
        assert_eq!(clock.now(), start + chrono::Duration::seconds(3670));
    }
}
