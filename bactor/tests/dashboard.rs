//! The dashboard's server (feature `dashboard`), over plain HTTP: what `/api/state`
//! reports, the token, the bind rule, nodes, `/metrics`. The page itself is tested in a
//! browser by `examples/tests/dashboard.rs`.
//! `cargo test -p bactor --features dashboard,remote,prometheus --test dashboard`.
#![cfg(feature = "dashboard")]

use std::net::SocketAddr;
use std::time::Duration;

use bactor::dashboard::{Dashboard, DashboardError};
use bactor::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;
use common::no_hang;

/// A GET over a fresh connection: the status code and the body.
async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut stream = no_hang(tokio::net::TcpStream::connect(addr)).await.unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    no_hang(stream.read_to_end(&mut response)).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let status = response[9..12].parse().unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    // Bodies of unknown length come chunked.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

async fn state(addr: SocketAddr) -> serde_json::Value {
    let (status, body) = get(addr, "/api/state", &[]).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn actor<'a>(state: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    state["actors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no actor {name:?} in {state}"))
}

#[actor]
#[derive(Default)]
struct Parent;

#[actor]
impl Parent {
    async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        ctx.spawn_child_props(Props::from_producer(Worker::default).name("worker"))
            .await?;
        Ok(())
    }
}

#[actor]
#[derive(Default)]
struct Worker;

#[actor]
impl Worker {
    #[handler]
    fn work(&self) {}

    #[handler]
    fn fail(&self) {
        panic!("dashboard test worker fails on purpose");
    }
}

#[tokio::test]
async fn the_state_shows_the_tree_counters_decisions_and_dead_letters() {
    let _quiet = common::quiet_panics("dashboard test worker fails on purpose");
    let system = ActorSystem::new();
    system
        .spawn_props_started(Props::from_producer(Parent::default).name("parent"))
        .await
        .unwrap();
    let worker: WorkerRef = system.lookup::<Worker>("worker").unwrap();
    let dashboard = Dashboard::new(&system).serve().await.unwrap();
    assert!(dashboard.local_addr().ip().is_loopback());
    assert!(dashboard.url().starts_with("http://127.0.0.1:"));
    for _ in 0..5 {
        no_hang(worker.work()).await.unwrap();
    }
    let _ = no_hang(worker.fail()).await;
    no_hang(worker.work()).await.unwrap();
    let gone = system.spawn_named("gone", Worker::default).await.unwrap();
    gone.stop();
    no_hang(gone.stopped()).await;
    let _ = gone.work().tell().await;

    let addr = dashboard.local_addr();
    // The collector takes events as they come: wait for the dead letter to be seen.
    let s = no_hang(async {
        loop {
            let s = state(addr).await;
            if s["dead_letters_total"] == 1 && !s["decisions"].as_array().unwrap().is_empty() {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let parent = actor(&s, "parent");
    let w = actor(&s, "worker");
    assert_eq!(w["parent"], parent["id"]);
    assert_eq!(parent["parent"], serde_json::Value::Null);
    assert_eq!(
        (&w["handled"], &w["failures"], &w["restarts"]),
        (&7.into(), &1.into(), &1.into())
    );
    assert!(
        w["last_failure"]
            .as_str()
            .unwrap()
            .contains("fails on purpose")
    );
    assert!(w["type_name"].as_str().unwrap().ends_with("Worker"));
    let decision = &s["decisions"][0];
    assert_eq!(decision["child"], w["pid"]);
    assert_eq!(decision["directive"], "restart");
    assert_eq!(decision["message"], "Worker::fail");
    let letter = &s["dead_letters"][0];
    assert_eq!(letter["message"], "Worker::work");
    assert_eq!(s["peers"], serde_json::Value::Null, "not part of a node");

    // The page is served, and `/metrics` says why it has nothing without a handle.
    let (status, page) = get(addr, "/", &[]).await;
    assert_eq!(status, 200);
    assert!(page.contains("<title>bactor dashboard</title>"));
    let (status, body) = get(addr, "/metrics", &[]).await;
    assert_eq!(status, 404);
    assert!(body.contains("Dashboard::prometheus"), "{body}");

    dashboard.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "stopped listening"
    );
    system.shutdown().await;
}

#[tokio::test]
async fn a_token_is_required_off_loopback_and_checked_when_set() {
    let system = ActorSystem::new();
    match Dashboard::new(&system)
        .bind("0.0.0.0:0".parse().unwrap())
        .serve()
        .await
    {
        Err(e @ DashboardError::TokenRequired(_)) => {
            assert!(e.to_string().contains("needs a token"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    let dashboard = Dashboard::new(&system)
        .bind("0.0.0.0:0".parse().unwrap())
        .token("t0ken")
        .serve()
        .await
        .unwrap();
    let url = dashboard.url();
    assert!(url.ends_with("/?token=t0ken"), "{url}");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let addr = SocketAddr::from(([127, 0, 0, 1], dashboard.local_addr().port()));
    for path in [
        "/",
        "/api/state",
        "/metrics",
        "/?token=wrong",
        "/api/state?token=t0ke",
    ] {
        let (status, body) = get(addr, path, &[]).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert!(body.contains("needs its token"));
    }
    let (status, _) = get(addr, "/api/state", &[("Authorization", "Bearer nope")]).await;
    assert_eq!(status, 401);
    let (status, _) = get(addr, "/api/state?token=t0ken", &[]).await;
    assert_eq!(status, 200);
    let (status, _) = get(addr, "/api/state", &[("Authorization", "Bearer t0ken")]).await;
    assert_eq!(status, 200);
    let (status, _) = get(addr, "/?x=1&token=t0ken", &[]).await;
    assert_eq!(status, 200);
    drop(dashboard);
    system.shutdown().await;
}

#[tokio::test]
async fn a_large_system_lists_its_oldest_actors_with_the_count() {
    let system = ActorSystem::new();
    system
        .spawn_props_started(Props::from_producer(Parent::default).name("parent"))
        .await
        .unwrap();
    for i in 0..48 {
        system
            .spawn_named(format!("w{i}"), Worker::default)
            .await
            .unwrap();
    }
    let dashboard = Dashboard::new(&system)
        .max_actors(10)
        .serve()
        .await
        .unwrap();
    let s = state(dashboard.local_addr()).await;
    assert_eq!(s["actors_total"], 50);
    let names: Vec<&str> = s["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    // The parent and its child first (the oldest), then the first eight workers.
    assert_eq!(
        names,
        [
            "parent", "worker", "w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7"
        ]
    );
    dashboard.shutdown().await;
    system.shutdown().await;
}

#[tokio::test]
async fn a_port_in_use_is_a_bind_error() {
    let system = ActorSystem::new();
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    match Dashboard::new(&system)
        .bind(taken.local_addr().unwrap())
        .serve()
        .await
    {
        Err(DashboardError::Bind(_)) => {}
        other => panic!("{other:?}"),
    }
    system.shutdown().await;
}

#[cfg(feature = "remote")]
mod remote {
    use super::*;
    use crate::common;
    use bactor::remote::Node;

    #[actor]
    #[derive(Default)]
    struct Echo;

    #[actor(remote)]
    impl Echo {
        #[handler]
        fn echo(&self, n: u64) -> u64 {
            n
        }
    }

    async fn node() -> Node {
        common::quick_node("dashboard secret")
            .kind(Echo::default)
            .start()
            .await
            .unwrap()
    }

    async fn peer_state(addr: SocketAddr, peer: &str, want: &str) -> serde_json::Value {
        no_hang(async {
            loop {
                let s = state(addr).await;
                if s["peers"][peer]["state"] == want {
                    return s;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }

    #[tokio::test]
    async fn nodes_and_their_state() {
        let (a, b) = (node().await, node().await);
        let dashboard = Dashboard::new(a.system()).serve().await.unwrap();
        let addr = dashboard.local_addr();
        let s = state(addr).await;
        assert_eq!(s["address"], a.address());
        assert_eq!(s["peers"], serde_json::json!({}), "no node met yet");
        let echo: EchoRef = no_hang(a.spawn_remote::<Echo>(b.address(), None))
            .await
            .unwrap();
        assert_eq!(no_hang(echo.echo(7)).await.unwrap(), 7);
        let s = peer_state(addr, b.address(), "connected").await;
        assert_eq!(s["peers"][b.address()]["incarnation"], b.incarnation());
        b.shutdown().await;
        let s = peer_state(addr, b.address(), "down").await;
        assert!(s["peers"][b.address()]["reason"].is_string());
        dashboard.shutdown().await;
        a.shutdown().await;
    }
}

#[cfg(feature = "prometheus")]
#[tokio::test]
async fn metrics_are_served_with_a_prometheus_handle() {
    let prometheus = bactor::metrics::prometheus().unwrap();
    let system = ActorSystem::new();
    let worker = system.spawn(Worker::default).await.unwrap();
    no_hang(worker.work()).await.unwrap();
    let dashboard = Dashboard::new(&system)
        .prometheus(prometheus)
        .serve()
        .await
        .unwrap();
    let (status, body) = get(dashboard.local_addr(), "/metrics", &[]).await;
    assert_eq!(status, 200);
    let line = body
        .lines()
        .find(|l| l.starts_with("bactor_messages_handled_total") && l.contains("Worker"))
        .unwrap_or_else(|| panic!("no handled count for Worker in:\n{body}"));
    assert!(line.ends_with(" 1"), "{line}");
    dashboard.shutdown().await;
    system.shutdown().await;
}
