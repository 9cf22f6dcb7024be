//! Wall-clock time as the decision log, `/readyz` and replay write and read it: RFC 3339 in UTC
//! with milliseconds.

use std::time::SystemTime;

/// Milliseconds since the Unix epoch (0 before it).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The wall clock in milliseconds since the Unix epoch: the time a message decided outside the
/// service (`inflight eval`, the console's Try) is decided at.
pub fn now_ms() -> u64 {
    unix_ms(SystemTime::now())
}

/// UTC RFC 3339 with milliseconds, from the Unix clock.
pub fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let mut out = String::with_capacity(24);
    // The decision log writes thousands of these a second on each worker: the part up to the
    // second is kept per thread and only the milliseconds are written each time.
    LAST_SECOND.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != since.as_secs() || last.1.is_empty() {
            *last = (since.as_secs(), up_to_the_second(since.as_secs()));
        }
        out.push_str(&last.1);
    });
    let millis = since.subsec_millis();
    for digit in [millis / 100, millis / 10 % 10, millis % 10] {
        out.push(char::from(b'0' + digit as u8));
    }
    out.push('Z');
    out
}

thread_local! {
    /// The last second [`rfc3339`] wrote on this thread, and its text up to the `.`.
    static LAST_SECOND: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((0, String::new())) };
}

/// `YYYY-MM-DDTHH:MM:SS.` for Unix seconds (civil-from-days, Howard Hinnant's algorithm; ten
/// lines do not warrant a date crate).
fn up_to_the_second(secs: u64) -> String {
    let secs = secs as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Milliseconds since the Unix epoch of a UTC RFC 3339 time as [`rfc3339`] writes it (an offset
/// other than `Z` is applied; fractions beyond milliseconds are cut); `None` when it is not one.
pub fn parse_rfc3339_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    let (date, rest) = s.split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    let (clock, offset_secs) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => {
            let (clock, zone) = rest.split_at(i);
            (clock, zone_offset(zone)?)
        }
        None => return None,
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut t = hms.splitn(3, ':');
    let (h, m, sec): (i64, i64, i64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let millis: i64 = format!("{frac:0<3}").get(..3)?.parse().ok()?;
    // Days from civil (Howard Hinnant), the inverse of `rfc3339`.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + m * 60 + sec - offset_secs;
    u64::try_from(secs * 1000 + millis).ok()
}

fn zone_offset(zone: &str) -> Option<i64> {
    if zone.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let (h, m) = zone.get(1..)?.split_once(':')?;
    Some(sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60))
}

/// Parses a duration of the rule language: a whole number and a unit, `ms`, `s`, `m`, `h` or
/// `d` (`"500ms"`, `"10s"`, `"5m"`, `"24h"`, `"7d"`), into milliseconds. The error says what is
/// wrong; zero and negative durations are errors too.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err(format!("duration \"{text}\" is negative"));
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit_ms: u64 = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "" => return Err(format!("duration \"{text}\" has no unit (ms, s, m, h or d), as in \"10s\"")),
        other => return Err(format!("duration \"{text}\": unknown unit \"{other}\" (ms, s, m, h or d)")),
    };
    let n: u64 =
        number.parse().map_err(|_| format!("duration \"{text}\" is not a whole number and a unit, as in \"10s\""))?;
    if n == 0 {
        return Err(format!("duration \"{text}\" is zero: a window must be longer than that"));
    }
    let ms = n.checked_mul(unit_ms).filter(|ms| *ms <= MAX_DURATION_MS);
    ms.ok_or_else(|| format!("duration \"{text}\" is longer than 366 days"))
}

/// The longest duration the rule language takes: windows longer than a year are a mistake.
pub const MAX_DURATION_MS: u64 = 366 * 86_400_000;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations() {
        let ok = [("500ms", 500), ("10s", 10_000), ("5m", 300_000), ("24h", 86_400_000), ("7d", 604_800_000)];
        for (text, ms) in ok {
            assert_eq!(parse_duration_ms(text), Ok(ms), "{text}");
        }
        for (text, says) in [
            ("0s", "zero"),
            ("-5s", "negative"),
            ("10", "no unit"),
            ("10w", "unknown unit"),
            ("1.5s", "unknown unit"),
            ("s", "whole number"),
            ("400d", "366 days"),
        ] {
            let err = parse_duration_ms(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn rfc3339_reads_back_what_it_writes() {
        for ms in [0u64, 951_782_400_123, 1_791_272_621_999, 32_503_680_000_000] {
            let t = SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
            assert_eq!(parse_rfc3339_ms(&rfc3339(t)), Some(ms), "{ms}");
        }
        assert_eq!(parse_rfc3339_ms("2026-10-06T09:43:41+02:00"), Some(1_791_272_621_000));
        for bad in ["", "yesterday", "2026-13-01T00:00:00Z", "2026-10-06T07:43:41"] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400, "2000-02-29T00:00:00.000Z"),
            (1_791_272_621, "2026-10-06T07:43:41.000Z"),
            (253_402_300_799, "9999-12-31T23:59:59.000Z"),
            (253_402_300_800, "10000-01-01T00:00:00.000Z"),
        ];
        for (secs, want) in cases {
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
            assert_eq!(rfc3339(t), want, "{secs}");
        }
        // The same second again (its text is reused), the next one, and back.
        for (ms, want) in [
            (1_791_272_621_007, "2026-10-06T07:43:41.007Z"),
            (1_791_272_621_999, "2026-10-06T07:43:41.999Z"),
            (1_791_272_622_010, "2026-10-06T07:43:42.010Z"),
            (1_791_272_621_500, "2026-10-06T07:43:41.500Z"),
        ] {
            assert_eq!(rfc3339(SystemTime::UNIX_EPOCH + Duration::from_millis(ms)), want, "{ms}");
        }
    }
}
