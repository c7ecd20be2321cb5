//! Virtual time.
//!
//! Everything in a run is timed by madsim's virtual clock, read here as [`SimTime`]: whole
//! microseconds since the run started. Microseconds are fine enough for network latency and
//! fsync and coarse enough that madsim's scheduling jitter (tens of nanoseconds per task poll)
//! does not show in traces.
//!
//! madsim's `sleep` never sleeps less than one millisecond (to mimic tokio). Simulated links
//! and disks need shorter waits, so [`sleep_until`] resets the timer's deadline after creating
//! it, which madsim honours exactly.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A point in virtual time: microseconds since the start of the run.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct SimTime(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);

    /// A time given in whole milliseconds.
    pub fn from_ms(ms: u64) -> Self {
        SimTime(ms.saturating_mul(1000))
    }

    /// Microseconds since the start of the run.
    pub fn as_us(self) -> u64 {
        self.0
    }

    /// Whole milliseconds since the start of the run (rounded down).
    pub fn as_ms(self) -> u64 {
        self.0 / 1000
    }

    /// The time `d` later, saturating.
    pub fn after(self, d: Duration) -> Self {
        SimTime(self.0.saturating_add(duration_us(d)))
    }

    /// Time elapsed since `earlier` (zero if `earlier` is later).
    pub fn since(self, earlier: SimTime) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for SimTime {
    type Output = SimTime;
    fn add(self, d: Duration) -> SimTime {
        self.after(d)
    }
}

impl Sub for SimTime {
    type Output = Duration;
    fn sub(self, earlier: SimTime) -> Duration {
        self.since(earlier)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// Whole microseconds in `d`, saturating at `u64::MAX`.
pub fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The current virtual time.
///
/// # Panics
///
/// Outside a madsim runtime.
pub fn now() -> SimTime {
    SimTime(duration_us(madsim::time::TimeHandle::current().elapsed()))
}

/// A madsim timer for virtual time `deadline`, exact to the microsecond.
///
/// # Panics
///
/// Outside a madsim runtime.
pub fn precise_sleep(deadline: SimTime) -> std::pin::Pin<Box<madsim::time::Sleep>> {
    let handle = madsim::time::TimeHandle::current();
    let elapsed = handle.elapsed();
    let target = Duration::from_micros(deadline.0);
    let instant = handle.now_instant() + target.saturating_sub(elapsed);
    let mut sleep = Box::pin(handle.sleep_until(instant));
    // `sleep_until` clamps to at least 1 ms from now; `reset` does not.
    sleep.as_mut().reset(instant);
    sleep
}

/// A deadline's timer inside a hand-written future, made only when first needed (a madsim
/// timer costs a heap entry until its deadline, even when the wait ends early).
pub type DeadlineTimer = Option<std::pin::Pin<Box<madsim::time::Sleep>>>;

/// For a hand-written future that waits for something or a deadline: `Ready(None)` once
/// virtual time reaches `deadline`, else `Pending` with `timer` set to wake the task then.
pub fn poll_deadline<T>(
    cx: &mut std::task::Context<'_>,
    timer: &mut DeadlineTimer,
    deadline: SimTime,
) -> std::task::Poll<Option<T>> {
    use std::future::Future;
    if now() >= deadline {
        return std::task::Poll::Ready(None);
    }
    timer
        .get_or_insert_with(|| precise_sleep(deadline))
        .as_mut()
        .poll(cx)
        .map(|()| None)
}

/// Waits until virtual time `deadline`, to the microsecond (no one-millisecond floor).
pub async fn sleep_until(deadline: SimTime) {
    if deadline <= now() {
        return;
    }
    precise_sleep(deadline).await;
}

/// Waits for `d` of virtual time, to the microsecond.
pub async fn sleep(d: Duration) {
    sleep_until(now().after(d)).await;
}
