//! How the fake ARM misbehaves: a per-subscription token bucket like ARM's
//! read throttling (429 with Retry-After), and faults injected at a chosen
//! rate (5xx, truncated bodies, slow responses), decided by a seeded hash of
//! the request's sequence number so a run can be repeated.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::{Duration, Instant},
};

/// ARM's read budget: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub burst: f64,
    pub per_second: f64,
}

impl Bucket {
    /// ARM's documented subscription read limit (250, refilled 25 per second).
    pub const ARM_READS: Bucket = Bucket { burst: 250.0, per_second: 25.0 };
}

impl std::str::FromStr for Bucket {
    type Err = String;
    /// `BURST/PER_SECOND`, e.g. `250/25`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (b, r) = s.split_once('/').ok_or_else(|| format!("expected BURST/PER_SECOND, got {s:?}"))?;
        let parse = |v: &str| v.trim().parse::<f64>().ok().filter(|x| *x > 0.0 && x.is_finite());
        match (parse(b), parse(r)) {
            (Some(burst), Some(per_second)) => Ok(Bucket { burst, per_second }),
            _ => Err(format!("expected two positive numbers as BURST/PER_SECOND, got {s:?}")),
        }
    }
}

/// Token buckets keyed by subscription (or "tenant" for tenant-level reads).
pub struct Throttle {
    bucket: Bucket,
    state: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Throttle {
    pub fn new(bucket: Bucket) -> Self {
        Throttle { bucket, state: Mutex::new(HashMap::new()) }
    }

    /// Takes a token for `key`: `Ok(remaining)` or `Err(retry_after_seconds)`.
    pub fn take(&self, key: &str) -> Result<u64, u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let (tokens, last) = state.entry(key.to_string()).or_insert((self.bucket.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.bucket.per_second).min(self.bucket.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(*tokens as u64)
        } else {
            // Whole seconds, as ARM sends them, and never zero.
            Err((((1.0 - *tokens) / self.bucket.per_second).ceil() as u64).max(1))
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
}

impl Stats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn bump(counter: &AtomicU64) -> u64 {
        counter.fetch_add(1, Ordering::Relaxed)
    }

    /// Responses that were throttled or failed (a slow answer is still an answer).
    pub fn disturbed(&self) -> u64 {
        Self::get(&self.throttled) + Self::get(&self.server_errors) + Self::get(&self.truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_asks_to_wait() {
        let t = Throttle::new(Bucket { burst: 3.0, per_second: 0.5 });
        assert_eq!(t.take("s1"), Ok(2));
        assert_eq!(t.take("s1"), Ok(1));
        assert_eq!(t.take("s1"), Ok(0));
        assert_eq!(t.take("s1"), Err(2), "one token at 0.5/s takes two seconds");
        assert_eq!(t.take("s2"), Ok(2), "each subscription has its own bucket");
    }

    #[test]
    fn bucket_syntax_is_burst_over_rate() {
        assert_eq!("250/25".parse::<Bucket>(), Ok(Bucket::ARM_READS));
        assert!("250".parse::<Bucket>().is_err());
        assert!("0/25".parse::<Bucket>().is_err());
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
