//! A batch (a JSON array of records), each record read on its own: a broken record is counted
//! and the reading resumes at the next record, so it cannot take its neighbours with it.
//!
//! Two ways to find where each record ends:
//! - Lambda's own layout (`[{"time":"…","type":"…","record":{…}},{"time":"…",…}]`, the key
//!   order of the Telemetry API schema reference): a record begins at `{"time":"` preceded by
//!   `,` and `}`. That byte sequence cannot occur inside a JSON string (its quotes would be
//!   escaped), so a vector substring search finds the candidates, and each record's head is
//!   read without its tail (trace headers, spans: most of its bytes) ever being looked at.
//!   This rests on no object nested in a record beginning with a `time` key (true of every
//!   platform record documented), and on each record ending `}}` (its `record` object, last,
//!   then its own brace): a `{"time":"` found anywhere but after `},`, or a record ending
//!   otherwise, shows something else (a nested object, a stray element), and the rest of the
//!   batch is then read the exact way. What this cannot see is a record that does not begin
//!   with `time` yet ends `}}`, right after a record of Lambda's: it would be taken for part
//!   of the one before. And a record broken only in its tail counts here, while the exact way
//!   counts it as malformed.
//! - Any other batch: one exact pass, each record read and the rest of it skipped by counting
//!   brackets and jumping over strings.

use std::sync::LazyLock;

use memchr::memmem::Finder;

use super::json::{Scan, string_end};
use super::{BatchStats, Malformed, Reader, Record};

/// How every record Lambda sends begins.
const LAMBDA_RECORD_START: &[u8] = br#"{"time":""#;

/// Calls `each` with every record of a batch body (a JSON array); counts unknown and
/// malformed records. A body that is not an array counts as one malformed record.
pub fn for_each_record(body: &[u8], mut each: impl FnMut(&Record)) -> BatchStats {
    let mut stats = BatchStats::default();
    let mut s = Scan::new(body);
    if s.next_byte(true) != Some(b'[') {
        stats.malformed += 1;
        return stats;
    }
    if s.next_byte(false) == Some(b']') {
        return stats;
    }
    let mut reader = Reader::default();
    // One record, overwritten by each element in turn.
    let mut record = Record::Ignored;
    let mut count = |read: Result<(), Malformed>, record: &Record| {
        stats.records += 1;
        match (read, record) {
            (Ok(()), Record::Unknown) => stats.unknown += 1,
            (Ok(()), record) => each(record),
            (Err(Malformed), _) => stats.malformed += 1,
        }
    };
    if !body[s.offset()..].starts_with(LAMBDA_RECORD_START) {
        exact(body, s, &mut reader, &mut record, count);
        return stats;
    }
    static FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(LAMBDA_RECORD_START));
    let mut start = s.offset();
    let mut from = start + 1;
    while let Some(off) = FINDER.find(&body[from..]) {
        let next = from + off;
        let element = body[start..next].trim_ascii_end().strip_suffix(b",").map(<[u8]>::trim_ascii_end);
        let Some(element) = element.filter(|e| e.ends_with(b"}}")) else {
            // Not Lambda's layout after all: the rest, from this record on, the exact way.
            exact(body, s.fork_at(start), &mut reader, &mut record, count);
            return stats;
        };
        let read = reader.element(&mut Scan::head_only(element), &mut record);
        count(read, &record);
        (start, from) = (next, next + 1);
    }
    // The last record runs to the array's `]` (or to the end of a truncated body).
    let last = body[start..].trim_ascii_end();
    let last = last.strip_suffix(b"]").unwrap_or(last).trim_ascii_end();
    if !last.ends_with(b"}}") {
        exact(body, s.fork_at(start), &mut reader, &mut record, count);
        return stats;
    }
    let read = reader.element(&mut Scan::head_only(last), &mut record);
    count(read, &record);
    stats
}

/// The exact pass: each record read where it starts, the reader left after it.
fn exact<'a>(
    body: &'a [u8],
    mut s: Scan<'a>,
    reader: &mut Reader,
    record: &mut Record,
    mut count: impl FnMut(Result<(), Malformed>, &Record),
) {
    loop {
        let start = s.offset();
        let read = reader.element(&mut s, record);
        // A record must be followed by `,` or `]` (or the end of a truncated body).
        let read = match s.next_byte(false) {
            Some(b',' | b']') | None => read,
            Some(_) => Err(Malformed),
        };
        if read.is_err() {
            s = s.fork_at(resync(body, start));
        }
        count(read, record);
        match s.next_byte(true) {
            Some(b',') => {}
            _ => return,
        }
    }
}

/// Where the element that starts at `start` ends (at its `,` or `]`, or the end of the body),
/// found without trusting it to be valid: strings are jumped over and brackets counted,
/// whatever their kind, so reading resumes where the array's next element begins.
fn resync(body: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < body.len() {
        match body[i] {
            b'"' => match string_end(body, i + 1) {
                Some(end) => i = end,
                None => return body.len(),
            },
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => depth -= 1,
            b',' | b']' if depth == 0 => return i,
            _ => {}
        }
        i += 1;
    }
    body.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(body: &str) -> BatchStats {
        for_each_record(body.as_bytes(), |_| {})
    }

    fn start(t: &str) -> String {
        format!(r#"{{"time":"{t}","type":"platform.start","record":{{"requestId":"a"}}}}"#)
    }

    /// The same record with its members in another order (read by the exact pass).
    fn start_reordered(t: &str) -> String {
        format!(r#"{{"record":{{"requestId":"a"}},"type":"platform.start","time":"{t}"}}"#)
    }

    #[test]
    fn every_element_is_one_record_however_tricky_its_strings() {
        let body = r#" [ {"a":"x,]}\"["}, [1,[2]] ,"s" , 3 ] "#;
        assert_eq!(stats(body), BatchStats { records: 4, unknown: 0, malformed: 4 });
        assert_eq!(stats("{}"), BatchStats { records: 0, unknown: 0, malformed: 1 });
        assert_eq!(stats(" [ ] "), BatchStats::default());
    }

    #[test]
    fn a_broken_record_does_not_take_its_neighbours_with_it() {
        for (a, b) in [
            (start("2024-01-01T00:00:00.000Z"), start("2024-01-01T00:00:01.000Z")),
            (start_reordered("2024-01-01T00:00:00.000Z"), start_reordered("2024-01-01T00:00:01.000Z")),
        ] {
            for broken in [
                r#"{"time":"x","type"}"#,
                r#"{"time":"x","type":"platform.report","record":{"metrics":{"durationMs":[]}}}"#,
                r#"{"time":"x","type":"platform.report","record":{"metrics":{"billedDurationMs":1}}}"#,
                r#"{"record":{},"time":"x"}"#,
                r#"{"time":"x","type":"platform.start"} trailing"#,
                r#"42"#,
            ] {
                let body = format!("[{a},{broken},{b}]");
                let mut seen = 0;
                let got = for_each_record(body.as_bytes(), |_| seen += 1);
                assert_eq!((got, seen), (BatchStats { records: 3, unknown: 0, malformed: 1 }, 2), "{body}");
            }
            // (Unbalanced brackets cannot be told apart from nesting in the exact pass: what
            // follows them may be taken as part of the broken record.)
            // Truncated: the complete records count, the broken tail is one malformed record.
            let truncated = format!(r#"[{a},{{"time":"t2","ty"#);
            assert_eq!(stats(&truncated), BatchStats { records: 2, unknown: 0, malformed: 1 }, "{truncated}");
            assert_eq!(stats(&format!("[{a}")), BatchStats { records: 1, unknown: 0, malformed: 0 });
        }
    }

    #[test]
    fn in_lambdas_layout_a_record_is_read_by_its_head_alone() {
        // Broken only after what the stats need: counted in Lambda's layout (the tail is
        // never read), malformed in the exact pass.
        for tail_broken in [
            r#"{"time":"x","type":"platform.start","record":{"requestId":"a"]}}"#,
            r#"{"time":"x","type":"platform.start","record":{"requestId":"a"}}}"#,
        ] {
            let a = start("2024-01-01T00:00:00.000Z");
            assert_eq!(stats(&format!("[{a},{tail_broken},{a}]")), BatchStats { records: 3, unknown: 0, malformed: 0 });
            let b = start_reordered("2024-01-01T00:00:00.000Z");
            let exact = stats(&format!("[{b},{tail_broken},{b}]"));
            assert_eq!((exact.records, exact.malformed), (3, 1), "{tail_broken}");
        }
    }

    #[test]
    fn a_nested_object_beginning_with_time_sends_the_batch_to_the_exact_pass() {
        // A record type to come, with an array of objects that begin with `time`: cut at
        // them, the second one would pass for a record of its own.
        let nested = r#"{"time":"t","type":"platform.future","record":{"items":[{"time":"t1","type":"platform.start"},{"time":"t2","type":"platform.start"}]}}"#;
        let a = start("2024-01-01T00:00:00.000Z");
        let mut records = Vec::new();
        let got = for_each_record(format!("[{a},{nested},{a}]").as_bytes(), |r| records.push(r.clone()));
        assert_eq!(got, BatchStats { records: 3, unknown: 1, malformed: 0 });
        assert_eq!(records, [Record::Start, Record::Start]);
    }
}
