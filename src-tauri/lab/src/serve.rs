//! Listeners and accept loops.
//!
//! The lab runs its own accept loop (tokio + tokio-rustls + hyper-util) rather than a framework's
//! server so that faults can drop a connection without answering, and so that an endpoint that is
//! "down" really stops listening (connections are refused, not answered with an error) and
//! listens again on the same address when brought back.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rand::Rng;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service;

use crate::faults::Dropped;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A random address in 127.0.0.0/8 (not 127.0.0.1), so that parallel tests never share one.
pub fn random_loopback_ip() -> IpAddr {
    let mut rng = rand::rng();
    IpAddr::V4(Ipv4Addr::new(
        127,
        rng.random_range(1..=254),
        rng.random_range(0..=255),
        rng.random_range(1..=254),
    ))
}

/// Binds `ip:port`; a busy port falls back to an OS-chosen one, and an address the system does not
/// route (macOS only has 127.0.0.1 by default) falls back to 127.0.0.1.
pub async fn bind_loopback(ip: IpAddr, port: u16) -> io::Result<TcpListener> {
    match TcpListener::bind((ip, port)).await {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == io::ErrorKind::AddrNotAvailable && ip != LOCALHOST => {
            tracing::warn!(%ip, "cannot bind this loopback address; using 127.0.0.1");
            Box::pin(bind_loopback(LOCALHOST, port)).await
        }
        Err(e) if port != 0 => {
            tracing::warn!(%ip, port, error = %e, "port busy; using an OS-chosen port");
            TcpListener::bind((ip, 0)).await
        }
        Err(e) => Err(e),
    }
}

/// Runs `handle` for each accepted connection while the endpoint is up; while `down` is set the
/// listener is closed (connections are refused) and is bound again on the same address after.
async fn accept_loop<H, F>(
    listener: TcpListener,
    mut down: watch::Receiver<bool>,
    cancel: CancellationToken,
    tracker: TaskTracker,
    handle: H,
) where
    H: Fn(TcpStream) -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
    let mut listener = Some(listener);
    loop {
        let is_down = *down.borrow_and_update();
        if is_down {
            listener = None;
        } else if listener.is_none() {
            match TcpListener::bind(addr).await {
                Ok(l) => listener = Some(l),
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "cannot listen again yet");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
                    }
                }
            }
        }
        match &listener {
            None => tokio::select! {
                _ = cancel.cancelled() => return,
                r = down.changed() => if r.is_err() { return },
            },
            Some(l) => tokio::select! {
                _ = cancel.cancelled() => return,
                r = down.changed() => if r.is_err() { return },
                acc = l.accept() => match acc {
                    Ok((stream, _)) => { tracker.spawn(handle(stream)); }
                    Err(e) => {
                        tracing::debug!(%addr, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                },
            },
        }
    }
}

/// Serves HTTPS on `listener` with `service` (a router behind its fault layer).
pub fn spawn_https<S>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    service: S,
    down: watch::Receiver<bool>,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Dropped>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let acceptor = TlsAcceptor::from(tls);
    let conn_cancel = cancel.clone();
    let handle = move |stream: TcpStream| {
        let acceptor = acceptor.clone();
        let service = service.clone();
        let cancel = conn_cancel.clone();
        async move {
            let _ = stream.set_nodelay(true);
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                .await
            {
                Ok(Ok(s)) => s,
                _ => return,
            };
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn =
                builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(service));
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = cancel.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
                }
            }
        }
    };
    tracker.spawn(accept_loop(listener, down, cancel, tracker.clone(), handle));
}

/// A plain TCP port that accepts and closes: what a TCP reach check of a replication port needs.
pub fn spawn_accept_and_close(
    listener: TcpListener,
    down: watch::Receiver<bool>,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    tracker.spawn(accept_loop(
        listener,
        down,
        cancel,
        tracker.clone(),
        |stream| async move { drop(stream) },
    ));
}

/// Serves the plain-HTTP control API on its own loopback listener.
pub fn spawn_control(
    listener: TcpListener,
    router: axum::Router,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    tracker.spawn(async move {
        let serve = axum::serve(listener, router)
            .with_graceful_shutdown(async move { cancel.cancelled().await });
        if let Err(e) = serve.await {
            tracing::warn!(error = %e, "control API stopped");
        }
    });
}

pub fn socket_url(scheme: &str, addr: SocketAddr) -> url::Url {
    url::Url::parse(&format!("{scheme}://{addr}/")).expect("a socket address makes a valid URL")
}
