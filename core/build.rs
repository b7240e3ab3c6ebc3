//! The engine's fingerprint: a hash of the sources and data that decide a
//! finding (the policy engine with its catalogue and aliases, and the code
//! that turns its verdicts into findings). Each evaluation records it in
//! its context; an evaluation may reuse the previous one's findings for
//! unchanged resources only when the two ran the same engine.

use std::hash::Hasher;
use std::path::{Path, PathBuf};

const INPUTS: [&str; 6] =
    ["../policy/src", "../policy/catalogue", "../policy/aliases", "../rbac/src", "src/findings", "src/exemptions"];

fn main() {
    let mut files = Vec::new();
    for input in INPUTS {
        println!("cargo:rerun-if-changed={input}");
        collect(Path::new(input), &mut files);
    }
    files.sort();
    // SipHash with fixed keys: the same sources give the same fingerprint
    // with the same toolchain; a new toolchain at worst evaluates once in full.
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    for f in &files {
        h.write(f.to_string_lossy().as_bytes());
        h.write_u8(0);
        h.write(&std::fs::read(f).unwrap_or_default());
        h.write_u8(0);
    }
    println!("cargo:rustc-env=ATTEST_ENGINE_FINGERPRINT={:016x}", h.finish());
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    match std::fs::read_dir(path) {
        Ok(entries) => {
            for e in entries.flatten() {
                collect(&e.path(), out);
            }
        }
        Err(_) if path.is_file() => out.push(path.to_path_buf()),
        Err(_) => {}
    }
}
