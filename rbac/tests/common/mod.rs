//! Shared by the crate's tests and benchmark: where the shared fixtures are.

use std::path::PathBuf;

/// `shared/fixtures`, beside the checkout or one of its parents.
pub fn fixtures() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let candidate = dir.join("shared/fixtures");
        if candidate.is_dir() {
            return candidate;
        }
        assert!(dir.pop(), "shared/fixtures not found beside the checkout or any parent");
    }
}
