//! How times read in what people see: pages, command output, reports.

use time::{OffsetDateTime, UtcOffset};

/// A time in UTC to the second: `2026-12-02 10:00:00 UTC`.
pub fn time(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.to_offset(UtcOffset::UTC).format(&f).unwrap_or_else(|_| t.to_string())
}
