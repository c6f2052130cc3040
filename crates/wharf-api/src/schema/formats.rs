//! The string formats kube-apiserver validates in custom resources (kube-openapi's `strfmt`
//! registry, restricted to the formats apiextensions keeps; all others are ignored).

use super::regex;

/// The formats apiextensions-apiserver (Kubernetes v1.32) keeps, after go-openapi's name
/// normalization (dashes removed). Any other `format` is stripped from the schema before
/// validation, whatever the field's type (so `int32` is not a format the validator sees).
const SUPPORTED_FORMATS: &[&str] = &[
    "bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac", "uuid", "uuid3", "uuid4", "uuid5", "isbn", "isbn10",
    "isbn13", "creditcard", "ssn", "hexcolor", "rgbcolor", "byte", "password", "date", "duration", "datetime",
];

/// go-openapi's format-name normalization.
pub(crate) fn normalize(name: &str) -> String {
    name.replace('-', "")
}

/// The format a schema node keeps once apiextensions strips unsupported ones
/// (`StripUnsupportedFormatsPostProcess`).
pub(crate) fn effective(format: &str) -> &str {
    if SUPPORTED_FORMATS.contains(&normalize(format).as_str()) {
        format
    } else {
        ""
    }
}

/// Whether `strfmt.Default` knows the format (so the format validator applies to strings).
pub(crate) fn is_known(format: &str) -> bool {
    !format.is_empty() && SUPPORTED_FORMATS.contains(&normalize(format).as_str())
}

fn re(pattern: &str, s: &str) -> bool {
    regex::matches(pattern, s).unwrap_or(false)
}

/// Whether `s` is valid for `format` (any spelling: `date-time`, `datetime`).
pub(crate) fn validates(format: &str, s: &str) -> bool {
    match normalize(format).as_str() {
        "bsonobjectid" => s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()),
        "uri" => is_request_uri(s),
        "email" => is_email(s),
        "hostname" => is_hostname(s),
        "ipv4" => parse_ip_sloppy(s).is_some() && s.contains('.'),
        "ipv6" => s.parse::<std::net::IpAddr>().is_ok() && s.contains(':'),
        "cidr" => is_cidr(s),
        "mac" => is_mac(s),
        "uuid" => re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", s),
        "uuid3" => re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$", s),
        "uuid4" => re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", s),
        "uuid5" => re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", s),
        "isbn" => is_isbn(s, 10) || is_isbn(s, 13),
        "isbn10" => is_isbn(s, 10),
        "isbn13" => is_isbn(s, 13),
        "creditcard" => is_credit_card(s),
        "ssn" => s.len() == 11 && re(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$", s),
        "hexcolor" => re("^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", s),
        "rgbcolor" => re(
            r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$",
            s,
        ),
        "byte" => re(r"^(?:[A-Za-z0-9+\/]{4})*(?:[A-Za-z0-9+\/]{2}==|[A-Za-z0-9+\/]{3}=|[A-Za-z0-9+\/]{4})$", s),
        "password" => true,
        "date" => is_date(s),
        "datetime" => is_date_time(s),
        "duration" => is_duration(s),
        _ => true,
    }
}

fn days_in(month: u32, year: i64) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Go `time.Parse("2006-01-02", s)`.
pub(crate) fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok()).flatten()
    };
    let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else { return false };
    let Ok(m) = u32::try_from(m) else { return false };
    (1..=12).contains(&m) && d >= 1 && d <= i64::from(days_in(m, y))
}

/// kube-openapi's `IsDateTime`: a date, `t`, then `hh:mm:ss[.frac](z|±hh:mm)` (case-insensitive).
pub(crate) fn is_date_time(s: &str) -> bool {
    if s.len() < 4 {
        return false;
    }
    let lower = s.to_lowercase();
    let parts: Vec<&str> = lower.split('t').collect();
    if parts.len() < 2 || !is_date(parts[0]) {
        return false;
    }
    let t = parts[1];
    if !re(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$", t) {
        return false;
    }
    let (h, m, sec) = (t.get(0..2).unwrap_or(""), t.get(3..5).unwrap_or(""), t.get(6..8).unwrap_or(""));
    h <= "23" && m <= "59" && sec <= "59"
}

/// Go `time.ParseDuration`.
fn go_parse_duration(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    if s == "0" {
        return true;
    }
    if s.is_empty() {
        return false;
    }
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return false;
        }
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        if !matches!(unit, "ns" | "us" | "µs" | "μs" | "ms" | "s" | "m" | "h") {
            return false;
        }
        rest = &rest[unit_end..];
    }
    true
}

/// kube-openapi's `ParseDuration`: Go durations, or `<n> <unit>` pairs with long unit names.
fn is_duration(s: &str) -> bool {
    if go_parse_duration(s) {
        return true;
    }
    const UNITS: &[&[&str]] = &[
        &["ns", "nano"],
        &["us", "µs", "micro"],
        &["ms", "milli"],
        &["s", "sec"],
        &["m", "min"],
        &["h", "hr", "hour"],
        &["d", "day"],
        &["w", "wk", "week"],
    ];
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut ok = false;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let digits: String = chars[start..i].iter().collect();
        let mut j = i;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        let ustart = j;
        while j < chars.len() && (chars[j].is_ascii_alphabetic() || chars[j] == 'µ') {
            j += 1;
        }
        if j == ustart {
            continue;
        }
        if digits.parse::<i64>().is_err() {
            return false;
        }
        let unit: String = chars[ustart..j].iter().collect::<String>().to_lowercase();
        for variants in UNITS {
            let last = variants.len() - 1;
            for (k, v) in variants.iter().enumerate() {
                if (k == last && unit.starts_with(v)) || unit.eq_ignore_ascii_case(v) {
                    ok = true;
                }
            }
        }
        i = j;
    }
    ok
}

/// Go's (pre-1.17) sloppy IPv4 parsing, which allows leading zeros; IPv6 via std.
fn parse_ip_sloppy(s: &str) -> Option<()> {
    if s.contains(':') {
        if s.parse::<std::net::Ipv6Addr>().is_ok() {
            return Some(());
        }
        // An IPv6 address whose embedded IPv4 part has leading zeros.
        let (head, tail) = s.rsplit_once(':')?;
        if tail.contains('.') {
            let v4 = parse_v4_sloppy(tail)?;
            let rebuilt = format!("{head}:{}.{}.{}.{}", v4[0], v4[1], v4[2], v4[3]);
            return rebuilt.parse::<std::net::Ipv6Addr>().ok().map(|_| ());
        }
        return None;
    }
    parse_v4_sloppy(s).map(|_| ())
}

fn parse_v4_sloppy(s: &str) -> Option<[u8; 4]> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut out = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: u32 = p.parse().ok()?;
        out[i] = u8::try_from(v).ok()?;
    }
    Some(out)
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else { return false };
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(n) = bits.parse::<u32>() else { return false };
    if ip.contains(':') {
        parse_ip_sloppy(ip).is_some() && n <= 128
    } else {
        parse_v4_sloppy(ip).is_some() && n <= 32
    }
}

/// Go `net.ParseMAC`: 6, 8 or 20 octets as `aa:bb:..`, `aa-bb-..` or `aabb.ccdd.eeff`.
fn is_mac(s: &str) -> bool {
    let hex2 = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit());
    let hex4 = |p: &str| p.len() == 4 && p.bytes().all(|b| b.is_ascii_hexdigit());
    let ok_len = |n: usize| n == 6 || n == 8 || n == 20;
    if s.len() < 14 {
        return false;
    }
    for sep in [':', '-'] {
        if s.as_bytes().get(2) == Some(&(sep as u8)) {
            let parts: Vec<&str> = s.split(sep).collect();
            return ok_len(parts.len()) && parts.iter().all(|p| hex2(p));
        }
    }
    if s.as_bytes().get(4) == Some(&b'.') {
        let parts: Vec<&str> = s.split('.').collect();
        return ok_len(parts.len() * 2) && parts.iter().all(|p| hex4(p));
    }
    false
}

fn is_isbn(s: &str, version: u32) -> bool {
    let sanitized: String = s.chars().filter(|c| !(c.is_ascii_whitespace() || *c == '-')).collect();
    let b = sanitized.as_bytes();
    if version == 10 {
        if !re("^(?:[0-9]{9}X|[0-9]{10})$", &sanitized) {
            return false;
        }
        let mut sum: u32 = 0;
        for (i, c) in b.iter().take(9).enumerate() {
            sum += (i as u32 + 1) * u32::from(c - b'0');
        }
        sum += if b[9] == b'X' { 100 } else { 10 * u32::from(b[9] - b'0') };
        return sum.checked_rem(11) == Some(0);
    }
    if !re("^(?:[0-9]{13})$", &sanitized) {
        return false;
    }
    let mut sum: u32 = 0;
    for (i, c) in b.iter().take(12).enumerate() {
        sum += [1, 3][i % 2] * u32::from(c - b'0');
    }
    u32::from(b[12] - b'0') == (10 - sum % 10) % 10
}

fn is_credit_card(s: &str) -> bool {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if !re(
        r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11})$",
        &digits,
    ) {
        return false;
    }
    let mut sum = 0;
    let mut double = false;
    for c in digits.bytes().rev() {
        let mut n = u32::from(c - b'0');
        if double {
            n *= 2;
            if n >= 10 {
                n = n % 10 + 1;
            }
        }
        sum += n;
        double = !double;
    }
    sum % 10 == 0
}

fn is_hostname(s: &str) -> bool {
    const HOSTNAME: &str = r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$";
    re(HOSTNAME, s) && s.len() <= 255 && s.split('.').all(|p| p.len() <= 63)
}

/// Go `net/mail.ParseAddress` for the common shapes: `local@domain` and `Name <local@domain>`.
fn is_email(s: &str) -> bool {
    let s = s.trim();
    let addr = match (s.rfind('<'), s.ends_with('>')) {
        (Some(i), true) => &s[i + 1..s.len() - 1],
        (None, false) => s,
        _ => return false,
    };
    let Some((local, domain)) = addr.rsplit_once('@') else { return false };
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || (!c.is_ascii() && !c.is_whitespace());
    let dot_atom = |p: &str| !p.is_empty() && p.split('.').all(|a| !a.is_empty() && a.chars().all(atext));
    let local_ok = if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        local[1..local.len() - 1].chars().all(|c| c != '"' && c != '\\' && !c.is_control())
    } else {
        dot_atom(local)
    };
    let domain_ok = dot_atom(domain) || (domain.starts_with('[') && domain.ends_with(']') && domain.len() > 2);
    local_ok && domain_ok
}

/// Go `url.ParseRequestURI`: an absolute URI or an absolute path.
fn is_request_uri(s: &str) -> bool {
    if s.is_empty() || s.chars().any(|c| c.is_ascii_control()) {
        return false;
    }
    // Escapes must be well formed.
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit) && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
            continue;
        }
        i += 1;
    }
    let rest = match s.find(':') {
        Some(0) => return false,
        Some(i) if s[..i].starts_with(|c: char| c.is_ascii_alphabetic()) && s[..i].chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) => {
            let rest = &s[i + 1..];
            let rest = rest.split_once('#').map(|(a, _)| a).unwrap_or(rest);
            if !rest.starts_with('/') {
                return true; // opaque, e.g. mailto:x
            }
            rest
        }
        Some(i) if s[..i].contains('/') || !s.starts_with(|c: char| c.is_ascii_alphabetic()) => s,
        Some(_) => return false,
        None => s,
    };
    let rest = rest.split_once('?').map(|(a, _)| a).unwrap_or(rest);
    if !rest.starts_with('/') {
        return rest == "*";
    }
    if let Some(auth) = rest.strip_prefix("//") {
        let authority = auth.split('/').next().unwrap_or("");
        let host = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
        if let Some(v6) = host.strip_prefix('[') {
            let Some((ip, port)) = v6.split_once(']') else { return false };
            let ip = ip.split_once("%25").map(|(a, _)| a).unwrap_or(ip);
            if ip.parse::<std::net::Ipv6Addr>().is_err() {
                return false;
            }
            return port.is_empty() || port.strip_prefix(':').is_some_and(|p| p.bytes().all(|c| c.is_ascii_digit()));
        }
        let (h, port) = match host.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host, None),
        };
        if port.is_some_and(|p| !p.bytes().all(|c| c.is_ascii_digit())) {
            return false;
        }
        return h.chars().all(|c| c.is_alphanumeric() || "-._~!$&'()*+,;=%".contains(c));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_accept_and_reject_like_kube_openapi() {
        let cases: &[(&str, &str, bool)] = &[
            ("date-time", "2024-02-29T10:00:00Z", true),
            ("date-time", "2024-02-29T10:00:00.123+01:00", true),
            ("date-time", "2023-02-29T10:00:00Z", false),
            ("date-time", "2024-01-01T25:00:00Z", false),
            ("date-time", "2024-01-01 10:00:00Z", false),
            ("date", "2024-12-31", true),
            ("date", "2024-13-01", false),
            ("date", "24-01-01", false),
            ("byte", "aGVsbG8=", true),
            ("byte", "not base64!", false),
            ("byte", "", false),
            ("uuid", "123e4567-e89b-12d3-a456-426614174000", true),
            ("uuid", "123E4567E89B12D3A456426614174000", true),
            ("uuid", "xyz", false),
            ("hostname", "example.com", true),
            ("hostname", "a-b", true),
            ("hostname", "my-host", false),
            ("hostname", "-bad.com", false),
            ("ipv4", "10.0.0.1", true),
            ("ipv4", "010.0.0.1", true),
            ("ipv4", "1.2.3", false),
            ("ipv6", "::1", true),
            ("ipv6", "10.0.0.1", false),
            ("cidr", "10.0.0.0/8", true),
            ("cidr", "10.0.0.0/33", false),
            ("mac", "00:00:5e:00:53:01", true),
            ("mac", "0000.5e00.5301", true),
            ("mac", "00:00:5e", false),
            ("email", "a@b.com", true),
            ("email", "Alice <a@b.com>", true),
            ("email", "nope", false),
            ("uri", "https://example.com/x?y=1", true),
            ("uri", "/just/a/path", true),
            ("uri", "relative/path", false),
            ("duration", "1h30m", true),
            ("duration", "5 days", true),
            ("duration", "soon", false),
            ("isbn10", "0321751043", true),
            ("isbn13", "978-0321751041", true),
            ("creditcard", "4111 1111 1111 1111", true),
            ("ssn", "123-45-6789", true),
            ("hexcolor", "#FFF", true),
            ("rgbcolor", "rgb(255, 0, 10)", true),
            ("bsonobjectid", "507f1f77bcf86cd799439011", true),
        ];
        for (f, s, want) in cases {
            assert_eq!(validates(f, s), *want, "{f} {s:?}");
        }
    }

    #[test]
    fn unsupported_formats_are_stripped_whatever_the_type() {
        assert_eq!(effective("date-time"), "date-time");
        assert_eq!(effective("datetime"), "datetime");
        assert_eq!(effective("made-up"), "");
        assert_eq!(effective("int32"), "");
        assert_eq!(effective("k8s-short-name"), "");
    }
}
