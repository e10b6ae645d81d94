//! The Telemetry API destination: our own tolerant HTTP listener.
//!
//! Not lambda-extension's: that one answers 400 to a batch holding a record type it does not
//! know (losing the whole batch), binds 0.0.0.0 and unwraps on re-bind. This one binds the
//! sandbox's own address (`sandbox.localdomain`, the only host the Telemetry API delivers
//! to; `127.0.0.1` where that name does not resolve, as in tests), answers 200 to every
//! batch before looking at it, and hands the body to a sink that parses each record on its
//! own — in the order the batches were answered, across connections. A panic in the sink is
//! contained to that batch.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
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
        let handoff =
            Arc::new(Handoff { sink, next_ticket: AtomicU64::new(0), turn: Mutex::new(0), cv: Condvar::new() });
        thread::Builder::new()
            .name("telemetry-listener".into())
            .stack_size(STACK_BYTES)
            .spawn(move || self.serve(&handoff))
    }

    fn serve(self, handoff: &Arc<Handoff>) {
        let active = Arc::new(AtomicUsize::new(0));
        for stream in self.socket.incoming() {
            let Ok(stream) = stream else { continue };
            if active.fetch_add(1, Ordering::AcqRel) < MAX_CONNECTION_THREADS {
                let (handoff, active_in) = (Arc::clone(handoff), Arc::clone(&active));
                let spawned =
                    thread::Builder::new().name("telemetry-conn".into()).stack_size(STACK_BYTES).spawn(move || {
                        serve_connection(stream, &handoff);
                        active_in.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    active.fetch_sub(1, Ordering::AcqRel);
                }
            } else {
                serve_connection(stream, handoff);
                active.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

/// Hands batches to the sink in the order they were answered, whichever connection brought
/// them. The Telemetry API sends a batch once the previous one is answered, so that is the
/// order Lambda sent them in — the order the aggregator needs (an INIT report before the
/// invocation it delayed). Answering first and parsing after would otherwise let a batch on
/// another connection overtake one still waiting to be parsed.
struct Handoff {
    sink: Sink,
    next_ticket: AtomicU64,
    /// The ticket whose batch goes to the sink next.
    turn: Mutex<u64>,
    cv: Condvar,
}

impl Handoff {
    /// Answers a request whose body has been read, then hands the body to the sink in its
    /// turn (not at all if the answer could not be written). Every ticket taken is used, so
    /// the line never stalls.
    fn answer_then_deliver(&self, stream: &mut TcpStream, answer: &[u8], delivery: Delivery<'_>) -> io::Result<()> {
        let ticket = self.next_ticket.fetch_add(1, Ordering::AcqRel);
        let answered = stream.write_all(answer);
        let mut turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        while *turn != ticket {
            turn = self.cv.wait(turn).unwrap_or_else(PoisonError::into_inner);
        }
        drop(turn);
        if answered.is_ok() && catch_unwind(AssertUnwindSafe(|| (self.sink)(delivery))).is_err() {
            log::error("telemetry batch handler panicked; batch skipped", &[]);
        }
        *self.turn.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.cv.notify_all();
        answered
    }
}

/// Bytes read from one connection: `data[start..end]` is what has not been consumed yet.
/// `data` only grows (to the largest request seen, at most [`MAX_BODY`] + a head) and is never
/// cleared: the kernel copies each batch straight into it, with no zero-fill, no second copy
/// and no allocation in steady state.
struct ConnBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl ConnBuf {
    fn pending(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Makes room for `need` bytes from `start` (moving what is pending to the front).
    fn reserve(&mut self, need: usize) {
        if self.start + need > self.data.len() {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if need > self.data.len() {
                self.data.resize(need.next_power_of_two().min(MAX_BODY + MAX_HEAD).max(need), 0);
            }
        }
    }

    /// Reads from the socket until `need` bytes are pending; false on EOF.
    fn fill(&mut self, stream: &mut TcpStream, need: usize) -> io::Result<bool> {
        self.reserve(need);
        while self.end - self.start < need {
            // Read as much as there is room for: a batch arrives in a few large reads.
            let n = stream.read(&mut self.data[self.end..])?;
            if n == 0 {
                return Ok(false);
            }
            self.end += n;
        }
        Ok(true)
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

/// Serves requests on one keep-alive connection until the peer closes it.
fn serve_connection(mut stream: TcpStream, handoff: &Handoff) {
    let _ = stream.set_nodelay(true);
    let mut buf = ConnBuf { data: vec![0; 64 * 1024], start: 0, end: 0 };
    loop {
        match serve_one(&mut stream, &mut buf, handoff) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                log::debug("telemetry connection closed", &[("error", &e)]);
                return;
            }
        }
    }
}

/// What a request head says about its body.
struct Head {
    len: usize,
    content_length: usize,
    chunked: bool,
    close: bool,
}

/// Parses a request head; `Ok(None)` when more bytes are needed.
fn parse_head(bytes: &[u8]) -> Result<Option<Head>, ()> {
    let mut slots = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => {
            let mut head = Head { len, content_length: 0, chunked: false, close: req.version == Some(0) };
            for h in req.headers.iter() {
                let value = String::from_utf8_lossy(h.value);
                if h.name.eq_ignore_ascii_case("content-length") {
                    head.content_length = value.trim().parse().unwrap_or(0);
                } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                    head.chunked = value.to_ascii_lowercase().contains("chunked");
                } else if h.name.eq_ignore_ascii_case("connection") {
                    head.close = value.eq_ignore_ascii_case("close");
                }
            }
            Ok(Some(head))
        }
        Ok(httparse::Status::Partial) if bytes.len() <= MAX_HEAD => Ok(None),
        _ => Err(()),
    }
}

/// Reads one request, answers 200, hands the body to the sink. Returns whether to keep the
/// connection open.
fn serve_one(stream: &mut TcpStream, buf: &mut ConnBuf, handoff: &Handoff) -> io::Result<bool> {
    let head = loop {
        match parse_head(buf.pending()) {
            Ok(Some(head)) => break head,
            Ok(None) => {
                let need = buf.end - buf.start + 1;
                if !buf.fill(stream, need)? {
                    return Ok(false);
                }
            }
            // Not HTTP we can read: answer and close, never fail the sender with a 4xx.
            Err(()) => {
                stream.write_all(OK_CLOSE)?;
                return Ok(false);
            }
        }
    };
    buf.consume(head.len);
    let answer = if head.close { OK_CLOSE } else { OK };
    if head.chunked {
        let pending = buf.pending().to_vec();
        buf.consume(pending.len());
        let body = crate::http::read_chunked(stream, pending).ok();
        handoff.answer_then_deliver(stream, answer, body.as_deref().map_or(Delivery::Oversized, Delivery::Body))?;
    } else if head.content_length <= MAX_BODY {
        if !buf.fill(stream, head.content_length)? {
            return Ok(false);
        }
        handoff.answer_then_deliver(stream, answer, Delivery::Body(&buf.pending()[..head.content_length]))?;
        buf.consume(head.content_length);
    } else {
        // Read and discard, in buffer-sized steps.
        let mut left = head.content_length;
        while left > 0 {
            let step = left.min(64 * 1024);
            if !buf.fill(stream, step)? {
                return Ok(false);
            }
            buf.consume(step);
            left -= step;
        }
        handoff.answer_then_deliver(stream, answer, Delivery::Oversized)?;
    }
    Ok(!head.close)
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

    #[test]
    fn batches_reach_the_sink_in_the_order_they_were_answered_across_connections() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen_in = Arc::clone(&seen);
        let addr = start(Arc::new(move |d: Delivery<'_>| {
            let Delivery::Body(b) = d else { return };
            let text = String::from_utf8_lossy(b).into_owned();
            if text == "[1]" {
                // The first batch is slow to parse; the second, on another connection, is
                // answered meanwhile and must wait its turn.
                thread::sleep(std::time::Duration::from_millis(300));
            }
            seen_in.lock().unwrap().push(text);
        }));
        for body in ["[1]", "[2]", "[3]"] {
            let mut s = TcpStream::connect(&addr).unwrap();
            assert!(post(&mut s, body).starts_with("HTTP/1.1 200 OK"));
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while seen.lock().unwrap().len() < 3 && std::time::Instant::now() < deadline {
            thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(*seen.lock().unwrap(), ["[1]", "[2]", "[3]"]);
    }

    #[test]
    fn reads_large_pipelined_and_chunked_bodies_whole() {
        let seen = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
        let seen_in = Arc::clone(&seen);
        let addr = start(Arc::new(move |d: Delivery<'_>| {
            if let Delivery::Body(b) = d {
                seen_in.lock().unwrap().push(b.to_vec());
            }
        }));
        let big: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let request = |body: &[u8]| {
            let mut r = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
            r.extend_from_slice(body);
            r
        };
        let mut s = TcpStream::connect(&addr).unwrap();
        // Two requests in one write, the first larger than the initial buffer, then a small
        // one, then a chunked one.
        let mut bytes = request(&big);
        bytes.extend(request(b"[2]"));
        bytes.extend(request(&big[..70_000]));
        bytes.extend_from_slice(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[4]\r\n0\r\n\r\n",
        );
        s.write_all(&bytes).unwrap();
        let mut answers = Vec::new();
        while answers.windows(4).filter(|w| *w == b"200 ").count() < 4 {
            let mut chunk = [0u8; 1024];
            let n = s.read(&mut chunk).unwrap();
            assert!(n > 0, "connection closed early");
            answers.extend_from_slice(&chunk[..n]);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while seen.lock().unwrap().len() < 4 && std::time::Instant::now() < deadline {
            thread::sleep(std::time::Duration::from_millis(5));
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 4);
        assert!(seen[0] == big && seen[1] == b"[2]" && seen[2] == big[..70_000] && seen[3] == b"[4]");
    }
}
