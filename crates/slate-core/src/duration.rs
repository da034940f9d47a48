//! Human durations such as `10s`, `15m`, `24h` and `2d`.

use crate::error::{Error, Result};

/// Parses a duration into whole seconds: a number followed by `s`, `m`, `h` or `d`, or a
/// sum of such parts (`1h30m`).
pub fn parse_duration_secs(text: &str) -> Result<i64> {
    let err = |reason: &str| Error::InvalidDuration {
        text: text.to_string(),
        reason: reason.to_string(),
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(err("empty; expected e.g. 10s, 15m, 24h or 2d"));
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let unit = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(err("units are s, m, h and d")),
        };
        if digits.is_empty() {
            return Err(err("a unit must follow a number"));
        }
        let n: i64 = digits.parse().map_err(|_| err("number too large"))?;
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(|| err("too large"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(err("missing unit after the number (s, m, h or d)"));
    }
    Ok(total)
}

/// Formats seconds the way a policy would write them (`900` -> `15m`).
pub fn format_duration_secs(secs: i64) -> String {
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs != 0 && secs % n == 0 {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse_duration_secs("10s").unwrap(), 10);
        assert_eq!(parse_duration_secs("15m").unwrap(), 900);
        assert_eq!(parse_duration_secs("24h").unwrap(), 86_400);
        assert_eq!(parse_duration_secs("2d").unwrap(), 172_800);
        assert_eq!(parse_duration_secs("1h30m").unwrap(), 5400);
        for bad in ["", "10", "m", "10x", "-5s", "99999999999999999999s"] {
            assert!(parse_duration_secs(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration_secs(900), "15m");
        assert_eq!(format_duration_secs(10), "10s");
        assert_eq!(format_duration_secs(86_400), "1d");
    }
}
