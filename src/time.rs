//! Wall-clock time as the decision log, `/readyz` and replay write and read it: RFC 3339 in UTC
//! with milliseconds.

use std::time::SystemTime;

/// UTC RFC 3339 with milliseconds, from the Unix clock (civil-from-days, Howard Hinnant's
/// algorithm; ten lines do not warrant a date crate).
pub fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
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
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_formats_known_instants() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400, "2000-02-29T00:00:00.000Z"),
            (1_791_272_621, "2026-10-06T07:43:41.000Z"),
        ];
        for (secs, want) in cases {
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
            assert_eq!(rfc3339(t), want, "{secs}");
        }
    }
}
