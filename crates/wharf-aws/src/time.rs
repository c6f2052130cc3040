//! The timestamp formats AWS puts on the wire: SigV4's ISO 8601 basic form
//! (`20150830T123600Z`) and the extended form in XML and JSON bodies
//! (`2015-08-30T12:36:00Z`). Civil-date arithmetic after Howard Hinnant's algorithms.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn split(t: i64) -> (i64, u32, u32, i64, i64, i64) {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    (y, m, d, secs / 3600, (secs % 3600) / 60, secs % 60)
}

/// Formats seconds since the epoch as `YYYYMMDDTHHMMSSZ` (SigV4's `X-Amz-Date`).
pub fn format_amz_date(t: i64) -> String {
    let (y, m, d, hh, mm, ss) = split(t);
    format!("{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}Z")
}

/// Formats seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (ISO 8601, as in XML bodies).
pub fn format_iso8601(t: i64) -> String {
    let (y, m, d, hh, mm, ss) = split(t);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn from_parts(y: i64, mo: i64, d: i64, hh: i64, mi: i64, ss: i64) -> Option<i64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || hh > 23 || mi > 59 || ss > 60 {
        return None;
    }
    Some(days_from_civil(y, mo as u32, d as u32) * 86400 + hh * 3600 + mi * 60 + ss)
}

/// Parses `YYYYMMDDTHHMMSSZ` into seconds since the epoch.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    if s.len() != 16 || !s.is_ascii() || &s[8..9] != "T" || &s[15..16] != "Z" {
        return None;
    }
    from_parts(num(&s[0..4])?, num(&s[4..6])?, num(&s[6..8])?, num(&s[9..11])?, num(&s[11..13])?, num(&s[13..15])?)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` into seconds since the epoch.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    if s.len() < 20 || !s.is_ascii() || !s.ends_with('Z') {
        return None;
    }
    let b = s.as_bytes();
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    from_parts(num(&s[0..4])?, num(&s[5..7])?, num(&s[8..10])?, num(&s[11..13])?, num(&s[14..16])?, num(&s[17..19])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_round_trip_through_seconds() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(t, 1440938160);
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        assert_eq!(format_iso8601(t), "2015-08-30T12:36:00Z");
        assert_eq!(parse_iso8601("2015-08-30T12:36:00Z"), Some(t));
        assert_eq!(parse_iso8601("2015-08-30T12:36:00.123Z"), Some(t));
        assert_eq!(format_amz_date(951782400), "20000229T000000Z");
    }

    #[test]
    fn malformed_dates_are_rejected() {
        for s in ["", "20150830T1236Z", "2015083XT123600Z", "20151330T123600Z", "20150830 123600Z"] {
            assert_eq!(parse_amz_date(s), None, "{s}");
        }
    }
}
