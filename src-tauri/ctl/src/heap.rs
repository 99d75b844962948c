//! What the C allocator keeps of the memory `standbyctl` has freed.
//!
//! glibc's `malloc` returns a heap's free memory to the system only from the top of that heap,
//! and each thread allocates from an arena of its own. A long `backup all` frees and allocates
//! in bursts (300 workers sending at once when ARM's write budget opens) on the runtime's
//! threads, and a free page below a live allocation stays resident: measured, the resident set
//! grew by about a mebibyte a burst while the heap itself stayed the same (docs/backups.md,
//! "Where the memory goes"), so a run on more volumes, with more bursts, ended larger.
//! Two settings, both measured (docs/backups.md, "Session 7"):
//! - One arena for every thread ([`one_arena`]): what planning freed on the main thread is then
//!   reused by the workers on the runtime's threads instead of staying resident beside theirs.
//!   `standbyctl` runs two runtime threads and a few short-lived ones, so one arena's lock is
//!   not a bottleneck (the benchmark's wall did not move).
//! - `malloc_trim(0)` gives back every whole free page of every arena; a thread asks for it once
//!   a second while a command runs ([`GiveBack`]).
//!
//! Elsewhere (not Linux with glibc) the platform's allocator keeps its own counsel.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often free pages are given back.
pub const PERIOD: Duration = Duration::from_secs(1);

/// Gives free pages back every [`PERIOD`] until dropped.
pub struct GiveBack {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl GiveBack {
    pub fn start() -> Self {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = supported().then(|| {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("heap-give-back".into())
                .spawn(move || {
                    let (lock, wake) = &*stop;
                    let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
                    while !*stopped {
                        let (s, timeout) = wake
                            .wait_timeout(stopped, PERIOD)
                            .unwrap_or_else(|e| e.into_inner());
                        stopped = s;
                        if timeout.timed_out() {
                            give_back();
                        }
                    }
                })
                .ok()
        });
        Self {
            stop,
            thread: thread.flatten(),
        }
    }
}

impl Drop for GiveBack {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn supported() -> bool {
    true
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn supported() -> bool {
    false
}

/// Makes every thread allocate from the main arena. Call before any thread is started (glibc
/// gives a thread its arena at its first allocation).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn one_arena() {
    // SAFETY: `mallopt` only sets a parameter of the allocator; M_ARENA_MAX is documented for use
    // at any time and takes effect for threads that have no arena yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn one_arena() {}

/// Returns whether glibc gave any memory back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn give_back() -> bool {
    // SAFETY: `malloc_trim` takes each arena's lock itself and only releases pages that hold no
    // allocation; it is safe to call from any thread at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn give_back() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopping_does_not_wait_for_the_next_period() {
        let started = std::time::Instant::now();
        drop(GiveBack::start());
        assert!(started.elapsed() < PERIOD);
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn freed_pages_below_a_live_allocation_are_given_back() {
        // Many small blocks, then one kept above them: freeing the small ones leaves a hole that
        // glibc does not return by itself (the top of the heap is in use).
        let small: Vec<Vec<u8>> = (0..4096).map(|_| vec![1u8; 1000]).collect();
        let kept = vec![2u8; 1000];
        drop(small);
        assert!(give_back(), "malloc_trim found nothing to give back");
        assert_eq!(kept[999], 2);
    }
}
