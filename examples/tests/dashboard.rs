//! Runs `examples/dashboard.rs` and opens its page in headless chromium (through
//! chromedriver): the tree shows the example's actors, a restart the test causes shows
//! up without a reload, and a dashboard bound to a non-loopback address refuses a
//! request without its token.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`). Without them the test prints a `*** SKIPPED` line and passes,
//! unless `BACTOR_REQUIRE_SERVICES=1` (set by `.ci/run`), where it fails.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

/// The example binary, built by `cargo test` next to this test's own binary.
fn example() -> PathBuf {
    let me = std::env::current_exe().expect("the test binary's path");
    let dir = me
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = dir.join("examples").join("dashboard");
    assert!(
        path.exists(),
        "{} not built: `cargo test` builds the examples, `--test dashboard` alone does not \
         (`cargo build --example dashboard` first)",
        path.display()
    );
    path
}

/// `name` on the `PATH`, if it is there.
fn find(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// chromium and chromedriver, or `None` after saying loudly why the test does not run
/// (a failure under `BACTOR_REQUIRE_SERVICES=1`).
fn browser() -> Option<(PathBuf, PathBuf)> {
    let chromium = find("chromium").or_else(|| find("chromium-browser"));
    let driver = find("chromedriver");
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        (c, d) => {
            let missing = [("chromium", c.is_none()), ("chromedriver", d.is_none())]
                .iter()
                .filter(|(_, m)| *m)
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(" and ");
            let why = "apt-get install chromium chromium-driver";
            let test = std::thread::current().name().unwrap_or("?").to_owned();
            if services_required() {
                panic!(
                    "{test}: {missing} required (BACTOR_REQUIRE_SERVICES) but not on the PATH ({why})"
                );
            }
            // Past libtest's capture (`eprintln!` would be captured), as the Postgres
            // tests' skips are.
            let _ = writeln!(
                std::io::stderr(),
                "*** SKIPPED {test}: no {missing} on the PATH ({why})"
            );
            None
        }
    }
}

/// `BACTOR_REQUIRE_SERVICES` as the other tests read it: `1`, `true`, `yes`, `on`.
fn services_required() -> bool {
    std::env::var("BACTOR_REQUIRE_SERVICES").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// Kills its process when dropped, so that a failed assertion leaves nothing running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the example with `args`; returns it, its standard input and the page's URL.
fn start_example(args: &[&str]) -> (Running, ChildStdin, String) {
    let mut child = Command::new(example())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the example starts");
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let running = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the example prints its URL")
            .expect("readable output");
        if let Some(url) = line.strip_prefix("dashboard: ") {
            break url.to_owned();
        }
    };
    // Keep draining its output so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (running, stdin, url)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts chromedriver and a headless chromium session through it.
async fn session(chromium: &PathBuf, driver: &PathBuf) -> (Running, Client) {
    let port = free_port();
    let chromedriver = Running(
        Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,900"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromium session");
    (chromedriver, client)
}

/// Waits up to 20 s for `check` to hold, polling the page; panics with `what` if not.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of the first element matching `css`, if there is one.
async fn text(client: &Client, css: &str) -> Option<String> {
    let element = client.find(Locator::Css(css)).await.ok()?;
    element.text().await.ok()
}

async fn load_id(client: &Client) -> String {
    client
        .execute("return window.bactorLoadId", vec![])
        .await
        .expect("the script runs")
        .as_str()
        .expect("a load id")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_tree_and_a_restart_without_reloading() {
    let Some((chromium, driver)) = browser() else {
        return;
    };
    let (_example, mut stdin, url) = start_example(&["--calm", "--for", "120"]);
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "loopback by default: {url}"
    );
    let (_driver, client) = session(&chromium, &driver).await;
    client.goto(&url).await.expect("the page loads");

    // The tree: the workshop and its five children, nested under it.
    eventually("the actors on the page", || async {
        text(&client, r#".actor[data-name="clerk-3"]"#)
            .await
            .is_some()
    })
    .await;
    for name in ["workshop", "flaky", "busy", "clerk-1", "clerk-2", "clerk-3"] {
        let css = format!(r#".actor[data-name="{name}"]"#);
        let row = text(&client, &css).await;
        assert!(row.is_some(), "{name} is on the page");
    }
    let flaky = text(&client, r#".actor[data-name="flaky"] .label"#)
        .await
        .unwrap();
    assert!(flaky.starts_with("└ Flaky"), "flaky is a child: {flaky:?}");
    let workshop = text(&client, r#".actor[data-name="workshop"] .label"#)
        .await
        .unwrap();
    assert!(
        workshop.starts_with("Workshop"),
        "a top-level actor: {workshop:?}"
    );
    // The flaky worker works (its counter moves) and has not failed (`--calm`).
    eventually("flaky's handled count to move", || async {
        text(&client, r#".actor[data-name="flaky"] .handled"#)
            .await
            .and_then(|t| t.parse::<u64>().ok())
            .is_some_and(|n| n > 0)
    })
    .await;
    assert_eq!(
        text(&client, r#".actor[data-name="flaky"] .restarts"#)
            .await
            .as_deref(),
        Some("0")
    );
    let loaded = load_id(&client).await;

    // The test makes the flaky worker fail once: the supervisor restarts it.
    stdin.write_all(b"fail\n").expect("the example reads stdin");
    stdin.flush().unwrap();
    eventually("the restart on the page", || async {
        text(&client, r#".actor[data-name="flaky"] .restarts"#)
            .await
            .as_deref()
            == Some("1")
    })
    .await;
    let decision = text(&client, r#"tr.decision[data-directive="restart"]"#)
        .await
        .expect("the decision is listed");
    assert!(decision.contains("Flaky"), "{decision}");
    assert!(decision.contains("told to fail"), "{decision}");
    let failure = text(&client, r#".actor[data-name="flaky"] .last-failure"#)
        .await
        .expect("the last failure is shown");
    assert!(failure.contains("told to fail"), "{failure}");
    assert_eq!(
        load_id(&client).await,
        loaded,
        "updated in place, not reloaded"
    );

    client.close().await.expect("the session closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_loopback_a_request_without_the_token_is_refused() {
    let Some((chromium, driver)) = browser() else {
        return;
    };
    let (_example, _stdin, url) = start_example(&[
        "--calm",
        "--for",
        "120",
        "--bind",
        "0.0.0.0:0",
        "--token",
        "s3cret-token",
    ]);
    let (bare, query) = url.split_once('?').expect("the URL carries the token");
    assert_eq!(query, "token=s3cret-token");
    let (_driver, client) = session(&chromium, &driver).await;

    // Without the token: refused, and no page.
    client.goto(bare).await.expect("the browser gets an answer");
    let body = text(&client, "body").await.unwrap_or_default();
    assert!(body.contains("401"), "refused: {body:?}");
    assert!(body.contains("needs its token"), "{body:?}");
    assert!(client.find(Locator::Css("#tree")).await.is_err());
    // A wrong token is refused the same way, the API too.
    client
        .goto(&format!("{bare}api/state?token=wrong"))
        .await
        .unwrap();
    let body = text(&client, "body").await.unwrap_or_default();
    assert!(body.contains("401"), "refused: {body:?}");

    // With it: the page, and its polls (which carry the token) fill the tree.
    client.goto(&url).await.unwrap();
    eventually("the tree with the token", || async {
        text(&client, r#".actor[data-name="flaky"]"#)
            .await
            .is_some()
    })
    .await;
    client.close().await.expect("the session closes");
}
