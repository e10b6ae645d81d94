//! UTC calendar arithmetic and timestamp parsing, enough for log lines, traces and reports.
//!
//! Written here rather than pulling in chrono/time: the core needs two conversions (civil date
//! ↔ days since the epoch, Howard Hinnant's well-known algorithms) and one lenient timestamp
//! parser; a date crate would add a dependency to every Lambda for that.

use crate::domain::Minute;

/// Why a timestamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {input:?}: {reason}")]
pub struct TimestampError {
    pub input: String,
    pub reason: &'static str,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01: (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD`, hour and minute of a [`Minute`].
pub(crate) fn civil_from_minute(m: Minute) -> (String, i64, i64) {
    let days = m.0.div_euclid(Minute::PER_DAY);
    let (y, mo, d) = civil_from_days(days);
    let mod_ = m.minute_of_day();
    (format!("{y:04}-{mo:02}-{d:02}"), mod_ / 60, mod_ % 60)
}

/// Parses `YYYY-MM-DD[ T]HH:MM[:SS[.fraction]][Z|±HH:MM]` into Unix milliseconds (UTC when
/// no offset is given), or a plain number of Unix seconds / milliseconds (≥ 1e11 is read as
/// milliseconds).
pub fn parse_timestamp_ms(input: &str) -> Result<i64, TimestampError> {
    let s = input.trim();
    let err = |reason| TimestampError { input: input.to_owned(), reason };
    if s.is_empty() {
        return Err(err("empty"));
    }
    if let Ok(n) = s.parse::<f64>() {
        if !n.is_finite() || n < 0.0 {
            return Err(err("a numeric timestamp must be a non-negative Unix time"));
        }
        return Ok(if n >= 1e11 { n as i64 } else { (n * 1000.0).round() as i64 });
    }
    let b = s.as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let year = digits(0, 4).ok_or_else(|| err("expected a 4-digit year"))?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return Err(err("expected YYYY-MM-DD"));
    }
    let month = digits(5, 2).ok_or_else(|| err("expected a 2-digit month"))? as u32;
    let day = digits(8, 2).ok_or_else(|| err("expected a 2-digit day"))? as u32;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(err("no such calendar date"));
    }
    let mut ms = days_from_civil(year, month, day) * 86_400_000;
    let mut rest = &s[10..];
    if rest.is_empty() {
        return Ok(ms);
    }
    if !rest.starts_with([' ', 'T', 't']) {
        return Err(err("expected ' ' or 'T' between date and time"));
    }
    rest = &rest[1..];
    let (clock, zone) = split_zone(rest);
    let mut fields = clock.splitn(3, ':');
    let hour = clock_field(fields.next(), 23).ok_or_else(|| err("expected an hour 00-23"))?;
    let minute = clock_field(fields.next(), 59).ok_or_else(|| err("expected minutes 00-59"))?;
    let (sec, frac_ms) = match fields.next() {
        None => (0, 0.0),
        Some(sec) => {
            let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
            let whole = clock_field(Some(whole), 60).ok_or_else(|| err("expected seconds 00-60"))?;
            let frac_ms = if frac.is_empty() {
                0.0
            } else if frac.bytes().all(|c| c.is_ascii_digit()) {
                format!("0.{frac}").parse::<f64>().map_err(|_| err("bad fraction of a second"))? * 1000.0
            } else {
                return Err(err("bad fraction of a second"));
            };
            (whole, frac_ms)
        }
    };
    ms += (hour * 3_600 + minute * 60 + sec) * 1_000 + frac_ms.round() as i64;
    ms -= zone_offset_minutes(zone).ok_or_else(|| err("bad time-zone offset"))? * 60_000;
    Ok(ms)
}

fn clock_field(field: Option<&str>, max: i64) -> Option<i64> {
    let f = field?;
    if f.len() != 2 || !f.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    f.parse().ok().filter(|v| *v <= max)
}

fn split_zone(s: &str) -> (&str, &str) {
    if let Some(stripped) = s.strip_suffix(['Z', 'z']) {
        return (stripped, "Z");
    }
    match s.rfind(['+', '-']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

fn zone_offset_minutes(zone: &str) -> Option<i64> {
    if zone.is_empty() || zone == "Z" {
        return Some(0);
    }
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let body = zone[1..].replace(':', "");
    if body.len() != 4 || !body.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let h: i64 = body[..2].parse().ok()?;
    let m: i64 = body[2..].parse().ok()?;
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_days() {
        for days in [-800_000, -1, 0, 1, 11_016, 20_419, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
    }

    #[test]
    fn parses_the_formats_of_the_shipped_traces() {
        // Values cross-checked with Python's datetime.
        assert_eq!(parse_timestamp_ms("2014-04-10 00:04:00").unwrap(), 1_397_088_240_000);
        assert_eq!(parse_timestamp_ms("2023-11-16 18:15:46.6805900").unwrap(), 1_700_158_546_681);
        assert_eq!(parse_timestamp_ms("2026-11-27T15:41:00Z").unwrap(), 1_795_794_060_000);
        assert_eq!(parse_timestamp_ms("2026-11-27T17:41:00+02:00").unwrap(), 1_795_794_060_000);
        assert_eq!(parse_timestamp_ms("2026-11-27").unwrap(), 1_795_737_600_000);
        assert_eq!(parse_timestamp_ms("1795794060").unwrap(), 1_795_794_060_000);
        assert_eq!(parse_timestamp_ms("1795794060000").unwrap(), 1_795_794_060_000);
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        for bad in [
            "",
            "yesterday",
            "2014-13-01 00:00:00",
            "2014-02-30",
            "2014-04-10 25:00:00",
            "2014-04-10 00:04:00+99:00",
            "2014-04-10x00:00",
        ] {
            let e = parse_timestamp_ms(bad).unwrap_err();
            assert_eq!(e.input, bad);
        }
    }
}
