//! Test support: a Postgres database for tests that need one, and how a test that cannot
//! run says so.
//!
//! [`postgres_url`] returns the URL of a database of this test process's own, created on
//! first use on a server found in this order: `BACTOR_TEST_POSTGRES_URL` if set; else a
//! throwaway server started with the local installation's `initdb` and `pg_ctl` (in
//! `$TMPDIR/bactor-test-postgres`, listening on a Unix socket only, so no port can be
//! raced for; started under a file lock, so two test runs never start two servers; reused
//! by later runs). Each process gets a fresh database (migrations start from nothing, so an
//! edited migration never meets an old checksum); databases of processes that have ended
//! are dropped when the next one is created.
//!
//! Without a server the test is skipped: [`skip`] writes a line straight to the terminal
//! (past libtest's output capture, so it shows even for a passing test). When
//! [`services_required`] (`BACTOR_REQUIRE_SERVICES` set to `1`, `true`, `yes` or `on`, as
//! in CI), a missing server is a test failure instead.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Whether tests must fail rather than skip when a service they need is missing:
/// `BACTOR_REQUIRE_SERVICES` is `1`, `true`, `yes` or `on` (any case). Unset, empty, `0`,
/// `false`, `no` and `off` mean no; anything else is a mistake and panics, naming the
/// accepted values.
pub fn services_required() -> bool {
    let Ok(value) = std::env::var("BACTOR_REQUIRE_SERVICES") else {
        return false;
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => true,
        "" | "0" | "false" | "no" | "off" => false,
        other => panic!(
            "BACTOR_REQUIRE_SERVICES={other:?}: expected one of 1, true, yes, on (require) \
             or 0, false, no, off (skip when missing)"
        ),
    }
}

/// Reports that the running test is skipped because `service` is missing (`why`), or
/// panics when [`services_required`].
///
/// The line goes straight to the process's stderr, past libtest's capture, so a skipped
/// test is visible in the run's output even though libtest counts it as passed.
pub fn skip(service: &str, why: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_owned();
    if services_required() {
        panic!("{test}: {service} is required (BACTOR_REQUIRE_SERVICES) but unavailable: {why}");
    }
    // `eprintln!` would be captured by libtest and shown only for a failing test.
    let _ = writeln!(
        std::io::stderr(),
        "*** SKIPPED {test}: no {service} ({why})"
    );
}

/// The URL of a fresh Postgres database for this test process, or `None` after reporting
/// the skip (see [`skip`]). Panics instead when [`services_required`].
pub fn postgres_url() -> Option<String> {
    // A misspelt value is reported even when a server is found.
    let _ = services_required();
    static URL: OnceLock<Result<String, String>> = OnceLock::new();
    let found = URL.get_or_init(|| {
        let server = match std::env::var("BACTOR_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => throwaway_server()?,
        };
        let found = own_database(&server);
        if found.is_ok() {
            let _ = writeln!(
                std::io::stderr(),
                "*** Postgres tests use a database of their own on {}",
                redact(&server)
            );
        }
        found
    });
    match found {
        Ok(url) => Some(url.clone()),
        Err(why) => {
            skip(
                "Postgres",
                &format!(
                    "{why}; set BACTOR_TEST_POSTGRES_URL or install PostgreSQL (initdb, pg_ctl)"
                ),
            );
            None
        }
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = &url[scheme + 3..at];
            let user = user.split(':').next().unwrap_or(user);
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// `url` with its database name replaced by `database`.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
fn with_database(url: &str, database: &str) -> Result<String, String> {
    let (main, query) = match url.split_once('?') {
        Some((main, query)) => (main, Some(query)),
        None => (url, None),
    };
    let start = main.find("://").ok_or("a URL without a scheme")? + 3;
    let path = main[start..].find('/').map(|i| start + i);
    let mut out = match path {
        Some(i) => format!("{}/{database}", &main[..i]),
        None => format!("{main}/{database}"),
    };
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

/// Creates a database of this process's own on `server`, after dropping those of
/// processes that have ended. Falls back to `server` itself (with a note) when the role
/// may not create databases.
fn own_database(server: &str) -> Result<String, String> {
    let server = server.to_owned();
    // A runtime of its own on a thread of its own: this is called from inside tests'
    // runtimes, which must not be blocked on.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(create_own_database(&server))
    })
    .join()
    .map_err(|_| "creating the test database panicked".to_owned())?
}

#[cfg(feature = "postgres")]
async fn create_own_database(server: &str) -> Result<String, String> {
    use sqlx::Connection as _;
    let mut admin = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        sqlx::PgConnection::connect(server),
    )
    .await
    .map_err(|_| format!("no answer from {} within 30 s", redact(server)))?
    .map_err(|e| format!("cannot connect to {}: {e}", redact(server)))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let stale: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'bactor_test_%'")
            .fetch_all(&mut admin)
            .await
            .unwrap_or_default();
    for (name,) in stale {
        if is_stale(&name, now) {
            // In use by a live process after all, or gone already: left alone. The name
            // is checked to be `bactor_test_<digits>_<digits>` by `is_stale`.
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\"");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(&mut admin)
                .await;
        }
    }
    let name = format!("bactor_test_{}_{now}", std::process::id());
    // Digits and underscores only.
    match sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
    {
        Ok(_) => with_database(server, &name),
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "*** cannot create a test database ({e}); the Postgres tests share {}",
                redact(server)
            );
            Ok(server.to_owned())
        }
    }
}

#[cfg(not(feature = "postgres"))]
async fn create_own_database(_server: &str) -> Result<String, String> {
    Err("bactor-persist was built without its `postgres` feature".to_owned())
}

/// Whether `bactor_test_{pid}_{secs}` belongs to a process that has ended: its pid is not
/// running (where `/proc` tells), or it is more than a day old.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
fn is_stale(name: &str, now: u64) -> bool {
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return false;
    }
    let mut parts = name.trim_start_matches("bactor_test_").split('_');
    let (Some(Ok(pid)), Some(Ok(created))) = (
        parts.next().map(str::parse::<u32>),
        parts.next().map(str::parse::<u64>),
    ) else {
        return false;
    };
    if pid == std::process::id() {
        return false;
    }
    let proc = Path::new("/proc");
    (proc.exists() && !proc.join(pid.to_string()).exists()) || now.saturating_sub(created) > 86_400
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

/// The port of every throwaway server: it listens on a Unix socket in its own directory,
/// so the number only names the socket file.
const PORT: &str = "5432";

/// Starts (or finds running) the throwaway server; returns its admin URL.
fn throwaway_server() -> Result<String, String> {
    let bin = initdb().ok_or("no /usr/lib/postgresql/*/bin/initdb")?;
    let root = is_root();
    let tmp = std::env::temp_dir();
    let base = tmp.join("bactor-test-postgres");
    let data = base.join("data");
    let port_file = base.join("port");
    let url = |port: &str| {
        format!(
            "postgres://postgres@localhost:{port}/postgres?host={}",
            base.display()
        )
    };
    // One test process at a time decides whether to start the server; the others wait and
    // then find it running.
    let lock = std::fs::File::create(tmp.join("bactor-test-postgres.lock"))
        .map_err(|e| format!("cannot create the lock file in {}: {e}", tmp.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", tmp.display()))?;
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
    let data_s = data.to_string_lossy().to_string();
    run(
        &bin.join("initdb"),
        &["-D", &data_s, "-A", "trust", "-U", "postgres"],
        root,
    )?;
    let opts = format!(
        "-p {PORT} -k {} -c listen_addresses='' -c fsync=off -c max_connections=200",
        base.display()
    );
    let log = base.join("log").to_string_lossy().to_string();
    run(
        &bin.join("pg_ctl"),
        &["start", "-w", "-D", &data_s, "-l", &log, "-o", &opts],
        root,
    )?;
    // Written last: a port file means a server was started.
    let _ = std::fs::write(&port_file, PORT);
    Ok(url(PORT))
}

/// A Postgres server of one test's own, which it may stop and start (to test outages)
/// without disturbing the tests sharing the throwaway server. Stopped and removed on drop.
#[derive(Debug)]
pub struct PrivateServer {
    bin: PathBuf,
    base: PathBuf,
    root: bool,
}

impl PrivateServer {
    /// Starts a fresh server for the test named `name`, or returns `None` after reporting
    /// the skip (see [`skip`]) when the local installation has no `initdb`.
    pub fn start_new(name: &str) -> Option<PrivateServer> {
        let Some(bin) = initdb() else {
            skip(
                "PostgreSQL",
                "no /usr/lib/postgresql/*/bin/initdb to start a server of its own",
            );
            return None;
        };
        let root = is_root();
        let base = std::env::temp_dir().join(format!("bactor-pg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let server = PrivateServer { bin, base, root };
        let made = std::fs::create_dir_all(&server.base)
            .map_err(|e| e.to_string())
            .and_then(|()| server.chown())
            .and_then(|()| {
                run(
                    &server.bin.join("initdb"),
                    &["-D", &server.data(), "-A", "trust", "-U", "postgres"],
                    root,
                )
            })
            .and_then(|()| server.start());
        match made {
            Ok(()) => Some(server),
            Err(e) => {
                skip(
                    "PostgreSQL",
                    &format!("cannot start a server of its own: {e}"),
                );
                None
            }
        }
    }

    fn chown(&self) -> Result<(), String> {
        if !self.root {
            return Ok(());
        }
        let ok = Command::new("chown")
            .args(["postgres:postgres", &self.base.to_string_lossy()])
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(())
            .ok_or_else(|| "cannot hand the data directory to the `postgres` user".into())
    }

    fn data(&self) -> String {
        self.base.join("data").to_string_lossy().into_owned()
    }

    /// The admin URL (the `postgres` database, over the server's own socket).
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@localhost:{PORT}/postgres?host={}",
            self.base.display()
        )
    }

    /// Starts the server (again), waiting until it takes connections.
    pub fn start(&self) -> Result<(), String> {
        let opts = format!(
            "-p {PORT} -k {} -c listen_addresses='' -c fsync=off",
            self.base.display()
        );
        let log = self.base.join("log").to_string_lossy().into_owned();
        run(
            &self.bin.join("pg_ctl"),
            &["start", "-w", "-D", &self.data(), "-l", &log, "-o", &opts],
            self.root,
        )
    }

    /// Stops the server the way a crash would (`pg_ctl stop -m immediate`).
    pub fn stop_immediate(&self) -> Result<(), String> {
        run(
            &self.bin.join("pg_ctl"),
            &["stop", "-w", "-m", "immediate", "-D", &self.data()],
            self.root,
        )
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = self.stop_immediate();
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://u:p@h:1/postgres", "x").unwrap(),
            "postgres://u:p@h:1/x"
        );
        assert_eq!(
            with_database("postgres://u@h:1", "x").unwrap(),
            "postgres://u@h:1/x"
        );
        assert_eq!(
            with_database("postgres://u@localhost:5432/postgres?host=/tmp/d", "x").unwrap(),
            "postgres://u@localhost:5432/x?host=/tmp/d"
        );
        assert!(with_database("nonsense", "x").is_err());
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn only_databases_of_ended_processes_are_stale() {
        let now = 1_000_000;
        let me = std::process::id();
        assert!(!is_stale(&format!("bactor_test_{me}_{now}"), now));
        assert!(!is_stale("bactor_test_garbage", now));
        assert!(!is_stale("bactor_test_1_2_\"; DROP", now));
        assert!(is_stale(
            &format!("bactor_test_{me}9_{}", now - 90_000),
            now
        ));
    }
}
