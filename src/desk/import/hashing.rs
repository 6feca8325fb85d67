//! Argon2 hashing of an import's secrets on named worker threads, one per core, each reusing
//! its own argon2 memory (P2). The single writer hands out jobs and collects results by ticket.

use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::Scope;

use crate::domain::{HashError, Secret, SecretHasher};

/// Secrets of one row to hash; `ticket` finds the row again.
pub(super) struct HashJob {
    pub ticket: u64,
    pub secrets: Vec<Secret>,
}

/// The hashes of one row, in the order of its secrets.
pub(super) struct HashDone {
    pub ticket: u64,
    pub hashes: Result<Vec<String>, HashError>,
}

/// Worker threads living inside a [`std::thread::scope`]; they stop when the pool is dropped.
pub(super) struct HashPool {
    jobs: Option<SyncSender<HashJob>>,
    done: Receiver<HashDone>,
}

/// How many hashing threads to run: one per core.
pub(super) fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

impl HashPool {
    /// Starts `workers` threads named `import-hash-N` in `scope`.
    pub fn start<'scope>(
        scope: &'scope Scope<'scope, '_>,
        hasher: &'scope SecretHasher,
        workers: usize,
    ) -> std::io::Result<Self> {
        let workers = workers.max(1);
        let (jobs_tx, jobs_rx) = std::sync::mpsc::sync_channel::<HashJob>(workers * 4);
        let (done_tx, done_rx) = std::sync::mpsc::channel::<HashDone>();
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        for index in 0..workers {
            let jobs = Arc::clone(&jobs_rx);
            let done = done_tx.clone();
            std::thread::Builder::new()
                .name(format!("import-hash-{index}"))
                .spawn_scoped(scope, move || work(hasher, &jobs, &done))?;
        }
        Ok(Self {
            jobs: Some(jobs_tx),
            done: done_rx,
        })
    }

    /// Queues a job; waits while every worker is busy and the queue is full.
    pub fn submit(&self, job: HashJob) -> bool {
        self.jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok())
    }

    /// A finished job, if one is ready.
    pub fn try_done(&self) -> Option<HashDone> {
        self.done.try_recv().ok()
    }

    /// Waits for the next finished job; `None` when every worker has stopped.
    pub fn wait_done(&self) -> Option<HashDone> {
        self.done.recv().ok()
    }
}

impl Drop for HashPool {
    fn drop(&mut self) {
        // Closing the queue lets every worker finish its loop; the scope then joins them.
        self.jobs = None;
    }
}

fn work(hasher: &SecretHasher, jobs: &Mutex<Receiver<HashJob>>, done: &Sender<HashDone>) {
    let mut memory = hasher.memory();
    loop {
        let job = {
            let queue = jobs.lock().unwrap_or_else(PoisonError::into_inner);
            queue.recv()
        };
        let Ok(job) = job else {
            return;
        };
        // A panic must not leave its row waiting forever: it becomes an error like any other.
        let hashes = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            job.secrets
                .iter()
                .map(|secret| hasher.hash_reusing(secret, &mut memory))
                .collect()
        }))
        .unwrap_or_else(|_| Err(HashError::Hashing("a hashing thread failed".to_owned())));
        if done
            .send(HashDone {
                ticket: job.ticket,
                hashes,
            })
            .is_err()
        {
            return;
        }
    }
}
