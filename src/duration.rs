//! Durations on the command line (`--older-than`, `--max-age`): jiff's friendly format —
//! `30d`, `12h`, `90m`, `2w`, `45s`, `1d 12h`, `36 hours` — parsed once, at the edge, where
//! a day is 24 hours. Months and years are refused: they have no fixed length.

use std::fmt;

use jiff::{SignedDuration, Span, SpanRelativeTo};

/// A positive length of time, with the text it was written as (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Age {
    pub duration: SignedDuration,
    text: String,
}

impl Age {
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let span: Span = trimmed.parse().map_err(|e| {
            format!(
                "{trimmed:?} is not a duration ({e}); write a number and a unit, like 30d, 12h, 2w"
            )
        })?;
        let duration = span
            .to_duration(SpanRelativeTo::days_are_24_hours())
            .map_err(|_| {
                format!("{trimmed:?}: months and years have no fixed length; use days or weeks")
            })?;
        if duration <= SignedDuration::ZERO {
            return Err(format!("{trimmed:?}: the duration must be positive"));
        }
        Ok(Self {
            duration,
            text: trimmed.to_string(),
        })
    }
}

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Age {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SignedDuration, String> {
        Age::parse(text).map(|a| a.duration)
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse("30d").unwrap(), SignedDuration::from_hours(720));
        assert_eq!(parse("2w").unwrap(), SignedDuration::from_hours(336));
        assert_eq!(parse("90m").unwrap(), SignedDuration::from_mins(90));
        assert_eq!(parse("26h").unwrap(), SignedDuration::from_hours(26));
        assert_eq!(parse("45s").unwrap(), SignedDuration::from_secs(45));
        assert_eq!(parse("1d 12h").unwrap(), SignedDuration::from_hours(36));
        assert_eq!(Age::parse(" 26h ").unwrap().to_string(), "26h");
        for bad in ["30", "d", "3y", "2mo", "-1d", "0s", "soon"] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }
}
