//! Absolute timestamps in headers: HTTP-dates (`retry-after`) and RFC 3339
//! (`anthropic-ratelimit-*-reset`), both as milliseconds since the Unix epoch.

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn epoch_ms(year: i64, month: u32, day: u32, h: u32, min: u32, sec: f64) -> Option<f64> {
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && h < 24
        && min < 60
        && (0.0..61.0).contains(&sec);
    valid.then(|| {
        let days = days_from_civil(year, month, day) as f64;
        (days * 86_400.0 + f64::from(h * 3600 + min * 60) + sec) * 1000.0
    })
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let name = name.get(..3)?.to_ascii_lowercase();
    MONTHS.iter().position(|m| *m == name).map(|i| i as u32 + 1)
}

fn parse_clock(text: &str) -> Option<(u32, u32, u32)> {
    let mut it = text.split(':').map(|p| p.parse::<u32>().ok());
    let parts = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(parts)
}

/// Parses an HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`; also the obsolete
/// RFC 850 and asctime forms) into milliseconds since the epoch.
pub fn parse_http_date(text: &str) -> Option<f64> {
    let text = text.trim();
    // Drop the weekday ("Sun," / "Sunday,") when there is one.
    let rest = match crate::classify::search::split_once(text, ", ") {
        Some((_, rest)) => rest,
        None => text.split_once(' ')?.1,
    };
    // The forms have 3 to 5 fields: up to 6 are kept (6 match none), on the
    // stack. No collect: its from_iter and extend were 340 bytes of `.wasm`.
    let mut fields = [""; 6];
    let mut n = 0;
    for word in rest.split_whitespace() {
        let Some(slot) = fields.get_mut(n) else {
            break;
        };
        *slot = word;
        n += 1;
    }
    let (day, month, year, clock) = match fields.get(..n)? {
        // IMF-fixdate: 06 Nov 1994 08:49:37 GMT
        [d, m, y, c, "GMT"] => (
            d.parse().ok()?,
            month_number(m)?,
            y.parse::<i64>().ok()?,
            *c,
        ),
        // RFC 850: 06-Nov-94 08:49:37 GMT
        [dmy, c, "GMT"] => {
            let mut p = dmy.split('-');
            let d = p.next()?.parse().ok()?;
            let m = month_number(p.next()?)?;
            let y: i64 = p.next()?.parse().ok()?;
            (
                d,
                m,
                if y < 70 {
                    2000 + y
                } else if y < 100 {
                    1900 + y
                } else {
                    y
                },
                *c,
            )
        }
        // asctime: Nov  6 08:49:37 1994
        [m, d, c, y] => (
            d.parse().ok()?,
            month_number(m)?,
            y.parse::<i64>().ok()?,
            *c,
        ),
        _ => return None,
    };
    let (h, min, sec) = parse_clock(clock)?;
    epoch_ms(year, month, day, h, min, f64::from(sec))
}

/// Parses an RFC 3339 timestamp (`2024-05-01T12:00:30.5Z`, `…+02:00`) into
/// milliseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<f64> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut d = date.split('-');
    let (year, month, day) = (
        d.next()?.parse::<i64>().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    if d.next().is_some() || time.len() < 8 {
        return None;
    }
    let (clock, offset_ms) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0.0)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (clock, offset) = crate::cut::split_at(time, at);
        let sign = if offset.starts_with('-') { -1.0 } else { 1.0 };
        let (oh, om) = crate::cut::after(offset, 1).split_once(':')?;
        let minutes = oh.parse::<u32>().ok()? * 60 + om.parse::<u32>().ok()?;
        (clock, sign * f64::from(minutes) * 60_000.0)
    };
    let mut c = clock.splitn(3, ':');
    let h = c.next()?.parse().ok()?;
    let min = c.next()?.parse().ok()?;
    let sec = crate::classify::duration::parse_fixed9(c.next()?)? as f64 / 1e9;
    Some(epoch_ms(year, month, day, h, min, sec)? - offset_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_6_1994: f64 = 784_111_777_000.0;

    #[test]
    fn http_date_forms() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(NOV_6_1994)
        );
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(NOV_6_1994)
        );
        assert_eq!(
            parse_http_date("Sun Nov  6 08:49:37 1994"),
            Some(NOV_6_1994)
        );
        assert_eq!(
            parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(1_445_412_480_000.0)
        );
    }

    #[test]
    fn http_date_rejects_garbage() {
        for bad in [
            "",
            "20",
            "Sun, 06 Nov 1994",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:00:00 GMT",
            // One field too many for each form.
            "Sun, 06 Nov 1994 08:49:37 GMT x",
            "Sun, 06 Nov 1994 08:49:37 GMT x y",
            "Sunday, 06-Nov-94 08:49:37 GMT x",
            "Sun Nov  6 08:49:37 1994 x",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rfc3339_forms() {
        assert_eq!(parse_rfc3339("1994-11-06T08:49:37Z"), Some(NOV_6_1994));
        assert_eq!(
            parse_rfc3339("1994-11-06T08:49:37.250Z"),
            Some(NOV_6_1994 + 250.0)
        );
        assert_eq!(parse_rfc3339("1994-11-06T10:49:37+02:00"), Some(NOV_6_1994));
        assert_eq!(parse_rfc3339("1994-11-06T03:49:37-05:00"), Some(NOV_6_1994));
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000.0)
        );
    }

    #[test]
    fn rfc3339_rejects_garbage() {
        for bad in [
            "",
            "2024-01-01",
            "2024-13-01T00:00:00Z",
            "2024-01-01T00:00:xxZ",
            "2024-01-01T00:00:00",
            "now",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }
}
