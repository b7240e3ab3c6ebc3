//! Support for tests in every crate of the workspace.

use std::path::PathBuf;

/// Microsoft's example payloads (`shared/fixtures`): `ATTEST_FIXTURES` if set,
/// otherwise the first `shared/fixtures` beside the checkout or one of its
/// parents (CI clones the repository with `shared/` beside it).
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ATTEST_FIXTURES") {
        return PathBuf::from(dir);
    }
    let start = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .map(|dir| dir.join("shared").join("fixtures"))
        .find(|candidate| candidate.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "the shared fixtures were not found beside {} or any parent; \
                 put shared/ beside the checkout or set ATTEST_FIXTURES",
                start.display()
            )
        })
}
