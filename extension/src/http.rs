//! A small blocking HTTP/1.1 client: enough for the local Extensions/Telemetry APIs (plain
//! HTTP) and for DynamoDB (HTTPS with rustls, or plain HTTP to a local emulator).
//!
//! Heads are parsed with `httparse`; bodies by `Content-Length`, chunked transfer coding, or
//! read to EOF. Every call is bounded by explicit timeouts and a body-size cap.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Largest response body we accept (DynamoDB error bodies and Lambda API answers are small).
pub const MAX_RESPONSE_BODY: usize = 1 << 20;
const MAX_HEAD: usize = 16 * 1024;

/// An `http://` or `https://` base URL: scheme, host, port and path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path prefix without a trailing slash (`""` for the root).
    pub path: String,
}

/// A URL we cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid URL {input:?}: {reason}")]
pub struct UrlError {
    pub input: String,
    pub reason: &'static str,
}

impl Url {
    /// Parses `scheme://host[:port][/path]`; `bare_host_port` (the form of
    /// `AWS_LAMBDA_RUNTIME_API`, `127.0.0.1:9001`) is read as plain HTTP.
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        let err = |reason| UrlError { input: input.to_owned(), reason };
        let s = input.trim();
        let (tls, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else if s.contains("://") {
            return Err(err("the scheme must be http or https"));
        } else {
            (false, s)
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(err("expected a host (and no user info)"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
                (h, p.parse::<u16>().map_err(|_| err("the port must be a number 1-65535"))?)
            }
            _ => (authority, if tls { 443 } else { 80 }),
        };
        if host.is_empty() || port == 0 {
            return Err(err("expected a host and a nonzero port"));
        }
        Ok(Self { tls, host: host.to_owned(), port, path: path.to_owned() })
    }

    /// The `Host` header value (port omitted when it is the scheme's default).
    pub fn host_header(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        if self.port == default { self.host.clone() } else { format!("{}:{}", self.host, self.port) }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", if self.tls { "https" } else { "http" }, self.host_header(), self.path)
    }
}

/// A connection: plain TCP or TLS over TCP.
#[derive(Debug)]
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            Self::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            Self::Tls(s) => s.flush(),
        }
    }
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            Self::Tls(s) => s.get_ref(),
        }
    }

    /// Bounds every later read and write (None: block; used for the `/event/next` long poll).
    pub fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(timeout)?;
        self.tcp().set_write_timeout(timeout)
    }
}

/// The rustls client configuration with Mozilla's roots (built once, on first HTTPS use).
pub fn tls_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Opens a connection to `url`, trying each resolved address within `timeout`.
pub fn connect(url: &Url, timeout: Duration, tls: Option<&Arc<rustls::ClientConfig>>) -> io::Result<Conn> {
    let addrs: Vec<SocketAddr> =
        (url.host.trim_start_matches('[').trim_end_matches(']'), url.port).to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{} resolved to no address", url.host));
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(tcp) => {
                tcp.set_nodelay(true)?;
                tcp.set_read_timeout(Some(timeout))?;
                tcp.set_write_timeout(Some(timeout))?;
                if !url.tls {
                    return Ok(Conn::Plain(tcp));
                }
                let config = match tls {
                    Some(c) => Arc::clone(c),
                    None => tls_config().map_err(io::Error::other)?,
                };
                let name = rustls::pki_types::ServerName::try_from(url.host.clone())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                let conn = rustls::ClientConnection::new(config, name).map_err(io::Error::other)?;
                return Ok(Conn::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A response: status, headers (names lower-cased) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).chars().take(300).collect()
    }
}

/// Writes one request. `headers` must not include Host or Content-Length.
pub fn write_request(
    conn: &mut impl Write,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    // One write for small requests: fewer syscalls and TLS records.
    let mut buf = head.into_bytes();
    buf.extend_from_slice(body);
    conn.write_all(&buf)?;
    conn.flush()
}

/// Reads one response. `Ok(None)` when the peer closed the connection before sending a single
/// byte (a reused keep-alive connection the server had closed: safe to retry).
pub fn read_response(conn: &mut impl Read) -> io::Result<Option<Response>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let (status, headers, head_len) = loop {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside the response head"));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut slots = [httparse::EMPTY_HEADER; 48];
        let mut resp = httparse::Response::new(&mut slots);
        match resp.parse(&buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))? {
            httparse::Status::Complete(len) => {
                let headers = resp
                    .headers
                    .iter()
                    .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).trim().to_owned()))
                    .collect::<Vec<_>>();
                break (resp.code.unwrap_or(0), headers, len);
            }
            httparse::Status::Partial if buf.len() > MAX_HEAD => {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "response head too large"));
            }
            httparse::Status::Partial => {}
        }
    };
    let rest = buf.split_off(head_len);
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let body = if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        read_chunked(conn, rest)?
    } else if let Some(len) = header("content-length") {
        let len: usize = len.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length"))?;
        read_exact_body(conn, rest, len)?
    } else {
        read_to_eof(conn, rest)?
    };
    Ok(Some(Response { status, headers, body }))
}

fn too_large() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "response body too large")
}

fn read_exact_body(conn: &mut impl Read, mut body: Vec<u8>, len: usize) -> io::Result<Vec<u8>> {
    if len > MAX_RESPONSE_BODY {
        return Err(too_large());
    }
    if body.len() < len {
        let have = body.len();
        body.resize(len, 0);
        conn.read_exact(&mut body[have..])?;
    }
    body.truncate(len);
    Ok(body)
}

fn read_to_eof(conn: &mut impl Read, mut body: Vec<u8>) -> io::Result<Vec<u8>> {
    let mut chunk = [0u8; 4096];
    loop {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(body);
        }
        if body.len() + n > MAX_RESPONSE_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk[..n]);
    }
}

/// Decodes a chunked body; `pending` holds bytes already read past the head.
pub fn read_chunked(conn: &mut impl Read, mut pending: Vec<u8>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut fill = |pending: &mut Vec<u8>| -> io::Result<()> {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside a chunked body"));
        }
        pending.extend_from_slice(&chunk[..n]);
        Ok(())
    };
    loop {
        let line_end = loop {
            if let Some(i) = pending.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            if pending.len() > 1024 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "bad chunk size line"));
            }
            fill(&mut pending)?;
        };
        let size_text = String::from_utf8_lossy(&pending[..line_end]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        pending.drain(..line_end + 2);
        if size == 0 {
            // Trailers (if any) end with an empty line; we do not need them.
            return Ok(body);
        }
        if body.len() + size > MAX_RESPONSE_BODY {
            return Err(too_large());
        }
        while pending.len() < size + 2 {
            fill(&mut pending)?;
        }
        body.extend_from_slice(&pending[..size]);
        pending.drain(..size + 2);
    }
}

/// One request on a fresh connection (`Connection: close`), for the local Lambda APIs.
pub fn request_once(
    url: &Url,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Option<Duration>,
) -> io::Result<Response> {
    let mut conn = connect(url, timeout.unwrap_or(Duration::from_secs(5)), None)?;
    conn.set_timeout(timeout)?;
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    all.push(("Connection", "close"));
    write_request(&mut conn, method, &url.host_header(), &format!("{}{path}", url.path), &all, body)?;
    read_response(&mut conn)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed without a response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_urls_we_meet() {
        let u = Url::parse("127.0.0.1:9001").unwrap();
        assert_eq!((u.tls, u.host.as_str(), u.port, u.path.as_str()), (false, "127.0.0.1", 9001, ""));
        let u = Url::parse("https://dynamodb.eu-west-1.amazonaws.com").unwrap();
        assert_eq!((u.tls, u.port, u.host_header()), (true, 443, "dynamodb.eu-west-1.amazonaws.com".to_owned()));
        let u = Url::parse("http://localhost:4566/").unwrap();
        assert_eq!((u.port, u.path.as_str(), u.to_string()), (4566, "", "http://localhost:4566".to_owned()));
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://x:port").is_err());
        assert!(Url::parse("http://").is_err());
    }

    #[test]
    fn reads_content_length_chunked_and_eof_bodies() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhelloEXTRA";
        let r = read_response(&mut &raw[..]).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice(), r.header("x-a")), (200, &b"hello"[..], Some("b")));
        let raw = b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\n\r\n";
        let r = read_response(&mut &raw[..]).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (400, &b"abcdefg"[..]));
        let raw = b"HTTP/1.0 500 Oops\r\n\r\nall of it";
        assert_eq!(read_response(&mut &raw[..]).unwrap().unwrap().body, b"all of it");
        assert_eq!(read_response(&mut &b""[..]).unwrap(), None);
        assert!(read_response(&mut &b"HTTP/1.1 200"[..]).is_err());
    }

    #[test]
    fn writes_one_request_with_length() {
        let mut out = Vec::new();
        write_request(&mut out, "POST", "h:1", "/x", &[("A", "b")], b"{}").unwrap();
        assert_eq!(out, b"POST /x HTTP/1.1\r\nHost: h:1\r\nContent-Length: 2\r\nA: b\r\n\r\n{}");
    }
}
