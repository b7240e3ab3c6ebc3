//! Helpers for the end-to-end tests: the real server (in-process, or the
//! release binary as `make run` serves it), accounts with roles, and a
//! headless Chromium driven through WebDriver.

pub mod accounts;
pub mod browser;
pub mod fixtures;
pub mod spawn;
pub mod webhook;
