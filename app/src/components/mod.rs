//! Reusable pieces of the UI.

pub mod layout;
pub mod notice;
pub mod pager;
