//! How often something may happen: a rate with a burst, enforced by a token bucket. The time is
//! passed in, so the rule is testable without waiting.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

/// Up to `burst` at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    per_second: u32,
    burst: u32,
}

impl Rate {
    /// Both at least 1: a rate of 0 would refuse everything, which is no rate.
    pub fn new(per_second: u32, burst: u32) -> Result<Rate, &'static str> {
        if per_second == 0 {
            return Err("rate_per_second must be at least 1");
        }
        if burst == 0 {
            return Err("burst must be at least 1");
        }
        Ok(Rate { per_second, burst })
    }

    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }
}

/// The tokens left of a [`Rate`]: full at first, one taken per event.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    pub fn full(rate: Rate, now: Instant) -> TokenBucket {
        TokenBucket {
            tokens: f64::from(rate.burst),
            updated: now,
        }
    }

    /// Takes a token if there is one at `now`; false, taking nothing, if there is none.
    pub fn take(&mut self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated);
        self.updated = self.updated.max(now);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * f64::from(rate.per_second))
            .min(f64::from(rate.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One bucket per key (a creditor's service, say), made full on first use. Keys should come
/// from a bounded set: buckets are never forgotten.
#[derive(Debug)]
pub struct Buckets<K> {
    buckets: Mutex<HashMap<K, TokenBucket>>,
}

impl<K> Default for Buckets<K> {
    fn default() -> Self {
        Buckets {
            buckets: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash> Buckets<K> {
    /// Takes a token from `key`'s bucket, if it has one at `now`.
    pub fn take(&self, key: K, rate: Rate, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().expect("token buckets");
        buckets
            .entry(key)
            .or_insert_with(|| TokenBucket::full(rate, now))
            .take(rate, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn each_key_has_its_own_bucket() {
        let rate = Rate::new(1, 1).unwrap();
        let buckets = Buckets::default();
        let now = Instant::now();
        assert!(buckets.take("a", rate, now));
        assert!(!buckets.take("a", rate, now));
        assert!(buckets.take("b", rate, now));
        assert!(buckets.take("a", rate, now + Duration::from_secs(1)));
    }

    #[test]
    fn a_burst_then_the_rate() {
        let rate = Rate::new(10, 3).unwrap();
        let t0 = Instant::now();
        let mut bucket = TokenBucket::full(rate, t0);
        assert!((0..3).all(|_| bucket.take(rate, t0)));
        assert!(!bucket.take(rate, t0));
        // One token every 100 ms.
        assert!(!bucket.take(rate, t0 + Duration::from_millis(50)));
        assert!(bucket.take(rate, t0 + Duration::from_millis(100)));
        assert!(!bucket.take(rate, t0 + Duration::from_millis(150)));
        // Never more than the burst, however long it waited.
        let later = t0 + Duration::from_secs(60);
        assert!((0..3).all(|_| bucket.take(rate, later)));
        assert!(!bucket.take(rate, later));
        // A time before the last one does not add tokens.
        assert!(!bucket.take(rate, t0));
    }

    #[test]
    fn zero_is_no_rate() {
        assert!(Rate::new(0, 1).is_err());
        assert!(Rate::new(1, 0).is_err());
    }
}
