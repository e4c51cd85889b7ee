//! What part of the resource an upstream answer holds, from its status and `Content-Range`:
//! a document (playlist, steering JSON) can only be rewritten whole, so an answer to a
//! player's Range that is not the whole resource is completed by fetching it again without
//! the Range (ignoring a Range is always allowed; ffmpeg asks playlists for `bytes=0-`).

/// The part of the resource an answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// A 200, or a 206 that happens to cover everything (`bytes 0-E/T` with `E + 1 = T`).
    Whole,
    /// A 206 from the first byte that stops before the end (or does not say where the end
    /// is): its first bytes can be sniffed, it cannot be rewritten.
    Start,
    /// A 206 from anywhere else: neither.
    Middle,
    /// Any other status (204, 304, 416…): no representation to classify, relayed as it is.
    NoBody,
}

impl Part {
    pub fn of(status: u16, content_range: Option<&str>) -> Part {
        match status {
            200 => Part::Whole,
            206 => match content_range.and_then(|r| r.strip_prefix("bytes 0-")) {
                Some(rest) if covers_all(rest) => Part::Whole,
                Some(_) => Part::Start,
                None => Part::Middle,
            },
            _ => Part::NoBody,
        }
    }

    /// Whether the answer starts at the resource's first byte.
    pub fn from_first_byte(self) -> bool {
        matches!(self, Part::Whole | Part::Start)
    }

    /// Whether a document must be fetched again, whole, before it is rewritten.
    pub fn needs_refetch(self) -> bool {
        self != Part::Whole
    }
}

/// `E/T` of `bytes 0-E/T`, covering the whole resource.
fn covers_all(end_and_total: &str) -> bool {
    let Some((end, total)) = end_and_total.split_once('/') else {
        return false;
    };
    matches!(
        (end.parse::<u64>(), total.parse::<u64>()),
        (Ok(end), Ok(total)) if end.checked_add(1) == Some(total)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_answer_is_whole_only_when_it_covers_every_byte() {
        assert_eq!(Part::of(200, None), Part::Whole);
        assert_eq!(Part::of(206, Some("bytes 0-99/100")), Part::Whole);
        for start in [
            "bytes 0-49/100",
            "bytes 0-99/*",
            "bytes 0-99/1000",
            "bytes 0-x/1",
        ] {
            assert_eq!(Part::of(206, Some(start)), Part::Start, "{start}");
        }
        for middle in [Some("bytes 50-99/100"), None, Some("items 0-1/2")] {
            assert_eq!(Part::of(206, middle), Part::Middle, "{middle:?}");
        }
        for status in [204, 304, 416, 203] {
            assert_eq!(Part::of(status, Some("bytes 0-99/100")), Part::NoBody);
        }
        // No overflow on a hostile end.
        let max = format!("bytes 0-{}/{}", u64::MAX, u64::MAX);
        assert_eq!(Part::of(206, Some(&max)), Part::Start);
    }

    #[test]
    fn only_a_whole_answer_is_rewritten_without_a_refetch() {
        assert!(!Part::Whole.needs_refetch());
        for part in [Part::Start, Part::Middle] {
            assert!(part.needs_refetch(), "{part:?}");
        }
        assert!(Part::Start.from_first_byte() && !Part::Middle.from_first_byte());
    }
}
