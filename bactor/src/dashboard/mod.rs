//! A live view of a running system in the browser (feature `dashboard`).
//!
//! [`Dashboard::new(&system).serve()`](Dashboard::serve) starts an HTTP server on the
//! node that serves one page: the actor tree with live counters (mailbox depth, messages
//! per second, handled, failures, restarts, last failure), the supervisor decisions and
//! dead letters of the last minutes, and the other nodes with their state when the system
//! is part of a [`Node`](crate::remote::Node) (feature `remote`). The page polls the
//! server every second; nothing reloads. Its HTML, CSS and script are in the binary (no
//! CDN, no build step).
//!
//! | path | what |
//! |---|---|
//! | `/` | the page |
//! | `/api/state` | what the page shows, as JSON |
//! | `/metrics` | Prometheus text, when [`Dashboard::prometheus`] was given a handle (feature `prometheus`) |
//!
//! It is read-only: nothing on it changes the system. It binds to `127.0.0.1` unless told
//! otherwise; bound anywhere else it needs a [`token`](Dashboard::token) (the node's
//! shared secret, or any other), and refuses every request without it (`401`). A browser
//! passes it as `?token=...` in the address ([`DashboardHandle::url`] includes it); other
//! clients may send `Authorization: Bearer ...` instead.
//!
//! # Example
//!
//! ```
//! use bactor::dashboard::Dashboard;
//! use bactor::prelude::*;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let system = ActorSystem::new();
//! let dashboard = Dashboard::new(&system).serve().await?;
//! println!("open {}", dashboard.url());
//! assert!(dashboard.local_addr().ip().is_loopback());
//! dashboard.shutdown().await;
//! # system.shutdown().await;
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::{ActorSystem, SystemEvent};

/// The page: HTML, CSS and script in one file, compiled into the binary.
const PAGE: &str = include_str!("page.html");

/// The most supervisor decisions and dead letters kept, each.
const KEPT: usize = 200;

/// Builds and starts the dashboard of a system. See the [module](self) documentation.
#[must_use = "a dashboard does nothing until `serve` is awaited"]
pub struct Dashboard {
    system: ActorSystem,
    bind: SocketAddr,
    token: Option<String>,
    history: Duration,
    max_actors: usize,
    #[cfg(feature = "prometheus")]
    prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dashboard")
            .field("bind", &self.bind)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("history", &self.history)
            .field("max_actors", &self.max_actors)
            .finish_non_exhaustive()
    }
}

impl Dashboard {
    /// The dashboard of `system`, on `127.0.0.1` at a port the OS picks, keeping five
    /// minutes of supervisor decisions and dead letters, showing at most 1,000 actors.
    pub fn new(system: &ActorSystem) -> Self {
        Dashboard {
            system: system.clone(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
            history: Duration::from_secs(300),
            max_actors: 1000,
            #[cfg(feature = "prometheus")]
            prometheus: None,
        }
    }

    /// How many actors the page lists: the oldest ones (parents before their children),
    /// with the count of all. A system of a million actors is not copied every second
    /// for a page that could not show them anyway.
    pub fn max_actors(mut self, max: usize) -> Self {
        self.max_actors = max;
        self
    }

    /// The address to listen on. Anything but a loopback address needs a
    /// [`token`](Self::token).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Requires `token` on every request: `?token=...` in the address, or
    /// `Authorization: Bearer ...`. Use URL-safe characters (the address carries it as
    /// is).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// How long supervisor decisions and dead letters stay on the page (at most the last
    /// 200 of each).
    pub fn history(mut self, history: Duration) -> Self {
        self.history = history;
        self
    }

    /// Serves `handle`'s Prometheus text at `/metrics` (feature `prometheus`; see
    /// [`metrics::prometheus`](crate::metrics::prometheus)).
    #[cfg(feature = "prometheus")]
    pub fn prometheus(mut self, handle: metrics_exporter_prometheus::PrometheusHandle) -> Self {
        self.prometheus = Some(handle);
        self
    }

    /// Binds and starts serving, on the current tokio runtime. The server runs until the
    /// returned handle is shut down or dropped.
    ///
    /// # Errors
    ///
    /// [`DashboardError::TokenRequired`] for an address other than loopback without a
    /// token; [`DashboardError::Bind`] when the address cannot be bound.
    pub async fn serve(self) -> Result<DashboardHandle, DashboardError> {
        if !self.bind.ip().is_loopback() && self.token.is_none() {
            return Err(DashboardError::TokenRequired(self.bind));
        }
        let listener = tokio::net::TcpListener::bind(self.bind)
            .await
            .map_err(DashboardError::Bind)?;
        let local = listener.local_addr().map_err(DashboardError::Bind)?;
        let recent = Arc::new(Mutex::new(Recent::new(self.history)));
        #[cfg(feature = "remote")]
        if let Some(node) = self.system.node_shared() {
            let mut r = lock(&recent);
            for (address, incarnation) in node.peers() {
                r.peers.insert(
                    address,
                    PeerView {
                        state: "met",
                        incarnation: Some(incarnation),
                        since_ms: now_ms(),
                        reason: None,
                    },
                );
            }
        }
        let collector = tokio::spawn(collect(
            self.system.clone(),
            self.max_actors,
            self.system.events().subscribe(),
            Arc::clone(&recent),
        ));
        let shared = Arc::new(Shared {
            system: self.system,
            token: self.token.clone(),
            recent,
            max_actors: self.max_actors,
            started_ms: now_ms(),
            #[cfg(feature = "prometheus")]
            prometheus: self.prometheus,
        });
        let app = Router::new()
            .route("/", get(page))
            .route("/api/state", get(state))
            .route("/metrics", get(metrics_text))
            .with_state(shared);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
            collector.abort();
        });
        Ok(DashboardHandle {
            addr: local,
            token: self.token,
            stop: Some(stop),
            server: Some(server),
        })
    }
}

/// Why a dashboard did not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum DashboardError {
    /// Bound to an address other than loopback without a [`token`](Dashboard::token).
    TokenRequired(SocketAddr),
    /// The address could not be bound.
    Bind(std::io::Error),
}

impl fmt::Display for DashboardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DashboardError::TokenRequired(addr) => write!(
                f,
                "a dashboard bound to {addr} (not loopback) needs a token: call `.token(..)`"
            ),
            DashboardError::Bind(e) => write!(f, "the dashboard could not bind: {e}"),
        }
    }
}

impl std::error::Error for DashboardError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DashboardError::Bind(e) => Some(e),
            DashboardError::TokenRequired(_) => None,
        }
    }
}

/// A running dashboard. Dropping it stops the server.
#[derive(Debug)]
pub struct DashboardHandle {
    addr: SocketAddr,
    token: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl DashboardHandle {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address, with the token if there is one. An unspecified bind address
    /// (`0.0.0.0`, `::`) is given as loopback.
    pub fn url(&self) -> String {
        let ip = match self.addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".parse().unwrap_or(ip),
            ip if ip.is_unspecified() => "::1".parse().unwrap_or(ip),
            ip => ip,
        };
        let base = format!("http://{}/", SocketAddr::new(ip, self.addr.port()));
        match &self.token {
            Some(token) => format!("{base}?token={token}"),
            None => base,
        }
    }

    /// Stops the server and waits until it has (requests in flight finish first).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for DashboardHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

struct Shared {
    system: ActorSystem,
    token: Option<String>,
    recent: Arc<Mutex<Recent>>,
    max_actors: usize,
    started_ms: u64,
    #[cfg(feature = "prometheus")]
    prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update is a push or an insert: a panic elsewhere leaves nothing half-done.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What the page shows besides the live actors: kept from the event stream.
struct Recent {
    history: Duration,
    decisions: VecDeque<DecisionView>,
    dead_letters: VecDeque<DeadLetterView>,
    dead_letters_total: u64,
    peers: BTreeMap<String, PeerView>,
    /// Messages per second of each actor (by id) over the last second, and the counts
    /// they were taken from.
    rates: HashMap<u64, f64>,
    handled: HashMap<u64, u32>,
    /// The names of the named actors seen (by id), to name the recipients of dead
    /// letters after they stopped. Forgotten past 10,000.
    names: HashMap<u64, String>,
}

impl Recent {
    fn new(history: Duration) -> Self {
        Recent {
            history,
            decisions: VecDeque::new(),
            dead_letters: VecDeque::new(),
            dead_letters_total: 0,
            peers: BTreeMap::new(),
            rates: HashMap::new(),
            handled: HashMap::new(),
            names: HashMap::new(),
        }
    }

    /// Takes each actor's handled count, `elapsed` after the last time.
    fn sample(&mut self, actors: &[crate::ActorInfo], elapsed: Duration) {
        let secs = elapsed.as_secs_f64().max(1e-3);
        let mut handled = HashMap::with_capacity(actors.len());
        self.rates.clear();
        for a in actors {
            let id = a.pid.id();
            if let Some(before) = self.handled.get(&id) {
                // The count wraps at 2^32.
                self.rates
                    .insert(id, f64::from(a.handled.wrapping_sub(*before)) / secs);
            }
            handled.insert(id, a.handled);
            if let Some(name) = &a.name
                && !self.names.contains_key(&id)
            {
                if self.names.len() >= 10_000 {
                    self.names.clear();
                }
                self.names.insert(id, name.clone());
            }
        }
        self.handled = handled;
    }

    /// Forgets what is older than the history or beyond the most kept.
    fn prune(&mut self, now_ms: u64) {
        let oldest = now_ms.saturating_sub(self.history.as_millis() as u64);
        while self.decisions.len() > KEPT
            || self.decisions.front().is_some_and(|d| d.at_ms < oldest)
        {
            self.decisions.pop_front();
        }
        while self.dead_letters.len() > KEPT
            || self.dead_letters.front().is_some_and(|d| d.at_ms < oldest)
        {
            self.dead_letters.pop_front();
        }
    }

    fn record(&mut self, event: SystemEvent) {
        let at_ms = now_ms();
        match event {
            SystemEvent::Supervisor(e) => self.decisions.push_back(DecisionView {
                at_ms,
                supervisor: e.supervisor.map(|p| p.to_string()),
                child: e.child.to_string(),
                child_type: e.child_type,
                message: e.message,
                reason: e.reason.to_string(),
                directive: e.directive.to_string(),
                delay_ms: e.delay.as_millis() as u64,
            }),
            SystemEvent::DeadLetter(d) => {
                self.dead_letters_total += 1;
                self.dead_letters.push_back(DeadLetterView {
                    at_ms,
                    recipient: d.recipient.to_string(),
                    recipient_name: self.names.get(&d.recipient.id()).cloned(),
                    message: d.message,
                });
            }
            #[cfg(feature = "remote")]
            SystemEvent::NodeConnected {
                address,
                incarnation,
            } => {
                self.peers.insert(
                    address,
                    PeerView {
                        state: "connected",
                        incarnation: Some(incarnation),
                        since_ms: at_ms,
                        reason: None,
                    },
                );
            }
            #[cfg(feature = "remote")]
            SystemEvent::NodeDisconnected { address, reason } => {
                self.peer_state(address, "disconnected", reason, at_ms);
            }
            #[cfg(feature = "remote")]
            SystemEvent::NodeDown { address, reason } => {
                self.peer_state(address, "down", reason, at_ms);
            }
            _ => return,
        }
        self.prune(at_ms);
    }

    #[cfg(feature = "remote")]
    fn peer_state(&mut self, address: String, state: &'static str, reason: String, at_ms: u64) {
        let peer = self.peers.entry(address).or_insert(PeerView {
            state,
            incarnation: None,
            since_ms: at_ms,
            reason: None,
        });
        peer.state = state;
        peer.since_ms = at_ms;
        peer.reason = Some(reason);
    }
}

/// Keeps `recent` up to date from the system's events until the system is gone, and
/// samples the actors' message rates every second.
async fn collect(
    system: ActorSystem,
    max_actors: usize,
    mut events: crate::Subscription,
    recent: Arc<Mutex<Recent>>,
) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = tokio::time::Instant::now();
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => lock(&recent).record(event),
                None => return,
            },
            now = ticks.tick() => {
                let (actors, _) = system.oldest_actors(max_actors);
                lock(&recent).sample(&actors, now - last);
                last = now;
            }
        }
    }
}

#[derive(Serialize, Clone)]
struct DecisionView {
    at_ms: u64,
    supervisor: Option<String>,
    child: String,
    child_type: &'static str,
    message: Option<&'static str>,
    reason: String,
    directive: String,
    delay_ms: u64,
}

#[derive(Serialize, Clone)]
struct DeadLetterView {
    at_ms: u64,
    recipient: String,
    recipient_name: Option<String>,
    message: &'static str,
}

#[derive(Serialize, Clone)]
struct PeerView {
    state: &'static str,
    incarnation: Option<u64>,
    since_ms: u64,
    reason: Option<String>,
}

#[derive(Serialize)]
struct ActorView {
    pid: String,
    id: u64,
    type_name: &'static str,
    name: Option<String>,
    parent: Option<u64>,
    mailbox: u64,
    handled: u32,
    /// Messages per second over the last second.
    rate: f64,
    failures: u32,
    restarts: u32,
    last_failure: Option<String>,
}

#[derive(Serialize)]
struct StateView {
    now_ms: u64,
    started_ms: u64,
    node: u64,
    address: Option<String>,
    shutting_down: bool,
    /// The live actors, of which `actors` lists the oldest.
    actors_total: usize,
    actors: Vec<ActorView>,
    decisions: Vec<DecisionView>,
    dead_letters: Vec<DeadLetterView>,
    dead_letters_total: u64,
    peers: Option<BTreeMap<String, PeerView>>,
}

/// Whether the request carries the token (always, when there is none).
fn authorized(shared: &Shared, headers: &HeaderMap, uri: &Uri) -> bool {
    let Some(token) = &shared.token else {
        return true;
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let query = uri
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("token="));
    bearer
        .into_iter()
        .chain(query)
        .any(|given| same(given.as_bytes(), token.as_bytes()))
}

/// Compares in time that depends on the lengths only, not on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refused() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "401: this bactor dashboard needs its token (?token=... or Authorization: Bearer ...)\n",
    )
        .into_response()
}

async fn page(State(shared): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    if !authorized(&shared, &headers, &uri) {
        return refused();
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
        .into_response()
}

async fn state(State(shared): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    if !authorized(&shared, &headers, &uri) {
        return refused();
    }
    let (actors, actors_total) = shared.system.oldest_actors(shared.max_actors);
    let now = now_ms();
    let (actors, decisions, dead_letters, dead_letters_total, peers) = {
        let mut recent = lock(&shared.recent);
        recent.prune(now);
        let actors: Vec<ActorView> = actors
            .into_iter()
            .map(|a| ActorView {
                pid: a.pid.to_string(),
                id: a.pid.id(),
                type_name: a.type_name,
                name: a.name,
                parent: a.parent.map(|p| p.id()),
                mailbox: a.mailbox,
                handled: a.handled,
                rate: recent.rates.get(&a.pid.id()).copied().unwrap_or(0.0),
                failures: a.failures,
                restarts: a.restarts,
                last_failure: a.last_failure,
            })
            .collect();
        (
            actors,
            recent.decisions.iter().cloned().collect(),
            recent.dead_letters.iter().cloned().collect(),
            recent.dead_letters_total,
            recent.peers.clone(),
        )
    };
    #[cfg(feature = "remote")]
    let (address, peers) = match shared.system.node_shared() {
        Some(node) => (Some(node.address().to_string()), Some(peers)),
        None => (None, None),
    };
    #[cfg(not(feature = "remote"))]
    let (address, peers) = {
        let _ = peers;
        (None, None)
    };
    let view = StateView {
        now_ms: now,
        started_ms: shared.started_ms,
        node: shared.system.node(),
        address,
        shutting_down: shared.system.is_shutting_down(),
        actors_total,
        actors,
        decisions,
        dead_letters,
        dead_letters_total,
        peers,
    };
    match serde_json::to_string(&view) {
        Ok(json) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            json,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn metrics_text(State(shared): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    if !authorized(&shared, &headers, &uri) {
        return refused();
    }
    #[cfg(feature = "prometheus")]
    if let Some(handle) = &shared.prometheus {
        return (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response();
    }
    (
        StatusCode::NOT_FOUND,
        "no Prometheus handle was given to this dashboard (Dashboard::prometheus)\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secret", b"secreT"));
        assert!(!same(b"secret", b"secret2"));
        assert!(!same(b"", b"x"));
    }

    #[test]
    fn history_keeps_the_newest_and_forgets_the_old() {
        let mut recent = Recent::new(Duration::from_secs(60));
        for i in 0..(KEPT as u64 + 50) {
            recent.dead_letters.push_back(DeadLetterView {
                at_ms: 1_000_000 + i,
                recipient: String::new(),
                recipient_name: None,
                message: "m",
            });
        }
        recent.prune(1_000_000);
        assert_eq!(recent.dead_letters.len(), KEPT);
        assert_eq!(
            recent.dead_letters.front().map(|d| d.at_ms),
            Some(1_000_050)
        );
        // A minute and more later, all of them are too old.
        recent.prune(1_000_000 + 61_000 + KEPT as u64 + 50);
        assert!(recent.dead_letters.is_empty());
    }
}
