//! Payment notices ("avvisi pagoPA"): turning a `domain::notice::Notice` into the document the
//! debtor receives.

pub mod pdf;
