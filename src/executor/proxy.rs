//! Vendor calls through the proxy the environment names (`HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, upper or lower case, read as curl
//! reads them), as reqwest did before vendor calls moved to hyper.
//!
//! An `https://` vendor is reached through a `CONNECT` tunnel (TLS runs end
//! to end over it); an `http://` vendor is asked through the proxy in
//! absolute form (`GET http://host/path`), with `Proxy-Authorization` when
//! the proxy URL carries credentials. Credentials are never logged.

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::Uri;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connects to a vendor directly or through its proxy.
#[derive(Clone, Debug)]
pub struct ProxyConnector {
    http: HttpConnector,
    proxies: Arc<Matcher>,
}

impl ProxyConnector {
    /// Over `http`, with the proxies `proxies` names.
    pub fn new(http: HttpConnector, proxies: Arc<Matcher>) -> ProxyConnector {
        ProxyConnector { http, proxies }
    }
}

/// A connection, marked when it goes to a proxy that takes absolute-form
/// requests (so hyper writes `GET http://host/path`).
#[derive(Debug)]
pub struct Conn {
    io: TokioIo<tokio::net::TcpStream>,
    absolute_form: bool,
}

impl tower_service::Service<Uri> for ProxyConnector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let mut http = self.http.clone();
        let intercept = self.proxies.intercept(&dst);
        Box::pin(async move {
            match intercept {
                None => Ok(Conn {
                    io: http.call(dst).await?,
                    absolute_form: false,
                }),
                Some(proxy) if dst.scheme_str() == Some("http") => Ok(Conn {
                    io: http.call(proxy.uri().clone()).await?,
                    absolute_form: true,
                }),
                Some(proxy) => {
                    let mut tunnel = Tunnel::new(proxy.uri().clone(), http);
                    if let Some(auth) = proxy.basic_auth() {
                        tunnel = tunnel.with_auth(auth.clone());
                    }
                    let io = tunnel.call(dst).await.map_err(|e| {
                        // Say it was the proxy: "tunnel error" alone points nowhere.
                        format!("through the proxy {}: {e}", redacted(proxy.uri()))
                    })?;
                    Ok(Conn {
                        io,
                        absolute_form: false,
                    })
                }
            }
        })
    }
}

/// The `Proxy-Authorization` a plain-HTTP request to `dst` carries: such a
/// request goes to its proxy in absolute form, and the proxy reads the
/// credentials from it (an https vendor's went in the tunnel's `CONNECT`).
/// Marked sensitive, so hyper never shows it.
pub fn absolute_form_auth(proxies: &Matcher, dst: &Uri) -> Option<hyper::header::HeaderValue> {
    if dst.scheme_str() != Some("http") {
        return None;
    }
    let mut auth = proxies.intercept(dst)?.basic_auth()?.clone();
    auth.set_sensitive(true);
    Some(auth)
}

/// The proxy's scheme, host and port, without any credentials.
fn redacted(uri: &Uri) -> String {
    let host = uri.host().unwrap_or("?");
    match uri.port_u16() {
        Some(p) => format!("{}://{host}:{p}", uri.scheme_str().unwrap_or("http")),
        None => format!("{}://{host}", uri.scheme_str().unwrap_or("http")),
    }
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.absolute_form)
    }
}

impl Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tower_service::Service;

    /// A proxy that reads one request head, answers `answer` and hands the head back.
    async fn one_shot_proxy(answer: &'static [u8]) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let head = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            while !buf.ends_with(b"\r\n\r\n") {
                let mut b = [0u8; 1];
                if s.read(&mut b).await.unwrap() == 0 {
                    break;
                }
                buf.push(b[0]);
            }
            s.write_all(answer).await.unwrap();
            String::from_utf8(buf).unwrap()
        });
        (format!("127.0.0.1:{}", addr.port()), head)
    }

    fn connector(matcher: Matcher) -> ProxyConnector {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        ProxyConnector::new(http, Arc::new(matcher))
    }

    #[tokio::test]
    async fn an_https_vendor_is_reached_through_a_connect_tunnel_with_the_proxy_credentials() {
        let (addr, head) = one_shot_proxy(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
        let proxies = Matcher::builder()
            .https(format!("http://ops:s3cret@{addr}"))
            .build();
        let conn = connector(proxies)
            .call("https://api.vendor.example/v1/people".parse().unwrap())
            .await
            .expect("the tunnel is up");
        assert!(
            !conn.connected().is_proxied(),
            "TLS runs end to end: origin form"
        );
        let head = head.await.unwrap();
        assert!(
            head.starts_with("CONNECT api.vendor.example:443 HTTP/1.1\r\n"),
            "{head}"
        );
        // base64("ops:s3cret")
        assert!(
            head.contains("Proxy-Authorization: Basic b3BzOnMzY3JldA==\r\n"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn a_refused_tunnel_names_the_proxy_without_its_password() {
        let (addr, _head) = one_shot_proxy(b"HTTP/1.1 403 Forbidden\r\n\r\n").await;
        let proxies = Matcher::builder()
            .all(format!("http://ops:s3cret@{addr}"))
            .build();
        let err = connector(proxies)
            .call("https://api.vendor.example/".parse().unwrap())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("through the proxy http://{addr}")),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[tokio::test]
    async fn a_plain_http_vendor_is_asked_through_the_proxy_in_absolute_form_and_no_proxy_is_honoured(
    ) {
        let (addr, _head) = one_shot_proxy(b"").await;
        let vendor = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let vendor_addr = vendor.local_addr().unwrap();
        let proxies = Matcher::builder()
            .http(format!("http://{addr}"))
            .no("127.0.0.1")
            .build();
        let mut c = connector(proxies);
        let conn = c
            .call("http://vendor.example/x".parse().unwrap())
            .await
            .unwrap();
        assert!(conn.connected().is_proxied());
        assert_eq!(
            conn.io.inner().peer_addr().unwrap().to_string(),
            addr,
            "connected to the proxy, not the vendor"
        );
        let direct = c
            .call(format!("http://{vendor_addr}/x").parse().unwrap())
            .await
            .unwrap();
        assert!(!direct.connected().is_proxied());
        assert_eq!(
            direct.io.inner().peer_addr().unwrap(),
            vendor_addr,
            "NO_PROXY: asked directly"
        );
    }
}
