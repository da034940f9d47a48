//! Where the tests' data lives: the repository's `fixtures/`, and the real public samples in
//! `../shared/realdata` beside the checkout (as on CI).

use std::path::{Path, PathBuf};

/// `../shared/realdata`, or a failing test that says where it looked: the tests that need the
/// samples must not pass without them.
pub fn realdata() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realdata");
    assert!(
        p.is_dir(),
        "the real-data samples are missing: expected them in {} (a `shared/realdata` folder beside \
         the repository checkout, as on CI and in /work); these tests need them and must not pass without them",
        p.display()
    );
    p
}

/// The repository's `fixtures/`.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}
