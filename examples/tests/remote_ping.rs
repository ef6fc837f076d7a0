//! Drives `examples/remote_ping.rs` as two OS processes: ping-pong over loopback, `kill -9`
//! of node B (A's watcher gets the node-down notice within the configured timeouts), B
//! restarted (A carries on by itself; its ref to B's old run reports dead).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The example binary, built by `cargo test` next to this test's own binary.
fn example() -> std::path::PathBuf {
    let me = std::env::current_exe().expect("the test binary's path");
    let dir = me
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = dir.join("examples").join("remote_ping");
    assert!(path.exists(), "{} not built", path.display());
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running example process and the lines it prints.
struct Process {
    child: Child,
    lines: mpsc::Receiver<String>,
    name: &'static str,
}

impl Process {
    fn start(name: &'static str, args: &[&str]) -> Process {
        let mut child = Command::new(example())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the example starts");
        let out = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Process { child, lines, name }
    }

    /// The first line (from now) for which `f` is true; fails after `within`.
    fn wait_for(&self, within: Duration, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    eprintln!("[{}] {line}", self.name);
                    if f(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("node {} did not print {what} within {within:?}", self.name),
            }
        }
    }

    fn kill(&mut self) {
        // SIGKILL: no goodbye on the wire, the kernel resets the connections.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The pid in a line like `found ponger 123/1#456`.
fn pid_in(line: &str) -> String {
    line.split_whitespace()
        .last()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn two_processes_ping_survive_a_kill_and_a_restart() {
    let (port_a, port_b) = (free_port(), free_port());
    let addr_a = format!("127.0.0.1:{port_a}");
    let addr_b = format!("127.0.0.1:{port_b}");
    let long = Duration::from_secs(30);
    let b_args = ["--node", "b", "--listen", &addr_b];
    let mut b = Process::start("b", &b_args);
    b.wait_for(long, "ready", |l| l.contains("ready"));
    let a = Process::start(
        "a",
        &["--node", "a", "--listen", &addr_a, "--peer", &addr_b],
    );
    let found = a.wait_for(long, "found ponger", |l| l.starts_with("found ponger"));
    let first = pid_in(&found);
    a.wait_for(long, "pong 3", |l| l.starts_with("pong 3 "));

    // kill -9 B: A's watcher hears of it. The example's timeouts: peer timeout 1.5 s
    // (a silent peer), down after 1.5 s without a connection; a killed process resets its
    // connections, so 1.5 s after the kill, plus scheduling slack.
    b.kill();
    let killed = Instant::now();
    let down = a.wait_for(long, "terminated", |l| l.starts_with("terminated"));
    let after = killed.elapsed();
    assert!(down.contains(&first), "{down}");
    assert!(down.contains(&format!("node {addr_b} is down")), "{down}");
    assert!(
        after < Duration::from_millis(1500 + 1500 + 2000),
        "node down after {after:?}"
    );

    // B again, a new run on the same address: A finds the new ponger without help, its
    // ref to the old run is dead, and pongs resume.
    let _b2 = Process::start("b2", &b_args);
    let found = a.wait_for(long, "the new ponger", |l| l.starts_with("found ponger"));
    let second = pid_in(&found);
    assert_ne!(first, second, "a pid of B's new run");
    let old = a.wait_for(long, "the old ref's fate", |l| l.starts_with("old ref"));
    assert_eq!(old, format!("old ref {first}: dead"));
    let pong = a.wait_for(long, "a pong from the new run", |l| l.starts_with("pong "));
    assert!(pong.ends_with(&second), "{pong}");
}
