//! Text subtitles → WebVTT, the only subtitle format a `<track>` element and hls.js read.
//! SRT and ASS/SSA sidecars are converted here; embedded streams go through ffmpeg.

/// Decodes subtitle bytes: the encoding a BOM names (UTF-8, UTF-16 LE/BE), else UTF-8 when
/// the bytes are valid UTF-8, else Windows-1252, which is what older European SRT files are
/// (a superset of Latin-1 that also has `œ`, `€`, curly quotes) and which never fails.
pub fn decode(bytes: &[u8]) -> String {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        return encoding
            .decode_without_bom_handling(&bytes[bom..])
            .0
            .into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

/// A side-loaded subtitle file with no cue any of the readers below recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the subtitle file is neither WebVTT nor holds an SRT or ASS cue")]
pub struct NoCues;

/// Any text subtitle file (WebVTT, SRT, ASS/SSA, in any encoding [`decode`] reads) as UTF-8
/// WebVTT, the only format a `<track>` element reads. The format is told by the content, not
/// the file name: addons serve SRT under URLs without an extension.
pub fn to_webvtt(bytes: &[u8]) -> Result<String, NoCues> {
    let text = decode(bytes);
    let head = text.trim_start();
    if head.starts_with("WEBVTT") {
        return Ok(text);
    }
    let vtt = if head.starts_with("[Script Info]") || text.contains("\n[Events]") {
        ass_to_vtt(&text)
    } else {
        srt_to_vtt(&text)
    };
    if vtt.contains("-->") {
        Ok(vtt)
    } else {
        Err(NoCues)
    }
}

/// SRT → WebVTT: a `WEBVTT` header, `,` → `.` in timings, cue numbers dropped.
pub fn srt_to_vtt(srt: &str) -> String {
    let text = srt.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::from("WEBVTT\n\n");
    for block in text.split("\n\n") {
        let lines: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
        let Some(timing_at) = lines.iter().position(|l| l.contains("-->")) else {
            continue;
        };
        let Some(timing) = vtt_timing(lines[timing_at]) else {
            continue;
        };
        out.push_str(&timing);
        out.push('\n');
        for line in &lines[timing_at + 1..] {
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// `00:01:02,500 --> 00:01:04,000 X1:…` → `00:01:02.500 --> 00:01:04.000`.
fn vtt_timing(line: &str) -> Option<String> {
    let (start, rest) = line.split_once("-->")?;
    let end = rest.split_whitespace().next()?;
    let fix = |t: &str| -> Option<String> {
        let t = t.trim().replace(',', ".");
        let secs = parse_clock(&t)?;
        Some(format_clock(secs))
    };
    Some(format!("{} --> {}", fix(start)?, fix(end)?))
}

/// `h:mm:ss.fff`, `mm:ss.fff` or ASS's `h:mm:ss.cc` → seconds.
fn parse_clock(t: &str) -> Option<f64> {
    let parts: Vec<&str> = t.split(':').collect();
    let (h, m, s) = match parts.as_slice() {
        [h, m, s] => (h.parse::<f64>().ok()?, m.parse::<f64>().ok()?, s),
        [m, s] => (0.0, m.parse::<f64>().ok()?, s),
        _ => return None,
    };
    let s: f64 = s.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

fn format_clock(secs: f64) -> String {
    let ms = (secs * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000
    )
}

/// ASS/SSA → WebVTT: the `Dialogue:` lines of `[Events]`, in the column order its `Format:`
/// line gives, with override blocks (`{\i1}`…) removed and `\N` as line breaks. Styling and
/// positioning are dropped: WebVTT cannot express most of it and players ignore the rest.
pub fn ass_to_vtt(ass: &str) -> String {
    let mut cues: Vec<(f64, f64, String)> = Vec::new();
    let mut in_events = false;
    let mut columns: Vec<String> = Vec::new();
    for line in ass.lines() {
        let line = line.trim_start_matches('\u{feff}').trim();
        if line.starts_with('[') {
            in_events = line.eq_ignore_ascii_case("[events]");
            continue;
        }
        if !in_events {
            continue;
        }
        if let Some(format) = line.strip_prefix("Format:") {
            columns = format
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .collect();
            continue;
        }
        let Some(dialogue) = line.strip_prefix("Dialogue:") else {
            continue;
        };
        if columns.is_empty() {
            // The usual v4+ order, for files without a Format line.
            columns = [
                "layer", "start", "end", "style", "name", "marginl", "marginr", "marginv",
                "effect", "text",
            ]
            .map(String::from)
            .to_vec();
        }
        // The text is the last column and may itself contain commas.
        let fields: Vec<&str> = dialogue.splitn(columns.len(), ',').collect();
        let col = |name: &str| {
            columns
                .iter()
                .position(|c| c == name)
                .and_then(|i| fields.get(i))
                .map(|s| s.trim())
        };
        let (Some(start), Some(end), Some(text)) = (
            col("start").and_then(parse_clock),
            col("end").and_then(parse_clock),
            col("text"),
        ) else {
            continue;
        };
        let text = strip_overrides(text)
            .replace("\\N", "\n")
            .replace("\\n", "\n")
            .replace("\\h", " ");
        let text = text.trim();
        if !text.is_empty() && end > start {
            cues.push((start, end, text.to_string()));
        }
    }
    cues.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = String::from("WEBVTT\n\n");
    for (start, end, text) in cues {
        out.push_str(&format!(
            "{} --> {}\n{}\n\n",
            format_clock(start),
            format_clock(end),
            text
        ));
    }
    out
}

fn strip_overrides(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0u32;
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// A VTT sidecar is served as is, but a missing header would make browsers reject it.
pub fn ensure_vtt(text: &str) -> String {
    if text.trim_start().starts_with("WEBVTT") {
        text.to_string()
    } else {
        format!("WEBVTT\n\n{text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srt_becomes_vtt() {
        let srt = "1\r\n00:00:01,000 --> 00:00:02,500\r\nHello <i>world</i>\r\n\r\n2\r\n00:01:02,050 --> 00:01:04,000 X1:10\r\nTwo\r\nlines\r\n";
        assert_eq!(
            srt_to_vtt(srt),
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHello <i>world</i>\n\n00:01:02.050 --> 00:01:04.000\nTwo\nlines\n\n"
        );
    }

    #[test]
    fn srt_with_a_bom_and_latin1_decodes() {
        assert_eq!(decode(b"\xEF\xBB\xBF1"), "1");
        assert_eq!(decode(b"caf\xE9"), "café");
    }

    #[test]
    fn windows_1252_and_utf16_decode_with_their_accents() {
        let french = "Ça démarre à l'été, œuvre à 5 €";
        let cp1252 = encoding_rs::WINDOWS_1252.encode(french).0;
        assert_eq!(
            cp1252[0], 0xC7,
            "one byte a character: the file really is Windows-1252"
        );
        assert_eq!(
            decode(&cp1252),
            french,
            "œ (0x9C) and € (0x80) are not Latin-1"
        );
        let utf16 = |big: bool| {
            let mut out = if big {
                vec![0xFE, 0xFF]
            } else {
                vec![0xFF, 0xFE]
            };
            for unit in french.encode_utf16() {
                let bytes = if big {
                    unit.to_be_bytes()
                } else {
                    unit.to_le_bytes()
                };
                out.extend_from_slice(&bytes);
            }
            out
        };
        assert_eq!(decode(&utf16(false)), french);
        assert_eq!(decode(&utf16(true)), french);
        assert_eq!(decode(format!("\u{feff}{french}").as_bytes()), french);
        assert_eq!(decode(french.as_bytes()), french);
    }

    #[test]
    fn any_text_subtitle_becomes_utf8_webvtt() {
        let srt = "1\r\n00:00:01,000 --> 00:00:02,500\r\nÇa démarre à l'été\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000\r\nœuvre à 5 €\r\n";
        let expected = "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nÇa démarre à l'été\n\n00:00:03.000 --> 00:00:04.000\nœuvre à 5 €\n\n";
        let cp1252 = encoding_rs::WINDOWS_1252.encode(srt).0;
        assert_eq!(to_webvtt(&cp1252).unwrap(), expected);
        assert_eq!(to_webvtt(srt.as_bytes()).unwrap(), expected);
        let vtt = "WEBVTT\n\n00:01.000 --> 00:02.000\nDéjà\n";
        assert_eq!(
            to_webvtt(vtt.as_bytes()).unwrap(),
            vtt,
            "WebVTT passes as is"
        );
        let ass =
            "[Script Info]\n\n[Events]\nDialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,Été\n";
        assert!(to_webvtt(ass.as_bytes()).unwrap().contains("\nÉté\n"));
        assert_eq!(to_webvtt(b"<html>not found</html>"), Err(NoCues));
        assert_eq!(to_webvtt(b""), Err(NoCues));
    }

    #[test]
    fn broken_srt_blocks_are_skipped() {
        let srt = "1\nnot a timing\ntext\n\n2\n00:00:03,000 --> 00:00:04,000\nok\n";
        assert_eq!(
            srt_to_vtt(srt),
            "WEBVTT\n\n00:00:03.000 --> 00:00:04.000\nok\n\n"
        );
    }

    #[test]
    fn ass_becomes_vtt() {
        let ass = "[Script Info]\nTitle: x\n\n[V4+ Styles]\nFormat: Name, Fontname\nStyle: Default,Arial\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\nDialogue: 0,0:00:05.00,0:00:07.50,Default,,0,0,0,,Second, with a comma\nDialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,{\\i1}First{\\i0}\\Nline two\n";
        assert_eq!(
            ass_to_vtt(ass),
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nFirst\nline two\n\n00:00:05.000 --> 00:00:07.500\nSecond, with a comma\n\n"
        );
    }

    #[test]
    fn vtt_gets_a_header_when_missing() {
        assert!(ensure_vtt("00:00.000 --> 00:01.000\nx").starts_with("WEBVTT\n\n"));
        assert_eq!(ensure_vtt("WEBVTT\n\nx"), "WEBVTT\n\nx");
    }
}
