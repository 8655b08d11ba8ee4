//! Limits on what clients can make the server hold: a cap on open connections, a budget of
//! request body bytes buffered at once across all of them, and the process's open-files limit
//! raised so that the cap, not the kernel, is what refuses connections. Past a limit the server
//! sheds at once with a small answer rather than queueing: memory stays bounded and requests
//! that did get in keep their latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::{SMALL_BODY, large_body_budget};

/// Request body bytes the server may hold at once, over all requests; bodies over
/// [`SMALL_BODY`] only up to [`large_body_budget`].
#[derive(Debug)]
pub struct BodyBudget {
    limit: usize,
    large_limit: usize,
    used: AtomicUsize,
}

/// Bytes taken from a [`BodyBudget`], given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<BodyBudget>,
    bytes: usize,
}

impl BodyBudget {
    pub fn new(limit: usize) -> Arc<BodyBudget> {
        Arc::new(BodyBudget {
            limit,
            large_limit: large_body_budget(limit),
            used: AtomicUsize::new(0),
        })
    }

    /// Takes `bytes` for a body of that size if they fit in what is left; nothing otherwise.
    pub fn reserve(self: &Arc<Self>, bytes: usize) -> Option<Reservation> {
        self.take(bytes, bytes).then(|| Reservation {
            budget: self.clone(),
            bytes,
        })
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Takes `bytes` more for a body that will then hold `body` bytes.
    fn take(&self, bytes: usize, body: usize) -> bool {
        let ceiling = if body > SMALL_BODY {
            self.large_limit
        } else {
            self.limit
        };
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= ceiling)
            })
            .is_ok()
    }
}

impl Reservation {
    /// Grows the reservation to at least `bytes` in all; false, leaving it as it was, when the
    /// budget has not that much left.
    pub fn grow_to(&mut self, bytes: usize) -> bool {
        if bytes <= self.bytes {
            return true;
        }
        if self.budget.take(bytes - self.bytes, bytes) {
            self.bytes = bytes;
            true
        } else {
            false
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// The open-files limit (soft, hard), after raising the soft limit to the hard one: every
/// connection is a descriptor, and the default soft limit (often 1,024) is far below what the
/// connection cap allows. `None` where the platform has no such limit or refuses to tell.
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not everywhere
pub fn raise_open_files_limit() -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        let mut limit = current_limit()?;
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            // SAFETY: setrlimit only reads the struct passed.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                limit = raised;
            }
        }
        Some((limit.rlim_cur as u64, limit.rlim_max as u64))
    }
    #[cfg(not(unix))]
    None
}

/// The open-files soft limit now, if there is one.
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not everywhere
pub fn open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        current_limit().map(|l| l.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    None
}

#[cfg(unix)]
fn current_limit() -> Option<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    ok.then_some(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_budget_and_give_it_back() {
        let budget = BodyBudget::new(100);
        let a = budget.reserve(60).expect("fits");
        assert!(budget.reserve(41).is_none());
        let mut b = budget.reserve(40).expect("fits exactly");
        assert_eq!(budget.used(), 100);
        assert!(!b.grow_to(41));
        drop(a);
        assert!(b.grow_to(100));
        assert!(b.grow_to(50), "never shrinks");
        assert_eq!(budget.used(), 100);
        drop(b);
        assert_eq!(budget.used(), 0);
        assert!(budget.reserve(usize::MAX).is_none());
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn large_bodies_leave_a_quarter_to_small_ones() {
        let budget = BodyBudget::new(400 * 1024);
        let large = budget.reserve(200 * 1024).expect("fits");
        let mut growing = budget.reserve(SMALL_BODY).expect("small");
        // 264 KiB held; a large body may go up to 300 KiB in all, a small one to 400 KiB.
        assert!(!growing.grow_to(SMALL_BODY + 40 * 1024));
        assert!(growing.grow_to(SMALL_BODY + 30 * 1024));
        assert!(budget.reserve(SMALL_BODY + 1).is_none());
        let small: Vec<_> = (0..6).map(|_| budget.reserve(16 * 1024)).collect();
        assert!(
            small.iter().all(Option::is_some),
            "small bodies use the last quarter"
        );
        drop((large, growing, small));
        assert_eq!(budget.used(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn soft_open_files_limit_reaches_the_hard_one() {
        let (soft, hard) = raise_open_files_limit().expect("unix has the limit");
        assert_eq!(soft, hard);
        assert_eq!(open_files_limit(), Some(soft));
    }
}
