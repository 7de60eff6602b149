//! The engine's worker threads: a team that stays awake between the parallel steps of a forward
//! pass.
//!
//! A decoding step runs about 120 matrix products and 30 attention passes, each a few to a few
//! hundred microseconds of work split over the threads, with short serial stretches (norms,
//! quantizing activations, the rotary embedding) in between. A general-purpose pool puts its
//! threads to sleep in those gaps and pays a wake-up (a futex call, then the scheduler) at the
//! start of nearly every product. The team's workers instead spin on the job counter for a
//! short while ([`SPIN`]) after each job, so the next one starts within nanoseconds, and sleep
//! only when the engine is idle.
//!
//! A job is `items` calls of one function, `f(0)..f(items - 1)`, each on whichever thread claims
//! it first (the caller takes part). Which thread runs an item never changes what it computes:
//! the callers split work by output rows or heads, so results stay bit-identical for any number
//! of threads.

#![allow(unsafe_code)]

use std::{
    panic::{AssertUnwindSafe, catch_unwind, resume_unwind},
    sync::{
        Arc, Condvar, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// How long an idle worker watches for the next job before it sleeps: longer than the serial
/// stretches of a forward pass and the sampling between two steps, short enough that an idle
/// engine gives its cores back at once. After the first eighth it yields its core between
/// looks, so that other threads waiting for one run first.
const SPIN: Duration = Duration::from_millis(2);

/// The most items one job claims at a time (the counter's width); larger jobs run in rounds.
const MAX_ITEMS: usize = (1 << 20) - 1;

/// The job counter: the job's number (24 bits), its item count (20 bits) and the next item to
/// claim (20 bits), in one word so a claim checks all three at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counter(u64);

impl Counter {
    fn new(epoch: u64, items: usize, next: usize) -> Self {
        Self(((epoch & 0xff_ffff) << 40) | ((items as u64) << 20) | next as u64)
    }

    fn epoch(self) -> u64 {
        self.0 >> 40
    }

    fn items(self) -> usize {
        ((self.0 >> 20) & 0xf_ffff) as usize
    }

    fn next(self) -> usize {
        (self.0 & 0xf_ffff) as usize
    }
}

/// What the caller publishes: the function, alive on the caller's stack until every item of its
/// job is done.
struct Job<'a> {
    f: &'a (dyn Fn(usize) + Sync),
}

struct Shared {
    counter: AtomicU64,
    /// The current job, type-erased; read only after claiming one of its items.
    job: AtomicPtr<Job<'static>>,
    /// Items of the current job finished (run or panicked).
    done: AtomicUsize,
    /// An item of the current job panicked.
    panicked: AtomicBool,
    /// Workers asleep, waiting on `wake`.
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
    stop: AtomicBool,
}

impl Shared {
    /// Runs items of job `epoch` until none is left to claim.
    fn work(&self, epoch: u64) {
        let job = self.job.load(SeqCst);
        let mut seen = Counter(self.counter.load(SeqCst));
        while seen.epoch() == epoch && seen.next() < seen.items() {
            let claimed = Counter(seen.0 + 1);
            match self.counter.compare_exchange_weak(seen.0, claimed.0, SeqCst, SeqCst) {
                Ok(_) => {
                    // SAFETY: an item of job `epoch` was claimed, so that job is not finished and
                    // its caller is still waiting in `Team::run`, keeping `Job` alive. `job` was
                    // loaded after this epoch was published (which follows the store of its job)
                    // and before the claim (which precedes the next job's store), so it is this
                    // epoch's job.
                    let f = unsafe { (*job).f };
                    if catch_unwind(AssertUnwindSafe(|| f(seen.next()))).is_err() {
                        self.panicked.store(true, SeqCst);
                    }
                    self.done.fetch_add(1, SeqCst);
                    seen = Counter(self.counter.load(SeqCst));
                }
                Err(now) => seen = Counter(now),
            }
        }
    }

    fn worker(&self) {
        let mut epoch = Counter(self.counter.load(SeqCst)).epoch();
        loop {
            let mut idle_since = Instant::now();
            let mut spins = 0u32;
            loop {
                if self.stop.load(SeqCst) {
                    return;
                }
                let now = Counter(self.counter.load(SeqCst));
                if now.epoch() != epoch {
                    epoch = now.epoch();
                    break;
                }
                std::hint::spin_loop();
                spins = spins.wrapping_add(1);
                if !spins.is_multiple_of(1024) {
                    continue;
                }
                let idle = idle_since.elapsed();
                if idle > SPIN / 8 && idle <= SPIN {
                    // Past the gaps inside a pass: let other threads that want this core run.
                    std::thread::yield_now();
                } else if idle > SPIN {
                    let mut guard = self.sleep.lock().unwrap_or_else(PoisonError::into_inner);
                    self.sleepers.fetch_add(1, SeqCst);
                    while Counter(self.counter.load(SeqCst)).epoch() == epoch && !self.stop.load(SeqCst) {
                        guard = self.wake.wait(guard).unwrap_or_else(PoisonError::into_inner);
                    }
                    self.sleepers.fetch_sub(1, SeqCst);
                    idle_since = Instant::now();
                }
            }
            self.work(epoch);
        }
    }
}

/// The engine's threads: the caller of [`Team::run`] and `threads - 1` workers.
pub(crate) struct Team {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// One job at a time (a verification and the batch worker may both call).
    turn: Mutex<u64>,
}

impl std::fmt::Debug for Team {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Team").field("threads", &self.threads()).finish()
    }
}

impl Team {
    /// A team of `threads` (at least one: the caller's own).
    pub(crate) fn new(threads: usize) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            counter: AtomicU64::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let mut team = Self { shared, workers: Vec::new(), turn: Mutex::new(0) };
        for i in 1..threads.max(1) {
            let shared = Arc::clone(&team.shared);
            let handle = std::thread::Builder::new()
                .name(format!("agora-infer-{i}"))
                .spawn(move || shared.worker())?;
            team.workers.push(handle);
        }
        Ok(team)
    }

    /// Threads that run a job, the caller's included.
    pub(crate) fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Calls `f(i)` once for every `i` in `0..items`, across the team; returns when all are
    /// done. A panic in any item is raised here once every item has finished. `f` must not
    /// call `run` on the same team (jobs take turns, one at a time).
    pub(crate) fn run(&self, items: usize, f: &(dyn Fn(usize) + Sync)) {
        if self.workers.is_empty() || items <= 1 {
            (0..items).for_each(f);
            return;
        }
        for start in (0..items).step_by(MAX_ITEMS) {
            let count = (items - start).min(MAX_ITEMS);
            let part = |i: usize| f(start + i);
            self.run_round(count, &part);
        }
    }

    fn run_round(&self, items: usize, f: &(dyn Fn(usize) + Sync)) {
        let shared = &*self.shared;
        let mut epoch = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        *epoch += 1;
        let job = Job { f };
        shared.done.store(0, SeqCst);
        shared.panicked.store(false, SeqCst);
        // SAFETY (of the erased lifetime): workers dereference the pointer only while an item of
        // this job is claimed and not done, and this function returns only once all are done.
        shared.job.store(&job as *const Job<'_> as *mut Job<'static>, SeqCst);
        shared.counter.store(Counter::new(*epoch, items, 0).0, SeqCst);
        if shared.sleepers.load(SeqCst) > 0 {
            let _guard = shared.sleep.lock().unwrap_or_else(PoisonError::into_inner);
            shared.wake.notify_all();
        }
        shared.work(Counter::new(*epoch, 0, 0).epoch());
        // Items still running elsewhere: wait for them (yielding the core now and then, in case
        // their thread is waiting for it).
        let mut spins = 0u32;
        while shared.done.load(SeqCst) < items {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(4096) {
                std::thread::yield_now();
            }
        }
        shared.job.store(std::ptr::null_mut(), SeqCst);
        if shared.panicked.load(SeqCst) {
            drop(epoch);
            resume_unwind(Box::new("an inference worker panicked"));
        }
    }

    /// Splits `out` into chunks of `chunk` elements (the last may be shorter) and calls
    /// `f(c, chunk_c)` for each across the team.
    pub(crate) fn for_chunks<T: Send>(
        &self,
        out: &mut [T],
        chunk: usize,
        f: impl Fn(usize, &mut [T]) + Sync,
    ) {
        let len = out.len();
        let parts = Disjoint::new(out);
        self.run(len.div_ceil(chunk), &|c| {
            let range = c * chunk..((c + 1) * chunk).min(len);
            // SAFETY: each item `c` takes its own chunk; chunks do not overlap.
            f(c, unsafe { parts.slice(range) })
        });
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        {
            let _guard = self.shared.sleep.lock().unwrap_or_else(PoisonError::into_inner);
            self.shared.wake.notify_all();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// A mutable slice that items of one job write in disjoint ranges.
struct Disjoint<'a, T> {
    ptr: *mut T,
    len: usize,
    _slice: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: it hands out `&mut` to disjoint ranges only (the callers of `slice` guarantee it), so
// sharing it is sharing a `&mut [T]` split in parts, which is sound for `T: Send`.
unsafe impl<T: Send> Sync for Disjoint<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Disjoint<'_, T> {}

impl<'a, T> Disjoint<'a, T> {
    fn new(slice: &'a mut [T]) -> Self {
        Self { ptr: slice.as_mut_ptr(), len: slice.len(), _slice: std::marker::PhantomData }
    }

    /// The elements in `range`.
    ///
    /// # Safety
    /// No two live results may overlap.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice(&self, range: std::ops::Range<usize>) -> &mut [T] {
        assert!(range.start <= range.end && range.end <= self.len, "{range:?} outside 0..{}", self.len);
        // SAFETY: within the slice (checked above); the caller guarantees exclusivity.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(range.start), range.end - range.start) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_runs_once_for_any_team_size() {
        for threads in [1, 2, 3, 5] {
            let team = Team::new(threads).unwrap();
            for items in [0, 1, 2, 7, 1000] {
                let hits: Vec<AtomicUsize> = (0..items).map(|_| AtomicUsize::new(0)).collect();
                for _ in 0..50 {
                    team.run(items, &|i| {
                        hits[i].fetch_add(1, SeqCst);
                    });
                }
                assert!(hits.iter().all(|h| h.load(SeqCst) == 50), "{threads} threads, {items} items");
            }
        }
    }

    #[test]
    fn chunks_are_written_by_their_item_only() {
        let team = Team::new(3).unwrap();
        let mut out = vec![0usize; 1003];
        team.for_chunks(&mut out, 10, |c, part| part.iter_mut().for_each(|v| *v += c + 1));
        assert!(out.iter().enumerate().all(|(i, v)| *v == i / 10 + 1));
    }

    #[test]
    fn callers_on_several_threads_take_turns() {
        let team = Arc::new(Team::new(2).unwrap());
        let total = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..4)
            .map(|_| {
                let (team, total) = (Arc::clone(&team), Arc::clone(&total));
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        team.run(16, &|_| {
                            total.fetch_add(1, SeqCst);
                        });
                    }
                })
            })
            .collect();
        callers.into_iter().for_each(|c| c.join().unwrap());
        assert_eq!(total.load(SeqCst), 4 * 200 * 16);
    }

    #[test]
    fn a_panicking_item_is_raised_to_the_caller_and_the_team_goes_on() {
        let team = Team::new(2).unwrap();
        let caught = catch_unwind(AssertUnwindSafe(|| {
            team.run(64, &|i| assert!(i != 40, "item 40"));
        }));
        assert!(caught.is_err());
        let ran = AtomicUsize::new(0);
        team.run(64, &|_| {
            ran.fetch_add(1, SeqCst);
        });
        assert_eq!(ran.load(SeqCst), 64);
    }

    #[test]
    fn an_idle_team_sleeps_and_wakes_for_the_next_job() {
        let team = Team::new(2).unwrap();
        std::thread::sleep(SPIN * 5);
        assert_eq!(team.shared.sleepers.load(SeqCst), 1, "the idle worker sleeps");
        let ran = AtomicUsize::new(0);
        team.run(100, &|_| {
            ran.fetch_add(1, SeqCst);
        });
        assert_eq!(ran.load(SeqCst), 100);
    }
}
