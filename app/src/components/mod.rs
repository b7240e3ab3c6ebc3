//! Reusable pieces of the UI.

pub mod forms;
pub mod layout;
pub mod notice;
pub mod pager;
