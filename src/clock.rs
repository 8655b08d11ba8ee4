//! The gateway's clock: UTC wall time, shifted in tests to see positions expire. Everything
//! that stamps or compares a time takes one, so that it needs nothing else of the context.

use chrono::{Duration, NaiveDateTime, Utc};

/// UTC wall clock, optionally shifted (tests move time forward to see positions expire).
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset: Duration,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    pub fn shifted(offset: Duration) -> Clock {
        Clock { offset }
    }

    /// Now, as a naive UTC date-time (GPD's convention), to the millisecond.
    pub fn now(&self) -> NaiveDateTime {
        let now = Utc::now() + self.offset;
        chrono::DateTime::from_timestamp_millis(now.timestamp_millis())
            .expect("in range")
            .naive_utc()
    }
}
