//! Test support: a Postgres server for tests that need one.
//!
//! [`postgres_url`] returns, in this order: `BACTOR_TEST_POSTGRES_URL` if set; else a
//! throwaway server started with the local installation's `initdb` and `pg_ctl` (in a
//! directory under the temp dir, on a free port, reused by later test runs on the same
//! machine); else `None`, after a loud message on stderr. With `BACTOR_REQUIRE_SERVICES=1`
//! a missing server is a panic instead, so CI cannot pass by skipping.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The URL of a Postgres server for tests, or `None` (test skipped) when there is none.
pub fn postgres_url() -> Option<String> {
    static URL: OnceLock<Result<String, String>> = OnceLock::new();
    let found = URL.get_or_init(|| match std::env::var("BACTOR_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Ok(url),
        _ => throwaway_server(),
    });
    match found {
        Ok(url) => Some(url.clone()),
        Err(why) => {
            if std::env::var("BACTOR_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("Postgres is required (BACTOR_REQUIRE_SERVICES=1) but unavailable: {why}");
            }
            eprintln!(
                "\n*** SKIPPED: Postgres test: no server ({why}).\n*** Set BACTOR_TEST_POSTGRES_URL or install PostgreSQL (initdb, pg_ctl) to run it.\n"
            );
            None
        }
    }
}

fn initdb() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    candidates.sort();
    candidates.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a Postgres binary, as the `postgres` user when we are root (initdb refuses root).
fn run(bin: &Path, args: &[&str], as_postgres: bool) -> Result<(), String> {
    let mut cmd = if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd
        .args(args)
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn throwaway_server() -> Result<String, String> {
    let bin = initdb().ok_or("no /usr/lib/postgresql/*/bin/initdb")?;
    let root = is_root();
    let base = std::env::temp_dir().join("bactor-test-postgres");
    let data = base.join("data");
    let port_file = base.join("port");
    let url = |port: &str| format!("postgres://postgres@127.0.0.1:{port}/postgres");
    // Reuse a server an earlier run left behind.
    if let Ok(port) = std::fs::read_to_string(&port_file) {
        let status = run(
            &bin.join("pg_ctl"),
            &["status", "-D", &data.to_string_lossy()],
            root,
        );
        if status.is_ok() {
            return Ok(url(port.trim()));
        }
    }
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).map_err(|e| e.to_string())?;
    if root {
        let ok = Command::new("chown")
            .args(["postgres:postgres", &base.to_string_lossy()])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err("cannot hand the data directory to the `postgres` user".into());
        }
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port()
        .to_string();
    let data_s = data.to_string_lossy().to_string();
    run(
        &bin.join("initdb"),
        &["-D", &data_s, "-A", "trust", "-U", "postgres"],
        root,
    )?;
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
        base.display()
    );
    let log = base.join("log").to_string_lossy().to_string();
    run(
        &bin.join("pg_ctl"),
        &["start", "-w", "-D", &data_s, "-l", &log, "-o", &opts],
        root,
    )?;
    // Written last: a port file means a server was started.
    let _ = std::fs::write(&port_file, &port);
    Ok(url(&port))
}
