//! Record timestamps: Lambda's `YYYY-MM-DDTHH:MM:SS.fffZ` read without allocating, with the
//! minute remembered (the records of a batch share a few minutes); anything else goes to the
//! core's lenient parser, which this agrees with exactly.

use autopilot_core::calendar::{civil_from_days, days_from_civil, parse_timestamp_ms};

/// Length of `YYYY-MM-DDTHH:MM:`.
const MINUTE_PREFIX: usize = 17;

/// The last minute read: its prefix and its Unix ms.
#[derive(Debug, Default)]
pub struct Clock {
    prefix: [u8; MINUTE_PREFIX],
    minute_ms: Option<i64>,
}

impl Clock {
    /// Unix ms of a record's `time`, rounded to the ms as the core's parser rounds it.
    pub fn ms(&mut self, b: &[u8]) -> Option<i64> {
        if b.len() > MINUTE_PREFIX {
            let (prefix, rest) = b.split_at(MINUTE_PREFIX);
            let minute = match self.minute_ms {
                Some(ms) if prefix == self.prefix => Some(ms),
                _ => minute_ms(prefix),
            };
            if let (Some(minute), Some(within)) = (minute, ms_within_minute(rest)) {
                self.prefix.copy_from_slice(prefix);
                self.minute_ms = Some(minute);
                return Some(minute + within);
            }
        }
        parse_timestamp_ms(std::str::from_utf8(b).ok()?).ok()
    }
}

fn digits(d: &[u8]) -> Option<i64> {
    d.iter().all(u8::is_ascii_digit).then(|| d.iter().fold(0i64, |n, &c| n * 10 + i64::from(c - b'0')))
}

/// `YYYY-MM-DDTHH:MM:` → Unix ms of that minute.
fn minute_ms(p: &[u8]) -> Option<i64> {
    if p.len() != MINUTE_PREFIX || p[4] != b'-' || p[7] != b'-' || p[10] != b'T' || p[13] != b':' || p[16] != b':' {
        return None;
    }
    let (y, mo, d) = (digits(&p[0..4])?, digits(&p[5..7])?, digits(&p[8..10])?);
    let (h, mi) = (digits(&p[11..13])?, digits(&p[14..16])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h >= 24 || mi >= 60 {
        return None;
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    // A day the month does not have (Feb 30th) comes back as another date.
    if civil_from_days(days) != (y, mo as u32, d as u32) {
        return None;
    }
    Some(days * 86_400_000 + (h * 60 + mi) * 60_000)
}

/// `SS[.fff]Z` → ms into the minute (a leap second 60 allowed). Other fractions go to the
/// core's parser (its rounding of them is its own).
fn ms_within_minute(r: &[u8]) -> Option<i64> {
    let (&b'Z', body) = r.split_last()? else { return None };
    let (secs, frac) = body.split_at_checked(2)?;
    let s = digits(secs)?;
    if s > 60 {
        return None;
    }
    let ms = match frac {
        [] => 0,
        [b'.', f @ ..] if f.len() == 3 => digits(f)?,
        _ => return None,
    };
    Some(s * 1_000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_timestamps_agree_with_the_core_parser_with_or_without_the_remembered_minute() {
        let mut clock = Clock::default();
        for t in [
            "2022-10-12T00:01:15.000Z",
            "2022-10-12T00:01:59.9996Z",
            "2022-10-12T00:01:07Z",
            "2026-11-27T15:41:00Z",
            "2024-02-29T23:59:59.9999Z",
            "2024-02-29T23:59:60Z",
            "2022-10-12T00:01:15.5Z",
            "2022-10-12T00:01:15.123456789123Z",
            "1665532875000",
            "2022-10-12T00:01:1Z",
            "2022-10-12T00:01:15.Z",
            "2022-10-12T00:01:15+01:00",
            "2022-13-12T00:01:15Z",
            "2023-02-29T00:01:15.000Z",
            "2022-10-12T00:01:15.0025Z",
        ] {
            let expected = parse_timestamp_ms(t).ok();
            assert_eq!(clock.ms(t.as_bytes()), expected, "{t}");
            assert_eq!(Clock::default().ms(t.as_bytes()), expected, "{t} (fresh)");
        }
    }
}
