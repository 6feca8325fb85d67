//! Long-running work on a named background thread: progress, cancel and a wake-up callback.
//! Knows nothing about drawing; the window passes its repaint request as the wake-up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;

/// How far a job has come, in units the job chooses (rows, bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// Where a job stands, as seen from the thread that started it.
#[derive(Debug)]
pub enum JobStatus<T> {
    Running(Progress),
    Finished(T),
    /// The worker panicked: a bug, reported to the clerk as "stopped unexpectedly".
    Crashed,
}

/// A job running on its own thread, plus what the caller needs to watch and cancel it.
pub struct BackgroundJob<T> {
    latest: Progress,
    progress_rx: mpsc::Receiver<Progress>,
    cancel_requested: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<T>>,
}

impl<T: Send + 'static> BackgroundJob<T> {
    /// Starts `work` on a thread called `thread_name`. `wake` runs after each progress report
    /// and once at the end, so a window can repaint and collect the result.
    pub fn spawn(
        thread_name: &str,
        wake: impl Fn() + Send + 'static,
        work: impl FnOnce(&JobContext) -> T + Send + 'static,
    ) -> std::io::Result<Self> {
        let (progress_tx, progress_rx) = mpsc::channel();
        let cancel_requested = Arc::new(AtomicBool::new(false));
        let context = JobContext {
            progress_tx,
            cancel_requested: Arc::clone(&cancel_requested),
            wake: Box::new(wake),
        };
        let handle = thread::Builder::new()
            .name(thread_name.to_owned())
            .spawn(move || {
                let output = work(&context);
                (context.wake)();
                output
            })?;
        Ok(Self {
            latest: Progress::default(),
            progress_rx,
            cancel_requested,
            handle: Some(handle),
        })
    }

    /// Asks the worker to stop at its next check.
    pub fn request_cancel(&self) {
        self.cancel_requested.store(true, Ordering::Relaxed);
    }

    /// Whether the worker has ended (so `poll` would not return `Running`).
    pub fn is_finished(&self) -> bool {
        self.handle
            .as_ref()
            .is_none_or(thread::JoinHandle::is_finished)
    }

    /// Collects progress and, once the worker has ended, its result. Call until it stops
    /// returning `Running`; after that it returns `Crashed`.
    pub fn poll(&mut self) -> JobStatus<T> {
        if let Some(progress) = self.progress_rx.try_iter().last() {
            self.latest = progress;
        }
        match self.handle.take_if(|handle| handle.is_finished()) {
            Some(handle) => handle
                .join()
                .map_or(JobStatus::Crashed, JobStatus::Finished),
            None if self.handle.is_none() => JobStatus::Crashed,
            None => JobStatus::Running(self.latest),
        }
    }

    /// Blocks until the worker ends and returns its result (`None` if it panicked).
    pub fn wait(mut self) -> Option<T> {
        self.handle.take().and_then(|handle| handle.join().ok())
    }
}

impl<T> Drop for BackgroundJob<T> {
    fn drop(&mut self) {
        // A dropped job is no longer wanted; the thread ends at its next check.
        self.cancel_requested.store(true, Ordering::Relaxed);
    }
}

/// The worker's side of a [`BackgroundJob`].
pub struct JobContext {
    progress_tx: mpsc::Sender<Progress>,
    cancel_requested: Arc<AtomicBool>,
    wake: Box<dyn Fn() + Send>,
}

impl JobContext {
    /// Reports progress and wakes the watcher.
    pub fn report(&self, progress: Progress) {
        // Sending fails only when the watcher has gone; the job then finishes quietly.
        self.progress_tx.send(progress).ok();
        (self.wake)();
    }

    /// Whether the watcher asked the job to stop (or dropped it).
    pub fn is_cancel_requested(&self) -> bool {
        self.cancel_requested.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_runs_on_a_named_thread_and_returns_its_result() {
        let job = BackgroundJob::spawn(
            "test-job",
            || {},
            |_| thread::current().name().map(str::to_owned),
        )
        .unwrap();
        assert_eq!(job.wait().flatten().as_deref(), Some("test-job"));
    }

    #[test]
    fn cancel_is_seen_by_the_worker() {
        let job = BackgroundJob::spawn(
            "test-cancel",
            || {},
            |context| {
                while !context.is_cancel_requested() {
                    thread::sleep(std::time::Duration::from_millis(1));
                }
                7
            },
        )
        .unwrap();
        job.request_cancel();
        assert_eq!(job.wait(), Some(7));
    }
}
