//! When to try a request again and how long to wait first: 429 and 5xx are
//! retried, honouring Retry-After (seconds or an HTTP date, and the
//! millisecond forms Azure also sends), otherwise exponential back-off with
//! full jitter so that many workers do not retry in step.

use rand::Rng;
use reqwest::header::HeaderMap;
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first back-off step; each further attempt doubles it.
    pub base: Duration,
    /// The longest back-off step.
    pub max_backoff: Duration,
    /// The longest Retry-After honoured; a longer one ends the attempts.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(400),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// Statuses worth another attempt: throttling, timeouts, server trouble.
pub fn is_retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// The wait the server asked for, if it asked.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    for name in ["x-ms-retry-after-ms", "retry-after-ms"] {
        if let Some(ms) = get(name).and_then(|v| v.parse::<u64>().ok()) {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = get("retry-after")?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

impl RetryPolicy {
    /// The back-off before attempt `attempt + 1` (attempt counts from 0).
    pub fn backoff(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.base.saturating_mul(1u32 << attempt.min(16)).min(self.max_backoff);
        // Full jitter: anywhere between half and all of the ceiling.
        let half = ceiling / 2;
        half + Duration::from_nanos(rng.gen_range(0..=half.as_nanos() as u64))
    }

    /// The wait after a response that asked for `asked` (plus a little
    /// jitter, so that workers throttled together do not return together).
    pub fn honour(&self, asked: Duration, rng: &mut impl Rng) -> Option<Duration> {
        if asked > self.max_retry_after {
            return None;
        }
        let jitter = Duration::from_millis(rng.gen_range(0..=100)) + asked / 10;
        Some(asked + jitter.min(Duration::from_secs(5)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_is_read_in_seconds_as_a_date_or_in_milliseconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_784_000_000);
        assert_eq!(retry_after(&headers(&[("retry-after", "7")]), now), Some(Duration::from_secs(7)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(12));
        assert_eq!(retry_after(&headers(&[("retry-after", &date)]), now), Some(Duration::from_secs(12)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(12));
        assert_eq!(retry_after(&headers(&[("retry-after", &past)]), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers(&[("x-ms-retry-after-ms", "250")]), now), Some(Duration::from_millis(250)));
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        for attempt in 0..12 {
            let ceiling = (p.base * (1 << attempt)).min(p.max_backoff);
            let d = p.backoff(attempt, &mut rng);
            assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d:?}");
        }
        let spread: std::collections::HashSet<Duration> = (0..20).map(|_| p.backoff(3, &mut rng)).collect();
        assert!(spread.len() > 10, "jittered");
    }

    #[test]
    fn a_wait_beyond_the_limit_ends_the_attempts() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        let d = p.honour(Duration::from_secs(10), &mut rng).unwrap();
        assert!(d >= Duration::from_secs(10) && d <= Duration::from_secs(12));
        assert_eq!(p.honour(Duration::from_secs(3_600), &mut rng), None);
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable(s));
        }
        for s in [200, 400, 401, 403, 404, 409, 501] {
            assert!(!is_retryable(s));
        }
    }
}
