//! Where the tests find the examples they run as processes.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary of example `name`, next to the running test's (`cargo test`
/// builds the examples); built here when it is not (`cargo test --test X`
/// builds only the test).
///
/// # Panics
///
/// If the build fails: a test cannot go on without its example.
#[allow(clippy::unwrap_used)]
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(Path::parent).unwrap();
    let path = profile.join("examples").join(name);
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", name])
            .status()
            .unwrap();
        assert!(status.success(), "cargo build --example {name}");
    }
    path
}
