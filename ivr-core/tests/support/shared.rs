//! Where the team's third-party test material lives: `$IVR_SHARED/testdata/<sub>`, by default
//! `../shared` beside the repository. When it is absent the test is skipped with a message,
//! unless `IVR_REQUIRE_SHARED` is set (`.ci/run` sets it whenever the folder exists, so a
//! wrong path cannot skip silently there).

use std::path::PathBuf;

/// The folder, or `None` (skip) with a message.
pub fn testdata(sub: &str) -> Option<PathBuf> {
    // Beside the repository, whichever package's tests ask.
    let base = std::env::var_os("IVR_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            here.ancestors()
                .map(|a| a.join("shared"))
                .find(|s| s.join("testdata").is_dir())
                .unwrap_or_else(|| here.join("../shared"))
        });
    let dir = base.join("testdata").join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("IVR_REQUIRE_SHARED").is_none(),
        "{} is missing (IVR_REQUIRE_SHARED is set)",
        dir.display()
    );
    eprintln!("skipped: {} not found (set IVR_SHARED)", dir.display());
    None
}
