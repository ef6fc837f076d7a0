//! Runs `examples/projection.rs` twice on one database: the second run's projection
//! handles only the events written since the first (it resumes after its stored offset),
//! and the read model agrees with the accounts (the example asserts it).

use std::process::Command;

/// The example binary, built by `cargo test` next to this test's own binary.
fn example() -> std::path::PathBuf {
    let me = std::env::current_exe().expect("the test binary's path");
    let dir = me
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = dir.join("examples").join("projection");
    assert!(path.exists(), "{} not built", path.display());
    path
}

fn run(db: &std::path::Path) -> String {
    let out = Command::new(example())
        .env("PROJECTION_DB", db)
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_projection_resumes_after_its_offset_across_runs() {
    let dir = std::env::temp_dir().join(format!("bactor-projection-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("projection.db");
    let first = run(&db);
    assert!(
        first.contains("handled 9 new events, now at offset 9"),
        "{first}"
    );
    assert!(
        first.contains("EUR: 240") && first.contains("USD: 270"),
        "{first}"
    );
    let second = run(&db);
    assert!(
        second.contains("handled 6 new events, now at offset 15"),
        "{second}"
    );
    assert!(
        second.contains("EUR: 480") && second.contains("USD: 540"),
        "{second}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
