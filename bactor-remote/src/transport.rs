//! The seam between an endpoint and the network: real TCP by default, anything that moves
//! bytes otherwise (a network simulator such as turmoil in tests, an in-memory pipe).
//!
//! The stream driver, the handshake, heartbeats and reconnection are the same code
//! whatever the transport; only listening and dialling go through [`Transport`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::codegen::http::Uri;
use tonic::codegen::tokio_stream::Stream;

/// A byte stream a transport hands out: a connection, either way.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// One connection of a [`Transport`].
pub struct Connection(Box<dyn Io>);

impl Connection {
    /// Wraps a byte stream.
    pub fn new(io: impl Io) -> Self {
        Connection(Box::new(io))
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connection")
    }
}

/// The connections a listening transport accepts.
pub type Accepting = Pin<Box<dyn Stream<Item = io::Result<Connection>> + Send>>;

/// The connections a task sends into `rx`, as [`Accepting`]: the simplest way to write
/// [`Transport::listen`] for a listener with an async `accept`.
pub fn accepting(rx: tokio::sync::mpsc::Receiver<io::Result<Connection>>) -> Accepting {
    Box::pin(tonic::codegen::tokio_stream::wrappers::ReceiverStream::new(
        rx,
    ))
}

/// What a transport's futures look like.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// How an endpoint listens and dials ([`EndpointConfig::transport`]; real TCP with
/// `TCP_NODELAY` when none is set).
///
/// [`EndpointConfig::transport`]: crate::endpoint::EndpointConfig::transport
///
/// # Example
///
/// A transport over plain tokio TCP (what the endpoint does by itself):
///
/// ```
/// use std::net::SocketAddr;
/// use bactor_remote::transport::{Accepting, BoxFuture, Connection, Transport};
///
/// struct Tcp;
///
/// impl Transport for Tcp {
///     fn listen(&self, addr: SocketAddr) -> BoxFuture<std::io::Result<(SocketAddr, Accepting)>> {
///         Box::pin(async move {
///             let listener = tokio::net::TcpListener::bind(addr).await?;
///             let local = listener.local_addr()?;
///             let accepting: Accepting = Box::pin(futures_like::accept(listener));
///             Ok((local, accepting))
///         })
///     }
///
///     fn connect(&self, address: String) -> BoxFuture<std::io::Result<Connection>> {
///         Box::pin(async move {
///             let stream = tokio::net::TcpStream::connect(address).await?;
///             stream.set_nodelay(true)?;
///             Ok(Connection::new(stream))
///         })
///     }
/// }
///
/// mod futures_like {
///     use bactor_remote::transport::Connection;
///     use std::pin::Pin;
///     use std::task::{Context, Poll};
///
///     /// The listener as a stream of connections.
///     pub fn accept(
///         listener: tokio::net::TcpListener,
///     ) -> impl tonic::codegen::tokio_stream::Stream<Item = std::io::Result<Connection>> + Send {
///         Accept(listener)
///     }
///
///     struct Accept(tokio::net::TcpListener);
///
///     impl tonic::codegen::tokio_stream::Stream for Accept {
///         type Item = std::io::Result<Connection>;
///         fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
///             self.0
///                 .poll_accept(cx)
///                 .map(|r| Some(r.map(|(s, _)| Connection::new(s))))
///         }
///     }
/// }
/// ```
pub trait Transport: Send + Sync + 'static {
    /// Listens on `addr`; the bound address and the connections accepted there.
    fn listen(&self, addr: SocketAddr) -> BoxFuture<io::Result<(SocketAddr, Accepting)>>;
    /// Connects to `address` (`host:port`, as advertised by the peer).
    fn connect(&self, address: String) -> BoxFuture<io::Result<Connection>>;
}

impl std::fmt::Debug for dyn Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transport")
    }
}

/// An accepted connection as the gRPC server wants it.
pub(crate) struct Accepted(pub(crate) Connection);

impl tonic::transport::server::Connected for Accepted {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

macro_rules! delegate_io {
    ($ty:ty, $field:tt) => {
        impl AsyncRead for $ty {
            fn poll_read(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                Pin::new(&mut self.$field).poll_read(cx, buf)
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.$field).poll_write(cx, buf)
            }

            fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut self.$field).poll_flush(cx)
            }

            fn poll_shutdown(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<io::Result<()>> {
                Pin::new(&mut self.$field).poll_shutdown(cx)
            }
        }
    };
}

delegate_io!(Connection, 0);
delegate_io!(Accepted, 0);

/// Dials through a transport, as tonic's channel wants it.
#[derive(Clone)]
pub(crate) struct Connector {
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) address: String,
}

impl tower_service::Service<Uri> for Connector {
    type Response = hyper_util::rt::TokioIo<Connection>;
    type Error = io::Error;
    type Future = BoxFuture<io::Result<Self::Response>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let connecting = self.transport.connect(self.address.clone());
        Box::pin(async move { connecting.await.map(hyper_util::rt::TokioIo::new) })
    }
}
