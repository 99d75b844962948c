//! Bounds on what Standby asks of a provider at once, shared by every backup that runs in this
//! process: one `Limits` is made by the front door (app, `standbyctl`, scheduler) and passed in.
//!
//! - Azure: at most `copies_per_region` cross-region copies in flight per target region (Azure
//!   allows 100 per subscription and region), and one copy per disk at a time, taken in the order
//!   the backups asked (a FIFO lock per disk: Azure requires a disk's incremental snapshots to be
//!   copied in creation order).
//! - Prism: at most `prism_tasks_per_cluster` tasks (power changes) in flight per cluster, and one
//!   out-of-band snapshot per protection domain at a time (how a retried snapshot step recognises
//!   its own snapshot: see `backup::ahv`).
//! - `workers`: how many volumes a backup of many volumes works on at once.
//!
//! Entries for disks are dropped when nobody holds or waits for them, so memory follows what is
//! in flight, not how many volumes an account has.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

use crate::cancel::CancelFlag;

pub const DEFAULT_COPIES_PER_REGION: usize = 100;
pub const DEFAULT_PRISM_TASKS_PER_CLUSTER: usize = 16;
pub const DEFAULT_WORKERS: usize = 32;

type Locks = Mutex<HashMap<String, Arc<AsyncMutex<()>>>>;

pub struct Limits {
    copies_per_region: usize,
    prism_tasks_per_cluster: usize,
    workers: usize,
    regions: Mutex<HashMap<String, Arc<Semaphore>>>,
    clusters: Mutex<HashMap<String, Arc<Semaphore>>>,
    disks: Arc<Locks>,
    domains: Arc<Locks>,
}

impl Default for Limits {
    fn default() -> Self {
        Self::new(
            DEFAULT_COPIES_PER_REGION,
            DEFAULT_PRISM_TASKS_PER_CLUSTER,
            DEFAULT_WORKERS,
        )
    }
}

/// A copy may run: the disk's turn and a slot in the target region, until dropped.
pub struct CopySlot {
    _region: OwnedSemaphorePermit,
    disk: Option<OwnedMutexGuard<()>>,
    key: String,
    locks: Arc<Locks>,
}

impl Drop for CopySlot {
    fn drop(&mut self) {
        release(&self.locks, &self.key, self.disk.take());
    }
}

/// The protection domain is this job's to snapshot, until dropped.
pub struct DomainTurn {
    guard: Option<OwnedMutexGuard<()>>,
    key: String,
    locks: Arc<Locks>,
}

impl Drop for DomainTurn {
    fn drop(&mut self) {
        release(&self.locks, &self.key, self.guard.take());
    }
}

fn release(locks: &Locks, key: &str, guard: Option<OwnedMutexGuard<()>>) {
    let mut map = locks.lock();
    drop(guard);
    // Only the map holds it: nobody runs or waits on this key any more.
    if map.get(key).is_some_and(|l| Arc::strong_count(l) == 1) {
        map.remove(key);
    }
}

/// Waits for `fut` unless `cancel` is set first.
async fn or_cancel<T>(cancel: &CancelFlag, fut: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::pin!(fut);
    loop {
        if cancel.is_cancelled() {
            return None;
        }
        tokio::select! {
            v = &mut fut => return Some(v),
            // The flag has no waiter of its own for an arbitrary future: look again shortly.
            _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
        }
    }
}

impl Limits {
    /// Zero is read as one: a bound of nothing would stop every backup.
    pub fn new(copies_per_region: usize, prism_tasks_per_cluster: usize, workers: usize) -> Self {
        Self {
            copies_per_region: copies_per_region.max(1),
            prism_tasks_per_cluster: prism_tasks_per_cluster.max(1),
            workers: workers.max(1),
            regions: Mutex::default(),
            clusters: Mutex::default(),
            disks: Arc::default(),
            domains: Arc::default(),
        }
    }

    pub fn copies_per_region(&self) -> usize {
        self.copies_per_region
    }

    pub fn prism_tasks_per_cluster(&self) -> usize {
        self.prism_tasks_per_cluster
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    fn semaphore(
        map: &Mutex<HashMap<String, Arc<Semaphore>>>,
        key: &str,
        n: usize,
    ) -> Arc<Semaphore> {
        map.lock()
            .entry(key.to_ascii_lowercase())
            .or_insert_with(|| Arc::new(Semaphore::new(n)))
            .clone()
    }

    fn lock_of(locks: &Locks, key: &str) -> Arc<AsyncMutex<()>> {
        locks.lock().entry(key.to_string()).or_default().clone()
    }

    /// Waits for the disk's turn (FIFO), then for a copy slot in `region`. `None` if cancelled.
    pub async fn copy_slot(
        &self,
        region: &str,
        disk: &str,
        cancel: &CancelFlag,
    ) -> Option<CopySlot> {
        let key = disk.trim().trim_start_matches('/').to_ascii_lowercase();
        let lock = Self::lock_of(&self.disks, &key);
        let locks = self.disks.clone();
        let guard = match or_cancel(cancel, lock.lock_owned()).await {
            Some(g) => g,
            None => {
                release(&locks, &key, None);
                return None;
            }
        };
        let sem = Self::semaphore(&self.regions, region, self.copies_per_region);
        match or_cancel(cancel, sem.acquire_owned()).await {
            Some(Ok(permit)) => Some(CopySlot {
                _region: permit,
                disk: Some(guard),
                key,
                locks,
            }),
            _ => {
                release(&locks, &key, Some(guard));
                None
            }
        }
    }

    /// A slot for one Prism task on `cluster` (its account id). `None` if cancelled.
    pub async fn prism_task(
        &self,
        cluster: &str,
        cancel: &CancelFlag,
    ) -> Option<OwnedSemaphorePermit> {
        let sem = Self::semaphore(&self.clusters, cluster, self.prism_tasks_per_cluster);
        or_cancel(cancel, sem.acquire_owned())
            .await
            .and_then(Result::ok)
    }

    /// The protection domain's turn for an out-of-band snapshot. `None` if cancelled.
    pub async fn protection_domain(
        &self,
        cluster: &str,
        pd: &str,
        cancel: &CancelFlag,
    ) -> Option<DomainTurn> {
        let key = format!("{cluster}/{pd}");
        let lock = Self::lock_of(&self.domains, &key);
        let locks = self.domains.clone();
        match or_cancel(cancel, lock.lock_owned()).await {
            Some(g) => Some(DomainTurn {
                guard: Some(g),
                key,
                locks,
            }),
            None => {
                release(&locks, &key, None);
                None
            }
        }
    }

    /// Disk locks currently held or waited for (for tests of flat memory).
    pub fn disks_tracked(&self) -> usize {
        self.disks.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn copies_per_region_are_bounded_and_disk_entries_go_away() {
        let limits = Arc::new(Limits::new(3, 1, 8));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..12 {
            let (l, r, p) = (limits.clone(), running.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = l
                    .copy_slot("westeurope", &format!("disk-{i}"), &CancelFlag::new())
                    .await
                    .unwrap();
                let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                r.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert_eq!(limits.disks_tracked(), 0);
    }

    #[tokio::test]
    async fn one_copy_per_disk_in_the_order_asked() {
        let limits = Arc::new(Limits::new(10, 1, 8));
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = limits
            .copy_slot("westeurope", "/Disk-A", &CancelFlag::new())
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..3 {
            let (l, o) = (limits.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _s = l
                    .copy_slot("northeurope", "disk-a", &CancelFlag::new())
                    .await
                    .unwrap();
                o.lock().push(i);
            }));
            // Let each waiter queue before the next one asks.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(order.lock().is_empty(), "the disk's first copy still runs");
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock(), [0, 1, 2]);
    }

    #[tokio::test]
    async fn a_cancelled_wait_gives_up() {
        let limits = Limits::new(1, 1, 1);
        let _held = limits.prism_task("c1", &CancelFlag::new()).await.unwrap();
        let cancel = CancelFlag::new();
        cancel.cancel();
        assert!(limits.prism_task("c1", &cancel).await.is_none());
        assert!(limits.prism_task("c2", &CancelFlag::new()).await.is_some());
    }
}
