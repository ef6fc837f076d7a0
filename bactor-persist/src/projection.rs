//! Projections: read models fed from the journal, resuming where they stopped.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::{EventEnvelope, EventStream, OffsetStore, ReadJournal, StoreError};

/// What a projection handler's failure is.
pub type HandlerError = Box<dyn StdError + Send + Sync>;

/// Handles the events of a [`Projection::run`] (at least once).
///
/// # Example
///
/// ```
/// use bactor_persist::{EventEnvelope, EventHandler, HandlerError};
///
/// struct Count(u64);
///
/// impl EventHandler for Count {
///     async fn handle(&mut self, _event: &EventEnvelope) -> Result<(), HandlerError> {
///         self.0 += 1;
///         Ok(())
///     }
/// }
/// ```
pub trait EventHandler: Send {
    /// Updates the read model with `event`. An error stops the projection; the event is
    /// delivered again when it is run next.
    fn handle(
        &mut self,
        event: &EventEnvelope,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Handles the events of a [`Projection::run_in_transaction`] (exactly once): each call
/// gets the connection of the transaction that also saves the projection's offset.
///
/// # Example
///
/// ```
/// use bactor_persist::sqlx::{self, Sqlite, SqliteConnection};
/// use bactor_persist::{EventEnvelope, HandlerError, SqlEventHandler};
///
/// struct Counts;
///
/// impl SqlEventHandler<Sqlite> for Counts {
///     async fn handle(&mut self, conn: &mut SqliteConnection, event: &EventEnvelope) -> Result<(), HandlerError> {
///         sqlx::query("INSERT INTO counts (id, n) VALUES (?1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1")
///             .bind(&event.persistence_id)
///             .execute(conn)
///             .await?;
///         Ok(())
///     }
/// }
/// ```
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub trait SqlEventHandler<DB: sqlx::Database>: Send {
    /// Updates the read model with `event`, on `conn`. An error rolls the transaction back
    /// (this event's and the rest of its page's changes, and the offset) and stops the
    /// projection.
    fn handle(
        &mut self,
        conn: &mut DB::Connection,
        event: &EventEnvelope,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// A SQL store whose projections can keep their offset in the transaction that updates
/// their read model ([`Projection::run_in_transaction`]): `SqliteStore` and
/// `PostgresStore`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub trait TransactionalStore: ReadJournal + OffsetStore + Clone {
    /// The database.
    type Db: sqlx::Database;

    /// Begins a transaction.
    fn begin(
        &self,
    ) -> crate::BoxFuture<'_, Result<sqlx::Transaction<'static, Self::Db>, StoreError>>;

    /// Saves `offset` as `projection`'s on `conn`.
    fn save_offset_on<'a>(
        &'a self,
        conn: &'a mut <Self::Db as sqlx::Database>::Connection,
        projection: &'a str,
        offset: u64,
    ) -> crate::BoxFuture<'a, Result<(), StoreError>>;
}

/// Why a projection stopped.
#[derive(Clone)]
#[non_exhaustive]
pub enum ProjectionError {
    /// The store failed more times in a row than the projection retries
    /// ([`Projection::store_retries`]).
    Store(StoreError),
    /// The handler failed on an event; the offset stays before it.
    Handler {
        /// The projection.
        projection: String,
        /// The event's offset.
        offset: u64,
        /// Its persistence id.
        persistence_id: String,
        /// Its sequence number.
        sequence_nr: u64,
        /// What the handler returned.
        error: Arc<dyn StdError + Send + Sync>,
    },
}

impl fmt::Display for ProjectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProjectionError::Store(e) => write!(f, "projection stopped: {e}"),
            ProjectionError::Handler {
                projection,
                offset,
                persistence_id,
                sequence_nr,
                error,
            } => write!(
                f,
                "projection `{projection}` failed on offset {offset} (`{persistence_id}` #{sequence_nr}): {error}"
            ),
        }
    }
}

impl fmt::Debug for ProjectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl StdError for ProjectionError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ProjectionError::Store(e) => Some(e),
            ProjectionError::Handler { error, .. } => Some(&**error),
        }
    }
}

impl From<StoreError> for ProjectionError {
    fn from(e: StoreError) -> Self {
        ProjectionError::Store(e)
    }
}

/// Where a projection got to: what [`Projection::run`] returns when a finite run is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProjectionRun {
    /// The offset handled up to (and saved).
    pub offset: u64,
    /// How many events this run handled.
    pub handled: u64,
}

#[derive(Clone, Debug)]
enum Source {
    Tag(String),
    All,
}

/// A read model fed from the journal: the events of a tag (or all events) in offset
/// order, handed to a handler, with the offset handled up to saved under the
/// projection's name, so that the next run resumes after it (Akka Projections' model).
///
/// - [`run`](Projection::run): **at least once**. The offset is saved after each page
///   of events is handled; after a crash, the events handled since the last save are
///   handled again. For read models outside the journal's database (a cache, a search
///   index, another service): make the handler idempotent.
/// - [`run_in_transaction`](Projection::run_in_transaction) (SQLite, Postgres):
///   **exactly once**. Each page's handler calls and the offset go in one transaction
///   on the journal's database: the read model lives in the same database.
///
/// A run is finite by default: it handles what is stored and returns
/// ([`ProjectionRun`]); [`live`](Projection::live) follows new events until the
/// handler fails, the store fails more than [`store_retries`](Projection::store_retries)
/// times in a row, or the future is dropped (an aborted task; a transaction in flight is
/// rolled back).
///
/// # Example
///
/// ```
/// use bactor_persist::{EventEnvelope, EventHandler, HandlerError, Journal, MemoryStore, NewEvent, Projection};
///
/// struct Total(u64);
///
/// impl EventHandler for Total {
///     async fn handle(&mut self, event: &EventEnvelope) -> Result<(), HandlerError> {
///         self.0 += event.payload.parse::<u64>()?;
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemoryStore::new();
/// store.append("a", 0, vec![NewEvent::new("Deposited", "5").tagged(["deposit"])]).await?;
/// let totals = Projection::by_tag("totals", "deposit");
/// let mut total = Total(0);
/// assert_eq!(totals.run(&store, &mut total).await?.handled, 1);
///
/// store.append("a", 1, vec![NewEvent::new("Deposited", "7").tagged(["deposit"])]).await?;
/// // The next run resumes after the saved offset.
/// assert_eq!(totals.run(&store, &mut total).await?.handled, 1);
/// assert_eq!(total.0, 12);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Projection {
    name: String,
    source: Source,
    live: bool,
    page: u64,
    poll: Duration,
    store_retries: u32,
}

impl Projection {
    /// A projection named `name` (the key of its saved offset) of the events tagged `tag`.
    pub fn by_tag(name: impl Into<String>, tag: impl Into<String>) -> Self {
        Self::new(name.into(), Source::Tag(tag.into()))
    }

    /// A projection named `name` of every event.
    pub fn all(name: impl Into<String>) -> Self {
        Self::new(name.into(), Source::All)
    }

    fn new(name: String, source: Source) -> Self {
        Projection {
            name,
            source,
            live: false,
            page: 500,
            poll: Duration::from_millis(500),
            store_retries: 10,
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Follows new events instead of returning when the stored ones are handled.
    pub fn live(mut self) -> Self {
        self.live = true;
        self
    }

    /// How often a live projection polls for events written by other processes (500 ms
    /// by default; this process's commits wake it at once).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll = every;
        self
    }

    /// How many events are read, handled, and saved (one transaction in
    /// [`run_in_transaction`](Projection::run_in_transaction)) together: 500 by default.
    pub fn page_size(mut self, events: u64) -> Self {
        self.page = events.max(1);
        self
    }

    /// How many store failures in a row are retried, with a backoff from 100 ms doubling
    /// to 5 s, before the run returns [`ProjectionError::Store`]: 10 by default (about half
    /// a minute of outage).
    pub fn store_retries(mut self, times: u32) -> Self {
        self.store_retries = times;
        self
    }

    fn stream<S: ReadJournal + Clone>(&self, store: &S, after: u64) -> EventStream {
        let stream = match &self.source {
            Source::Tag(tag) => EventStream::by_tag(store.clone(), tag.clone(), after),
            Source::All => EventStream::all(store.clone(), after),
        }
        .page_size(self.page)
        .poll_interval(self.poll);
        if self.live { stream.live() } else { stream }
    }

    /// Waits before retrying a failed store operation, or gives up.
    async fn backoff(&self, failures: &mut u32, e: StoreError) -> Result<(), ProjectionError> {
        if *failures >= self.store_retries {
            return Err(ProjectionError::Store(e));
        }
        let wait = Duration::from_millis(100)
            .saturating_mul(1 << (*failures).min(6))
            .min(Duration::from_secs(5));
        *failures += 1;
        tokio::time::sleep(wait).await;
        Ok(())
    }

    async fn load_offset<S: OffsetStore>(&self, store: &S) -> Result<u64, ProjectionError> {
        let mut failures = 0;
        loop {
            match store.load_offset(&self.name).await {
                Ok(offset) => return Ok(offset.unwrap_or(0)),
                Err(e) => self.backoff(&mut failures, e).await?,
            }
        }
    }

    fn handler_error(&self, event: &EventEnvelope, error: HandlerError) -> ProjectionError {
        ProjectionError::Handler {
            projection: self.name.clone(),
            offset: event.offset,
            persistence_id: event.persistence_id.clone(),
            sequence_nr: event.sequence_nr,
            error: Arc::from(error),
        }
    }

    /// Runs the projection at least once per event (see [`Projection`]), from the
    /// offset saved under its name (the start, the first time).
    pub async fn run<S, H>(
        &self,
        store: &S,
        mut handler: H,
    ) -> Result<ProjectionRun, ProjectionError>
    where
        S: ReadJournal + OffsetStore + Clone,
        H: EventHandler,
    {
        let mut offset = self.load_offset(store).await?;
        let mut stream = self.stream(store, offset);
        let mut handled = 0;
        let mut failures = 0;
        loop {
            let page = match stream.next_page().await {
                None => return Ok(ProjectionRun { offset, handled }),
                Some(Ok(page)) => page,
                Some(Err(e)) => {
                    self.backoff(&mut failures, e).await?;
                    continue;
                }
            };
            failures = 0;
            let mut last = offset;
            let mut failed = None;
            for event in &page {
                if let Err(e) = handler.handle(event).await {
                    failed = Some(self.handler_error(event, e));
                    break;
                }
                last = event.offset;
                handled += 1;
            }
            if last != offset {
                // What was handled is saved even when the page failed part-way.
                while let Err(e) = store.save_offset(&self.name, last).await {
                    self.backoff(&mut failures, e).await?;
                }
                failures = 0;
                offset = last;
            }
            if let Some(e) = failed {
                return Err(e);
            }
        }
    }

    /// Runs the projection exactly once per event (see [`Projection`]): each page's
    /// handler calls and its offset are one transaction on the store's database.
    ///
    /// # Example
    ///
    /// ```
    /// use bactor_persist::sqlx::{self, Sqlite, SqliteConnection};
    /// use bactor_persist::{EventEnvelope, HandlerError, Journal, NewEvent, Projection, SqlEventHandler, SqliteStore};
    ///
    /// struct Counts;
    ///
    /// impl SqlEventHandler<Sqlite> for Counts {
    ///     async fn handle(&mut self, conn: &mut SqliteConnection, e: &EventEnvelope) -> Result<(), HandlerError> {
    ///         sqlx::query("INSERT INTO counts (id, n) VALUES (?1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1")
    ///             .bind(&e.persistence_id)
    ///             .execute(conn)
    ///             .await?;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = SqliteStore::in_memory().await?;
    /// sqlx::query("CREATE TABLE counts (id TEXT PRIMARY KEY, n INTEGER NOT NULL)").execute(store.pool()).await?;
    /// store.append("a", 0, vec![NewEvent::new("Opened", "{}"), NewEvent::new("Closed", "{}")]).await?;
    /// let run = Projection::all("counts").run_in_transaction(&store, Counts).await?;
    /// assert_eq!((run.offset, run.handled), (2, 2));
    /// let n: i64 = sqlx::query_scalar("SELECT n FROM counts WHERE id = 'a'").fetch_one(store.pool()).await?;
    /// assert_eq!(n, 2);
    /// # Ok(()) }
    /// ```
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub async fn run_in_transaction<S, H>(
        &self,
        store: &S,
        mut handler: H,
    ) -> Result<ProjectionRun, ProjectionError>
    where
        S: TransactionalStore,
        H: SqlEventHandler<S::Db>,
    {
        let mut offset = self.load_offset(store).await?;
        let mut stream = self.stream(store, offset);
        let mut handled = 0;
        let mut failures = 0;
        loop {
            let page = match stream.next_page().await {
                None => return Ok(ProjectionRun { offset, handled }),
                Some(Ok(page)) => page,
                Some(Err(e)) => {
                    self.backoff(&mut failures, e).await?;
                    continue;
                }
            };
            match self.commit_page(store, &mut handler, &page).await {
                Ok(last) => {
                    failures = 0;
                    offset = last;
                    handled += page.len() as u64;
                }
                Err(PageError::Handler(e)) => return Err(e),
                Err(PageError::Store(e)) => {
                    self.backoff(&mut failures, e).await?;
                    // Nothing of the page was committed: read it again.
                    stream = self.stream(store, offset);
                }
            }
        }
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    async fn commit_page<S, H>(
        &self,
        store: &S,
        handler: &mut H,
        page: &[EventEnvelope],
    ) -> Result<u64, PageError>
    where
        S: TransactionalStore,
        H: SqlEventHandler<S::Db>,
    {
        let mut tx = store.begin().await.map_err(PageError::Store)?;
        let mut last = 0;
        for event in page {
            handler
                .handle(&mut tx, event)
                .await
                .map_err(|e| PageError::Handler(self.handler_error(event, e)))?;
            last = event.offset;
        }
        store
            .save_offset_on(&mut tx, &self.name, last)
            .await
            .map_err(PageError::Store)?;
        tx.commit()
            .await
            .map_err(|e| PageError::Store(crate::sql::db_error(e)))?;
        Ok(last)
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
enum PageError {
    Handler(ProjectionError),
    Store(StoreError),
}

impl<H: EventHandler> EventHandler for &mut H {
    fn handle(
        &mut self,
        event: &EventEnvelope,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        (**self).handle(event)
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl<DB: sqlx::Database, H: SqlEventHandler<DB>> SqlEventHandler<DB> for &mut H {
    fn handle(
        &mut self,
        conn: &mut DB::Connection,
        event: &EventEnvelope,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        (**self).handle(conn, event)
    }
}
