//! Which proxies vendor calls go through: reqwest's own proxy support, with
//! the environment's proxies (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
//! `NO_PROXY`, upper or lower case, read as curl reads them) unless a test
//! names its own.
//!
//! An `https://` vendor is reached through a `CONNECT` tunnel (TLS runs end
//! to end over it); an `http://` vendor is asked through the proxy in
//! absolute form (`GET http://host/path`), with `Proxy-Authorization` when
//! the proxy URL carries credentials. Credentials are never logged: a
//! failed tunnel is named by the proxy's scheme, host and port only.

/// Proxies named explicitly instead of the environment's.
#[derive(Debug, Default)]
pub struct Proxies {
    /// For `http://` vendors.
    pub http: Option<String>,
    /// For `https://` vendors.
    pub https: Option<String>,
    /// For both, unless one of the above is set.
    pub all: Option<String>,
    /// Hosts asked directly (`NO_PROXY` syntax).
    pub no: Option<String>,
}

/// `b` with these proxies (`None`: the environment's, which reqwest reads
/// itself).
pub(super) fn configure(
    b: reqwest::ClientBuilder,
    proxies: Option<&Proxies>,
) -> reqwest::ClientBuilder {
    let Some(p) = proxies else {
        return b;
    };
    // Named proxies replace the environment's.
    let mut b = b.no_proxy();
    let no = || reqwest::NoProxy::from_string(p.no.as_deref().unwrap_or(""));
    let named = [
        p.http.as_deref().map(reqwest::Proxy::http),
        p.https.as_deref().map(reqwest::Proxy::https),
        p.all.as_deref().map(reqwest::Proxy::all),
    ];
    // A proxy URL reqwest cannot read is left out, as it leaves out the
    // environment's.
    for proxy in named.into_iter().flatten().flatten() {
        b = b.proxy(proxy.no_proxy(no()));
    }
    b
}

/// The proxy an `https://` vendor's tunnel goes to, without credentials, so
/// a failed tunnel can be named (reqwest's error says only "tunnel error").
/// The environment is read in the order reqwest reads it.
pub(super) fn tunnel_proxy(proxies: Option<&Proxies>) -> Option<String> {
    let url = match proxies {
        Some(p) => p.https.clone().or_else(|| p.all.clone()),
        None => {
            let first = |names: [&str; 2]| names.iter().find_map(|n| std::env::var(n).ok());
            first(["HTTPS_PROXY", "https_proxy"]).or_else(|| first(["ALL_PROXY", "all_proxy"]))
        }
    }?;
    redacted(&url)
}

/// A proxy URL's scheme, host and port, without any credentials.
fn redacted(url: &str) -> Option<String> {
    // A proxy named without a scheme is an HTTP proxy, as reqwest takes it.
    let u = url::Url::parse(url)
        .ok()
        .filter(|u| u.has_host())
        .or_else(|| url::Url::parse(&format!("http://{url}")).ok())?;
    let host = u.host_str()?;
    Some(match u.port_or_known_default() {
        Some(p) => format!("{}://{host}:{p}", u.scheme()),
        None => format!("{}://{host}", u.scheme()),
    })
}

#[cfg(test)]
mod tests {
    use super::super::http::{client_with, send, Attempt};
    use super::*;
    use crate::provider::HttpRequest;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A proxy that reads one request head, answers `answer` and hands the head back.
    async fn one_shot_proxy(answer: &'static [u8]) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let head = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let head = read_head(&mut s).await;
            s.write_all(answer).await.unwrap();
            head
        });
        (format!("127.0.0.1:{}", addr.port()), head)
    }

    async fn read_head(s: &mut tokio::net::TcpStream) -> String {
        let mut buf = Vec::new();
        while !buf.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            if s.read(&mut b).await.unwrap() == 0 {
                break;
            }
            buf.push(b[0]);
        }
        String::from_utf8(buf).unwrap()
    }

    /// A header's value in a request head (names in any case).
    fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn get(url: &str) -> HttpRequest {
        HttpRequest::get(url.parse().unwrap())
    }

    async fn call(proxies: Proxies, url: &str) -> Attempt {
        send(
            &client_with(Some(proxies)),
            &get(url),
            Duration::from_secs(5),
            1 << 20,
        )
        .await
    }

    #[tokio::test]
    async fn an_https_vendor_is_reached_through_a_connect_tunnel_with_the_proxy_credentials() {
        let (addr, head) = one_shot_proxy(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
        let proxies = Proxies {
            https: Some(format!("http://ops:s3cret@{addr}")),
            ..Proxies::default()
        };
        // The proxy closes after the tunnel is up, so TLS (end to end) fails.
        let answer = call(proxies, "https://api.vendor.example/v1/people").await;
        assert!(matches!(answer, Attempt::Connection(_)), "{answer:?}");
        let head = head.await.unwrap();
        assert!(
            head.starts_with("CONNECT api.vendor.example:443 HTTP/1.1\r\n"),
            "{head}"
        );
        // base64("ops:s3cret")
        assert_eq!(
            header(&head, "proxy-authorization"),
            Some("Basic b3BzOnMzY3JldA=="),
            "{head}"
        );
    }

    #[tokio::test]
    async fn a_refused_tunnel_names_the_proxy_without_its_password() {
        let (addr, _head) = one_shot_proxy(b"HTTP/1.1 403 Forbidden\r\n\r\n").await;
        let proxies = Proxies {
            all: Some(format!("http://ops:s3cret@{addr}")),
            ..Proxies::default()
        };
        let Attempt::Connection(err) = call(proxies, "https://api.vendor.example/").await else {
            panic!("a refused tunnel is a connection failure");
        };
        assert!(
            err.contains(&format!("through the proxy http://{addr}")),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[tokio::test]
    async fn a_plain_http_vendor_is_asked_through_the_proxy_in_absolute_form_and_no_proxy_is_honoured(
    ) {
        let (addr, head) =
            one_shot_proxy(b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nproxied").await;
        let vendor = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let vendor_addr = vendor.local_addr().unwrap();
        let direct_head = tokio::spawn(async move {
            let (mut s, _) = vendor.accept().await.unwrap();
            let head = read_head(&mut s).await;
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\ndirect")
                .await
                .unwrap();
            head
        });
        let client = client_with(Some(Proxies {
            http: Some(format!("http://ops:s3cret@{addr}")),
            no: Some("127.0.0.1".into()),
            ..Proxies::default()
        }));
        let body = |a: Attempt| match a {
            Attempt::Response { body, .. } => String::from_utf8(body).unwrap(),
            other => panic!("{other:?}"),
        };
        let timeout = Duration::from_secs(5);
        let proxied = send(&client, &get("http://vendor.example/x"), timeout, 1024).await;
        assert_eq!(body(proxied), "proxied", "asked the proxy, not the vendor");
        let head = head.await.unwrap();
        assert!(
            head.starts_with("GET http://vendor.example/x HTTP/1.1\r\n"),
            "{head}"
        );
        // base64("ops:s3cret")
        assert_eq!(
            header(&head, "proxy-authorization"),
            Some("Basic b3BzOnMzY3JldA=="),
            "{head}"
        );
        let direct = send(
            &client,
            &get(&format!("http://{vendor_addr}/x")),
            timeout,
            1024,
        )
        .await;
        assert_eq!(body(direct), "direct", "NO_PROXY: asked directly");
        let head = direct_head.await.unwrap();
        assert!(head.starts_with("GET /x HTTP/1.1\r\n"), "{head}");
        assert_eq!(header(&head, "proxy-authorization"), None, "{head}");
    }

    #[test]
    fn a_proxy_is_named_without_its_credentials() {
        assert_eq!(
            redacted("http://ops:s3cret@proxy.corp:3128").as_deref(),
            Some("http://proxy.corp:3128")
        );
        assert_eq!(
            redacted("proxy.corp:3128").as_deref(),
            Some("http://proxy.corp:3128")
        );
        assert_eq!(
            redacted("https://proxy.corp").as_deref(),
            Some("https://proxy.corp:443")
        );
    }
}
