//! How the fake ARM misbehaves: a per-subscription token bucket like ARM's
//! read throttling (429 with Retry-After), and faults injected at a chosen
//! rate (5xx, truncated bodies, slow responses), decided by a seeded hash of
//! the request's sequence number so a run can be repeated.

use crate::scan::pacing::Budget;
use governor::{
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
    RateLimiter,
};
use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// ARM's read throttling, a token bucket per subscription (or "tenant" for
/// tenant-level reads): the same keyed GCRA limiter the scanner paces itself
/// with, answering how many reads are left or how long to wait.
pub struct Throttle {
    limiter: RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>,
    clock: DefaultClock,
}

impl Throttle {
    pub fn new(budget: Budget) -> Self {
        Throttle { limiter: RateLimiter::keyed(budget.quota()).with_middleware(), clock: DefaultClock::default() }
    }

    /// Takes a read for `key`: `Ok(reads left)` or `Err(retry_after_seconds)`.
    pub fn take(&self, key: &str) -> Result<u64, u64> {
        match self.limiter.check_key(&key.to_string()) {
            Ok(state) => Ok(u64::from(state.remaining_burst_capacity())),
            // Whole seconds, as ARM sends them, and never zero.
            Err(not_until) => Err((not_until.wait_time_from(self.clock.now()).as_secs_f64().ceil() as u64).max(1)),
        }
    }
}

/// What to inject, and how often.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultPlan {
    /// The share of requests (0 to 1) that get a fault.
    pub rate: f64,
    pub seed: u64,
    /// How long a slow response is held back.
    pub slow: Duration,
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan { rate: 0.0, seed: 0, slow: Duration::from_millis(300) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 500 Internal Server Error.
    ServerError,
    /// 503 Service Unavailable, with or without Retry-After.
    Unavailable { retry_after: bool },
    /// 200 with the body cut in half.
    Truncated,
    /// The right answer, late.
    Slow,
}

impl FaultPlan {
    /// The fault, if any, for the `n`th request.
    pub fn pick(&self, n: u64) -> Option<Fault> {
        if self.rate <= 0.0 {
            return None;
        }
        let x = mix(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        if (x >> 11) as f64 / (1u64 << 53) as f64 >= self.rate {
            return None;
        }
        Some(match mix(x) % 5 {
            0 => Fault::ServerError,
            1 => Fault::Unavailable { retry_after: false },
            2 => Fault::Unavailable { retry_after: true },
            3 => Fault::Truncated,
            _ => Fault::Slow,
        })
    }
}

/// SplitMix64's finaliser: a well-spread hash of a counter.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What the fake has served, for tests and for the operator.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub ok: AtomicU64,
    pub throttled: AtomicU64,
    pub server_errors: AtomicU64,
    pub truncated: AtomicU64,
    pub slow: AtomicU64,
    pub not_found: AtomicU64,
    pub unauthorized: AtomicU64,
    /// Requests being answered now, and the most there ever were at once.
    pub in_flight: AtomicU64,
    pub max_in_flight: AtomicU64,
}

impl Stats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn bump(counter: &AtomicU64) -> u64 {
        counter.fetch_add(1, Ordering::Relaxed)
    }

    /// Counts a request in flight until the returned guard is dropped.
    pub(crate) fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(self)
    }

    /// Responses that were throttled or failed (a slow answer is still an answer).
    pub fn disturbed(&self) -> u64 {
        Self::get(&self.throttled) + Self::get(&self.server_errors) + Self::get(&self.truncated)
    }
}

pub(crate) struct InFlight<'a>(&'a Stats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_asks_to_wait() {
        let t = Throttle::new("3/1".parse().unwrap());
        assert_eq!(t.take("s1"), Ok(2));
        assert_eq!(t.take("s1"), Ok(1));
        assert_eq!(t.take("s1"), Ok(0));
        assert_eq!(t.take("s1"), Err(1), "the next read is a second away");
        assert_eq!(t.take("s2"), Ok(2), "each subscription has its own bucket");
    }

    #[test]
    fn faults_come_at_about_the_planned_rate_and_repeat_with_the_seed() {
        let plan = FaultPlan { rate: 0.3, seed: 9, ..Default::default() };
        let hits = (0..10_000).filter(|n| plan.pick(*n).is_some()).count();
        assert!((2_700..3_300).contains(&hits), "{hits}");
        let again: Vec<_> = (0..100).map(|n| plan.pick(n)).collect();
        assert_eq!(again, (0..100).map(|n| plan.pick(n)).collect::<Vec<_>>());
        assert!(FaultPlan::default().pick(1).is_none());
    }
}
