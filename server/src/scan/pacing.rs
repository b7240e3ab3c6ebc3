//! Pacing: each subscription has ARM's read budget (a token bucket of 250,
//! refilled at 25 per second), and the scanner spends it no faster than it
//! refills, so a large estate is read at ARM's pace instead of into 429s.

use governor::{
    clock::DefaultClock, middleware::NoOpMiddleware, state::keyed::DefaultKeyedStateStore, Quota, RateLimiter,
};
use std::num::NonZeroU32;

/// A read budget: `burst` requests at once, `per_second` after that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub burst: NonZeroU32,
    pub per_second: NonZeroU32,
}

impl Budget {
    /// The limiter quota: `burst` at once, refilled at `per_second`.
    pub fn quota(self) -> Quota {
        Quota::per_second(self.per_second).allow_burst(self.burst)
    }

    /// ARM's documented subscription read limit.
    pub const ARM_READS: Budget =
        Budget { burst: NonZeroU32::new(250).unwrap(), per_second: NonZeroU32::new(25).unwrap() };
}

impl std::str::FromStr for Budget {
    type Err = String;
    /// `BURST/PER_SECOND`, e.g. `250/25`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (b, r) = s.split_once('/').ok_or_else(|| format!("expected BURST/PER_SECOND, got {s:?}"))?;
        let parse = |v: &str| v.trim().parse::<u32>().ok().and_then(NonZeroU32::new);
        match (parse(b), parse(r)) {
            (Some(burst), Some(per_second)) => Ok(Budget { burst, per_second }),
            _ => Err(format!("expected two positive whole numbers as BURST/PER_SECOND, got {s:?}")),
        }
    }
}

pub struct Pacer {
    limiter: RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, NoOpMiddleware>,
}

impl Pacer {
    pub fn new(budget: Budget) -> Pacer {
        Pacer { limiter: RateLimiter::keyed(budget.quota()) }
    }

    /// Waits until `url`'s subscription (or the tenant) may be read again.
    pub async fn ready(&self, url: &str) {
        self.limiter.until_key_ready(&budget_key(url)).await;
    }
}

/// The budget a request (a URL, or a bare path) spends: its subscription's,
/// or the tenant's.
pub fn budget_key(url: &str) -> String {
    let path = url.split_once("://").map(|(_, rest)| rest.split_once('/').map_or("", |(_, p)| p)).unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    let mut parts = path.trim_start_matches('/').split('/');
    match (parts.next(), parts.next()) {
        (Some(s), Some(id)) if s.eq_ignore_ascii_case("subscriptions") && !id.is_empty() => id.to_ascii_lowercase(),
        _ => "tenant".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn requests_spend_their_own_subscription_budget() {
        assert_eq!(budget_key("https://management.azure.com/subscriptions/ABC/providers/x?api-version=1"), "abc");
        assert_eq!(budget_key("https://management.azure.com/subscriptions?api-version=2022-12-01"), "tenant");
        assert_eq!(budget_key("http://127.0.0.1:4000/providers/Microsoft.Authorization/roleDefinitions/x"), "tenant");
        // The fake ARM keys its buckets by the bare path the same way.
        assert_eq!(budget_key("/subscriptions/ABC/resourceGroups/x"), "abc");
        assert_eq!(budget_key("/subscriptions"), "tenant");
    }

    #[test]
    fn budget_syntax_is_burst_over_rate() {
        assert_eq!("250/25".parse::<Budget>(), Ok(Budget::ARM_READS));
        assert!("250/0".parse::<Budget>().is_err());
        assert!("many".parse::<Budget>().is_err());
    }

    #[tokio::test]
    async fn after_the_burst_reads_are_paced_at_the_refill_rate() {
        let pacer = Pacer::new("5/20".parse().unwrap());
        let start = Instant::now();
        for _ in 0..5 {
            pacer.ready("https://h/subscriptions/a/x").await;
        }
        assert!(start.elapsed() < Duration::from_millis(100), "the burst is immediate");
        for _ in 0..4 {
            pacer.ready("https://h/subscriptions/a/x").await;
        }
        // Four more at 20 per second take about 200 ms.
        assert!(start.elapsed() >= Duration::from_millis(150), "{:?}", start.elapsed());
        let other = Instant::now();
        pacer.ready("https://h/subscriptions/b/x").await;
        assert!(other.elapsed() < Duration::from_millis(100), "another subscription has its own budget");
    }
}
