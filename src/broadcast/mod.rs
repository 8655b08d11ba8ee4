//! Receipt broadcast: every receipt the gateway acquires is forwarded to the broadcast stations
//! of the creditors it concerns. `outbox` attempts the deliveries (while the Node waits, then
//! from the retry worker) and `recorder` writes their results in batches; `client` makes one
//! attempt to one station with the request written by `xml::broadcast`, once per version and
//! receipt (`forms`); `cli` shows and re-queues deliveries for operators.

pub mod cli;
pub mod client;
pub mod forms;
pub mod health;
pub mod outbox;
pub mod recorder;

pub use client::{AttemptOutcome, StationClient};
