//! Durations on the command line: `30d`, `12h`, `90m`, `2w`, `45s` (`--older-than`,
//! `--max-age`).

use anyhow::bail;
use jiff::SignedDuration;

/// Parses `30d`, `12h`, `90m`, `2w`, `45s`.
pub fn parse(text: &str) -> anyhow::Result<SignedDuration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(number) = number.parse::<i64>() else {
        bail!("{text:?}: expected a number and a unit, like 30d, 12h, 2w");
    };
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => bail!("{text:?}: the unit must be s, m, h, d or w"),
    };
    Ok(SignedDuration::from_secs(number.saturating_mul(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse("30d").unwrap(), SignedDuration::from_hours(720));
        assert_eq!(parse("90m").unwrap(), SignedDuration::from_mins(90));
        assert_eq!(parse("26h").unwrap(), SignedDuration::from_hours(26));
        assert!(parse("30").is_err());
        assert!(parse("d").is_err());
        assert!(parse("3y").is_err());
    }
}
