//! Dates as the conf gives them (`created`, `mtime`): ISO 8601, or `"now"`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use std::sync::OnceLock;

/// A point in time, always UTC so that the output never depends on the host's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// Parses `"now"` or an ISO 8601 date. A date without a zone is taken as UTC (Python
    /// would take it as local time, which makes the output depend on the host's TZ).
    pub fn parse(text: &str) -> Result<Timestamp, String> {
        if text == "now" {
            return Ok(Timestamp(now()));
        }
        let parsed = DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| naive(text).map(|t| t.and_utc()));
        let parsed = parsed.ok_or_else(|| {
            format!("\"{text}\" is not a date; use ISO 8601 (e.g. 1970-01-01T00:00:01Z) or \"now\"")
        })?;
        // chrono keeps a leap second (…:60) as an extra second's nanoseconds; Docker's
        // parser refuses it when loading the image, so refuse it now.
        if parsed.timestamp_subsec_nanos() >= 1_000_000_000 {
            return Err(format!(
                "\"{text}\" is a leap second, which docker load refuses; use :59"
            ));
        }
        Ok(Timestamp(parsed))
    }

    /// RFC 3339 in UTC with a `Z`, the form Docker and OCI tools expect in configs.
    pub fn rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    /// Whole seconds since the epoch for tar headers; dates before 1970 become 0.
    pub fn unix_seconds(&self) -> u64 {
        self.0.timestamp().max(0) as u64
    }
}

/// The time `"now"` stands for: one value per run, so `created` and `mtime` agree.
fn now() -> DateTime<Utc> {
    static NOW: OnceLock<DateTime<Utc>> = OnceLock::new();
    *NOW.get_or_init(|| DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default())
}

/// The zone-less forms Python's `fromisoformat` accepts: date, and date with time.
fn naive(text: &str) -> Option<NaiveDateTime> {
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_forms_nixpkgs_passes() {
        for (text, seconds, rfc) in [
            ("1970-01-01T00:00:01Z", 1, "1970-01-01T00:00:01Z"),
            ("1970-01-01T00:00:01+00:00", 1, "1970-01-01T00:00:01Z"),
            (
                "2024-03-01T12:00:00+01:00",
                1709290800,
                "2024-03-01T11:00:00Z",
            ),
            ("2024-03-01T11:00:00", 1709290800, "2024-03-01T11:00:00Z"),
            ("2024-03-01", 1709251200, "2024-03-01T00:00:00Z"),
            ("1960-01-01T00:00:00Z", 0, "1960-01-01T00:00:00Z"),
        ] {
            let t = Timestamp::parse(text).unwrap();
            assert_eq!(
                (t.unix_seconds(), t.rfc3339().as_str()),
                (seconds, rfc),
                "{text}"
            );
        }
    }

    #[test]
    fn now_is_one_instant_per_run() {
        assert_eq!(
            Timestamp::parse("now").unwrap(),
            Timestamp::parse("now").unwrap()
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert!(Timestamp::parse("tomorrow").is_err());
        assert!(Timestamp::parse("").is_err());
    }

    #[test]
    fn a_leap_second_is_refused_as_docker_load_would() {
        assert_eq!(
            Timestamp::parse("2016-12-31T23:59:60Z").unwrap_err(),
            "\"2016-12-31T23:59:60Z\" is a leap second, which docker load refuses; use :59"
        );
        assert!(Timestamp::parse("2016-12-31T23:59:59Z").is_ok());
    }
}
