//! The Telemetry API destination: our own tolerant HTTP listener.
//!
//! Not lambda-extension's: that one answers 400 to a batch holding a record type it does not
//! know (losing the whole batch), binds 0.0.0.0 and unwraps on re-bind. This one binds the
//! sandbox's own address (`sandbox.localdomain`, the only host the Telemetry API delivers
//! to; `127.0.0.1` where that name does not resolve, as in tests), answers 200 to every
//! batch before looking at it, and hands the body to a sink that parses each record on its
//! own. A panic in the sink is contained to that batch.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use crate::log;

/// The host name the Telemetry API accepts as a destination.
pub const SANDBOX_HOST: &str = "sandbox.localdomain";
/// Largest batch body read (Lambda's own maximum is 1 MiB; we subscribe with 256 KiB).
pub const MAX_BODY: usize = (1 << 20) + (64 << 10);
const MAX_HEAD: usize = 16 * 1024;
/// Connections served on their own thread at once; more are served on the accept thread.
const MAX_CONNECTION_THREADS: usize = 8;
/// Stack of a connection thread: enough for serde's recursion limit (128 levels).
const STACK_BYTES: usize = 256 * 1024;

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
const OK_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// What a batch delivery looked like to the sink.
#[derive(Debug, Clone, Copy)]
pub enum Delivery<'a> {
    Body(&'a [u8]),
    /// Larger than [`MAX_BODY`]; read and discarded.
    Oversized,
}

/// Receives every batch; must not block for long.
pub type Sink = Arc<dyn Fn(Delivery<'_>) + Send + Sync>;

/// A bound listener and the URI to subscribe with.
#[derive(Debug)]
pub struct Listener {
    socket: TcpListener,
    pub uri: String,
}

impl Listener {
    /// Binds an ephemeral port on the sandbox address (or 127.0.0.1 outside Lambda).
    pub fn bind() -> io::Result<Self> {
        let sandbox = (SANDBOX_HOST, 0).to_socket_addrs().ok().and_then(|mut a| a.find(SocketAddr::is_ipv4));
        let (ip, host) = match sandbox {
            Some(addr) => (addr.ip(), SANDBOX_HOST.to_owned()),
            None => (IpAddr::V4(Ipv4Addr::LOCALHOST), Ipv4Addr::LOCALHOST.to_string()),
        };
        let socket = TcpListener::bind((ip, 0))?;
        let port = socket.local_addr()?.port();
        Ok(Self { socket, uri: format!("http://{host}:{port}") })
    }

    /// Serves forever on a background thread.
    pub fn spawn(self, sink: Sink) -> io::Result<thread::JoinHandle<()>> {
        thread::Builder::new()
            .name("telemetry-listener".into())
            .stack_size(STACK_BYTES)
            .spawn(move || self.serve(&sink))
    }

    fn serve(self, sink: &Sink) {
        let active = Arc::new(AtomicUsize::new(0));
        for stream in self.socket.incoming() {
            let Ok(stream) = stream else { continue };
            if active.fetch_add(1, Ordering::AcqRel) < MAX_CONNECTION_THREADS {
                let (sink, active_in) = (Arc::clone(sink), Arc::clone(&active));
                let spawned =
                    thread::Builder::new().name("telemetry-conn".into()).stack_size(STACK_BYTES).spawn(move || {
                        serve_connection(stream, &sink);
                        active_in.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    active.fetch_sub(1, Ordering::AcqRel);
                }
            } else {
                serve_connection(stream, sink);
                active.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

/// Serves requests on one keep-alive connection until the peer closes it.
fn serve_connection(mut stream: TcpStream, sink: &Sink) {
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    // One body buffer per connection, reused: a fresh 256 KiB allocation per batch would be
    // an mmap/munmap and a hundred page faults each time (musl's allocator).
    let mut body: Vec<u8> = Vec::new();
    loop {
        match serve_one(&mut stream, &mut buf, &mut body, sink) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                log::debug("telemetry connection closed", &[("error", &e)]);
                return;
            }
        }
    }
}

/// Reads one request, answers 200, hands the body to the sink. Returns whether to keep the
/// connection open. `buf` holds bytes read past the previous request.
fn serve_one(stream: &mut TcpStream, buf: &mut Vec<u8>, body_buf: &mut Vec<u8>, sink: &Sink) -> io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let (head_len, content_length, chunked, close) = loop {
        if !buf.is_empty() {
            let mut slots = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut slots);
            match req.parse(buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let mut content_length = 0usize;
                    let (mut chunked, mut close) = (false, req.version == Some(0));
                    for h in req.headers.iter() {
                        let value = String::from_utf8_lossy(h.value);
                        if h.name.eq_ignore_ascii_case("content-length") {
                            content_length = value.trim().parse().unwrap_or(0);
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            chunked = value.to_ascii_lowercase().contains("chunked");
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            close = value.eq_ignore_ascii_case("close");
                        }
                    }
                    break (len, content_length, chunked, close);
                }
                Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => {}
                // Not HTTP we can read: answer and close, never fail the sender with a 4xx.
                _ => {
                    stream.write_all(OK_CLOSE)?;
                    return Ok(false);
                }
            }
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(false);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let mut rest = buf.split_off(head_len);
    std::mem::swap(buf, &mut rest);
    // `buf` now holds what followed the head.
    let mut oversized = false;
    let chunked_body = if chunked {
        let pending = std::mem::take(buf);
        let body = crate::http::read_chunked(stream, pending).ok();
        oversized = body.is_none();
        body
    } else if content_length <= MAX_BODY {
        // Read straight into the reused body buffer: one copy from the socket.
        body_buf.clear();
        let have = buf.len().min(content_length);
        body_buf.extend_from_slice(&buf[..have]);
        buf.drain(..have);
        if body_buf.len() < content_length {
            let filled = body_buf.len();
            body_buf.resize(content_length, 0);
            if stream.read_exact(&mut body_buf[filled..]).is_err() {
                return Ok(false);
            }
        }
        None
    } else {
        let mut left = content_length.saturating_sub(buf.len());
        buf.clear();
        while left > 0 {
            let n = stream.read(&mut chunk[..left.min(16 * 1024)])?;
            if n == 0 {
                return Ok(false);
            }
            left -= n;
        }
        oversized = true;
        None
    };
    stream.write_all(if close { OK_CLOSE } else { OK })?;
    let delivery = match (&chunked_body, oversized) {
        (_, true) => Delivery::Oversized,
        (Some(b), false) => Delivery::Body(b),
        (None, false) => Delivery::Body(&body_buf[..content_length]),
    };
    if catch_unwind(AssertUnwindSafe(|| sink(delivery))).is_err() {
        log::error("telemetry batch handler panicked; batch skipped", &[]);
    }
    Ok(!close)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn start(sink: Sink) -> String {
        let l = Listener::bind().unwrap();
        let uri = l.uri.clone();
        l.spawn(sink).unwrap();
        uri.trim_start_matches("http://").to_owned()
    }

    fn post(stream: &mut TcpStream, body: &str) -> String {
        let req = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(req.as_bytes()).unwrap();
        let mut resp = [0u8; 128];
        let n = stream.read(&mut resp).unwrap();
        String::from_utf8_lossy(&resp[..n]).into_owned()
    }

    #[test]
    fn answers_200_to_everything_over_keep_alive_and_survives_a_panicking_sink() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen_in = Arc::clone(&seen);
        let addr = start(Arc::new(move |d: Delivery<'_>| {
            let Delivery::Body(b) = d else { return };
            let text = String::from_utf8_lossy(b).into_owned();
            assert!(text != "panic", "the sink panics on purpose");
            seen_in.lock().unwrap().push(text);
        }));
        assert!(addr.starts_with("127.0.0.1:"), "sandbox.localdomain does not resolve here: {addr}");
        let mut s = TcpStream::connect(&addr).unwrap();
        for body in ["[1]", "panic", "not even json", "[2]"] {
            assert!(post(&mut s, body).starts_with("HTTP/1.1 200 OK"), "{body}");
        }
        // Give the sink of the last request time to run: it runs after the answer.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while seen.lock().unwrap().len() < 3 && std::time::Instant::now() < deadline {
            thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(*seen.lock().unwrap(), ["[1]", "not even json", "[2]"]);
    }
}
