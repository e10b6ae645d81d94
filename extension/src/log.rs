//! A tiny leveled logger: one JSON object per line on stderr, which Lambda ships to the
//! function's log group.
//!
//! Not `tracing` + `tracing-subscriber`: the extension logs a handful of lines per
//! environment lifetime (start problems, write failures, the shutdown summary), and every KB
//! of the binary and every line of output is paid by the customer. WARN by default; never a
//! line per telemetry record.

use std::fmt::Display;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// How much to log, from nothing to everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Off = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl Level {
    /// Accepts `off`, `error`, `warn`/`warning`, `info`, `debug` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "none" => Some(Self::Off),
            "error" => Some(Self::Error),
            "warn" | "warning" => Some(Self::Warn),
            "info" => Some(Self::Info),
            "debug" => Some(Self::Debug),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "OFF",
            Self::Error => "ERROR",
            Self::Warn => "WARN",
            Self::Info => "INFO",
            Self::Debug => "DEBUG",
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level != Level::Off && level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Formats one line: `{"level":"WARN","logger":"autopilot-extension","msg":"…","key":value…}`.
/// Values that are plain unsigned integers are written as JSON numbers, others as strings.
pub fn format_line(level: Level, msg: &str, fields: &[(&str, &dyn Display)]) -> String {
    let mut line = String::with_capacity(96);
    line.push_str("{\"level\":\"");
    line.push_str(level.as_str());
    line.push_str("\",\"logger\":\"autopilot-extension\",\"msg\":");
    push_json_string(&mut line, msg);
    for (key, value) in fields {
        line.push(',');
        push_json_string(&mut line, key);
        line.push(':');
        let value = value.to_string();
        if !value.is_empty() && value.len() < 20 && value.bytes().all(|b| b.is_ascii_digit()) {
            line.push_str(&value);
        } else {
            push_json_string(&mut line, &value);
        }
    }
    line.push('}');
    line
}

fn push_json_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::from(s).to_string());
}

/// Writes one line if `level` is enabled.
pub fn log(level: Level, msg: &str, fields: &[(&str, &dyn Display)]) {
    if enabled(level) {
        let mut line = format_line(level, msg, fields);
        line.push('\n');
        // A failed log write must never take the extension down.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

pub fn error(msg: &str, fields: &[(&str, &dyn Display)]) {
    log(Level::Error, msg, fields);
}

pub fn warn(msg: &str, fields: &[(&str, &dyn Display)]) {
    log(Level::Warn, msg, fields);
}

pub fn info(msg: &str, fields: &[(&str, &dyn Display)]) {
    log(Level::Info, msg, fields);
}

pub fn debug(msg: &str, fields: &[(&str, &dyn Display)]) {
    log(Level::Debug, msg, fields);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_with_typed_fields() {
        let line = format_line(Level::Warn, "stats not written", &[("items", &3), ("reason", &"throttled \"x\"")]);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["items"], 3);
        assert_eq!(v["reason"], "throttled \"x\"");
    }

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(Level::parse("WARNING"), Some(Level::Warn));
        assert_eq!(Level::parse(" debug "), Some(Level::Debug));
        assert_eq!(Level::parse("loud"), None);
        assert!(Level::Error < Level::Warn && Level::Warn < Level::Debug);
    }
}
