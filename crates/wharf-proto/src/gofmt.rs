//! Go's text forms of times and durations, as Kubernetes' JSON uses them.

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `time.Unix(seconds, nanos).UTC()` formatted as RFC 3339 (`metav1.Time`), or with exactly
/// six fractional digits (`metav1.MicroTime`, Go's `RFC3339Micro`).
pub(crate) fn format_time(seconds: i64, nanos: i64, micro: bool) -> String {
    // time.Unix normalizes nanoseconds outside [0, 1e9).
    let seconds = seconds.saturating_add(nanos.div_euclid(NANOS_PER_SEC));
    let nanos = nanos.rem_euclid(NANOS_PER_SEC);
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let year = if y < 0 {
        format!("-{:04}", -y)
    } else {
        format!("{y:04}")
    };
    if micro {
        format!(
            "{year}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06}Z",
            nanos / 1000
        )
    } else {
        format!("{year}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }
}

/// Parses an RFC 3339 time (`2024-01-02T03:04:05Z`, fractional seconds and numeric
/// offsets allowed) into Unix seconds and nanoseconds.
pub(crate) fn parse_time(s: &str) -> Option<(i64, i32)> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = s.get(start..i)?;
        if frac.is_empty() {
            return None;
        }
        let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = digits.parse().ok()?;
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        b'+' | b'-' if i + 6 == b.len() && b[i + 3] == b':' => {
            let sign = if b[i] == b'-' { -1 } else { 1 };
            sign * (num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60)
        }
        _ => return None,
    };
    // Both casts are exact: month and day were range-checked above.
    let days = days_from_civil(y, mo as u32, d as u32);
    let seconds = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    Some((seconds, i32::try_from(nanos).ok()?))
}

/// `time.Duration(nanos).String()`: `1h0m0s`, `1m30s`, `1.5s`, `500ms`, `2µs`, `0s`.
pub(crate) fn format_duration(nanos: i64) -> String {
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            0 => return "0s".to_string(),
            1..=999 => (0, "ns"),
            1_000..=999_999 => (3, "µs"),
            _ => (6, "ms"),
        };
        let scale = 10u64.pow(prec);
        out.push_str(&(u / scale).to_string());
        push_frac(&mut out, u % scale, prec);
        out.push_str(unit);
    } else {
        let secs = u / 1_000_000_000;
        let frac = u % 1_000_000_000;
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if secs >= 60 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&s.to_string());
        push_frac(&mut out, frac, 9);
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Appends `.ddd` for `frac / 10^prec` without trailing zeros; nothing when zero.
fn push_frac(out: &mut String, frac: u64, prec: u32) {
    if frac == 0 {
        return;
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    out.push('.');
    out.push_str(digits.trim_end_matches('0'));
}

/// `time.ParseDuration`: a sequence of decimal numbers with units (`ns us µs ms s m h`).
pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let v = total.round() as i64;
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_like_go() {
        assert_eq!(format_time(0, 0, false), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_time(1_704_164_645, 123_456_789, false),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            format_time(1_704_164_645, 123_456_789, true),
            "2024-01-02T03:04:05.123456Z"
        );
        assert_eq!(format_time(951_782_400, 0, false), "2000-02-29T00:00:00Z");
        assert_eq!(format_time(-1, 0, false), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn times_parse_back() {
        assert_eq!(parse_time("2024-01-02T03:04:05Z"), Some((1_704_164_645, 0)));
        assert_eq!(
            parse_time("2024-01-02T03:04:05.123456Z"),
            Some((1_704_164_645, 123_456_000))
        );
        assert_eq!(
            parse_time("2024-01-02T04:04:05+01:00"),
            Some((1_704_164_645, 0))
        );
        assert_eq!(parse_time("2024-01-02"), None);
    }

    #[test]
    fn durations_format_like_go() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(format_duration(90_000_000_000), "1m30s");
        assert_eq!(format_duration(1_500_000_000), "1.5s");
        assert_eq!(format_duration(500_000_000), "500ms");
        assert_eq!(format_duration(1_500), "1.5µs");
        assert_eq!(format_duration(7), "7ns");
        assert_eq!(format_duration(-61_000_000_000), "-1m1s");
        assert_eq!(format_duration(3_661_000_000_001), "1h1m1.000000001s");
    }

    #[test]
    fn durations_parse_back() {
        assert_eq!(parse_duration("1h0m0s"), Some(3_600_000_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("5x"), None);
    }
}
