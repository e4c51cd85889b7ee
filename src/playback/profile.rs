//! What a client decodes, as measured by the player in the browser
//! (`dashboard/src/lib/player/capabilities.ts`), and its compact wire format.
//!
//! The wire format travels in the `profile` query parameter, beside (never inside) a signed
//! URL: a query parameter reaches the server from every way the player loads media (hls.js,
//! the browser's native HLS and a plain `<video src>` for direct play), whereas a header can
//! only be added by hls.js; and keeping it out of the signature lets the same signed URL serve
//! two clients with different decoders, each getting its own plan and cache entries.
//!
//! `1:avc,aac,mp4,max=1080`: a version, then comma-separated tokens. Unknown tokens are
//! ignored so that an older server accepts a newer player's profile.

use std::fmt;

/// Longer than every token at once (about 110 bytes) with room for new ones, and short enough
/// that a hostile query string costs nothing to refuse.
pub const MAX_WIRE_LEN: usize = 256;
/// The only wire version so far.
pub const WIRE_VERSION: &str = "1";
/// The query parameter that carries the profile.
pub const QUERY_PARAM: &str = "profile";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid client profile: {0}")]
pub struct ProfileError(String);

impl ProfileError {
    pub fn code(&self) -> &'static str {
        "invalid_client_profile"
    }
}

/// What the browser decodes through Media Source Extensions (what hls.js feeds it) and plays
/// from a plain `<video src>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientProfile {
    /// H.264 8-bit 4:2:0, Baseline to High.
    pub h264: bool,
    /// H.264 High 10 (Hi10P); no browser decodes it in software today.
    pub h264_10bit: bool,
    pub hevc: bool,
    pub hevc_10bit: bool,
    /// AV1 Main, 8-bit.
    pub av1: bool,
    pub av1_10bit: bool,
    /// VP9 profile 0 (8-bit 4:2:0).
    pub vp9: bool,
    /// VP9 profile 2 (10-bit).
    pub vp9_profile2: bool,
    pub aac: bool,
    /// AAC with more than two channels.
    pub aac_multichannel: bool,
    pub mp3: bool,
    pub opus: bool,
    pub flac: bool,
    pub ac3: bool,
    pub eac3: bool,
    /// Progressive MP4 played directly with `<video src>`.
    pub mp4: bool,
    /// WebM played directly with `<video src>`.
    pub webm: bool,
    /// Matroska holding H.264 and AAC (or MP3, Opus, Vorbis, FLAC) played directly with
    /// `<video src>`: Chromium since its Matroska demuxer (156 answers "probably"), not
    /// Firefox or Safari. What Jellyfin's web client asks `canPlayType` before it direct
    /// plays an MKV.
    pub matroska: bool,
    /// The display shows HDR (`matchMedia('(dynamic-range: high)')`).
    pub hdr: bool,
    /// The largest picture height worth sending (a phone, a capped setting); `None`: any.
    pub max_height: Option<u32>,
}

type Field = fn(&mut ClientProfile) -> &mut bool;

/// Token ↔ field, in the canonical order of `to_wire`. A token's meaning never changes within
/// a wire version; a new capability gets a new token.
const TOKENS: &[(&str, Field)] = &[
    ("avc", |p| &mut p.h264),
    ("avc10", |p| &mut p.h264_10bit),
    ("hevc", |p| &mut p.hevc),
    ("hevc10", |p| &mut p.hevc_10bit),
    ("av1", |p| &mut p.av1),
    ("av1_10", |p| &mut p.av1_10bit),
    ("vp9", |p| &mut p.vp9),
    ("vp9p2", |p| &mut p.vp9_profile2),
    ("aac", |p| &mut p.aac),
    ("aac51", |p| &mut p.aac_multichannel),
    ("mp3", |p| &mut p.mp3),
    ("opus", |p| &mut p.opus),
    ("flac", |p| &mut p.flac),
    ("ac3", |p| &mut p.ac3),
    ("eac3", |p| &mut p.eac3),
    ("mp4", |p| &mut p.mp4),
    ("webm", |p| &mut p.webm),
    ("hdr", |p| &mut p.hdr),
    // Last: a token's position is its bit in `cache_key`, which names segments on disk.
    ("mkv", |p| &mut p.matroska),
];

/// Heights outside this range are not a real screen; refusing them keeps `max=0` from
/// asking for an impossible encode.
const MAX_HEIGHT_RANGE: std::ops::RangeInclusive<u32> = 144..=4320;

impl ClientProfile {
    /// Decodes nothing; the starting point of parsing.
    pub const NONE: ClientProfile = ClientProfile {
        h264: false,
        h264_10bit: false,
        hevc: false,
        hevc_10bit: false,
        av1: false,
        av1_10bit: false,
        vp9: false,
        vp9_profile2: false,
        aac: false,
        aac_multichannel: false,
        mp3: false,
        opus: false,
        flac: false,
        ac3: false,
        eac3: false,
        mp4: false,
        webm: false,
        matroska: false,
        hdr: false,
        max_height: None,
    };

    /// Parses the wire format; `None` or an empty string gives the default profile.
    pub fn from_query(value: Option<&str>) -> Result<ClientProfile, ProfileError> {
        match value {
            None => Ok(ClientProfile::default()),
            Some("") => Ok(ClientProfile::default()),
            Some(v) => ClientProfile::parse(v),
        }
    }

    pub fn parse(wire: &str) -> Result<ClientProfile, ProfileError> {
        if wire.len() > MAX_WIRE_LEN {
            return Err(ProfileError(format!("longer than {MAX_WIRE_LEN} bytes")));
        }
        if let Some(c) = wire
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "_=,:".contains(*c)))
        {
            return Err(ProfileError(format!("unexpected character {c:?}")));
        }
        let (version, tokens) = wire
            .split_once(':')
            .ok_or_else(|| ProfileError("expected '<version>:<tokens>'".into()))?;
        if version != WIRE_VERSION {
            return Err(ProfileError(format!(
                "unknown version {version:?} (this server reads version {WIRE_VERSION})"
            )));
        }
        let mut profile = ClientProfile::NONE;
        if tokens.is_empty() {
            // A browser that answered no to every probe: everything is transcoded.
            return Ok(profile);
        }
        for token in tokens.split(',') {
            if token.is_empty() {
                return Err(ProfileError("empty token".into()));
            }
            if let Some(value) = token.strip_prefix("max=") {
                let height = value
                    .parse::<u32>()
                    .ok()
                    .filter(|h| MAX_HEIGHT_RANGE.contains(h))
                    .ok_or_else(|| {
                        ProfileError(format!(
                            "max={value} is not a height between {} and {}",
                            MAX_HEIGHT_RANGE.start(),
                            MAX_HEIGHT_RANGE.end()
                        ))
                    })?;
                profile.max_height = Some(height);
            } else if let Some((_, field)) = TOKENS.iter().find(|(name, _)| *name == token) {
                *field(&mut profile) = true;
            }
            // Any other token is a capability this server does not know yet.
        }
        Ok(profile)
    }

    /// The canonical wire form: tokens in a fixed order, so equal profiles give equal strings.
    pub fn to_wire(&self) -> String {
        let mut copy = *self;
        let mut out = format!("{WIRE_VERSION}:");
        let mut first = true;
        for (name, field) in TOKENS {
            if *field(&mut copy) {
                if !first {
                    out.push(',');
                }
                out.push_str(name);
                first = false;
            }
        }
        if let Some(h) = self.max_height {
            if !first {
                out.push(',');
            }
            out.push_str(&format!("max={h}"));
        }
        out
    }

    /// A stable key for the caches whose content depends on the profile (plans, packaged
    /// segments). Filename-safe: one bit per token in `TOKENS` order, then the height cap.
    pub fn cache_key(&self) -> String {
        let mut copy = *self;
        let bits = TOKENS
            .iter()
            .enumerate()
            .filter(|(_, (_, field))| *field(&mut copy))
            .fold(0u32, |acc, (i, _)| acc | 1 << i);
        format!(
            "p{WIRE_VERSION}-{bits:05x}-{}",
            self.max_height.unwrap_or(0)
        )
    }
}

/// Conservative: what every browser with MSE plays (8-bit H.264 and AAC in MP4).
impl Default for ClientProfile {
    fn default() -> ClientProfile {
        ClientProfile {
            h264: true,
            aac: true,
            mp4: true,
            ..ClientProfile::NONE
        }
    }
}

impl fmt::Display for ClientProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROMIUM: &str = "1:avc,av1,av1_10,vp9,vp9p2,aac,mp3,opus,flac,mp4,webm";

    #[test]
    fn debian_chromium_profile_parses() {
        let p = ClientProfile::parse(CHROMIUM).unwrap();
        assert!(p.h264 && p.av1 && p.av1_10bit && p.vp9 && p.vp9_profile2);
        assert!(p.opus && p.flac && p.mp3 && p.aac && p.webm && p.mp4);
        assert!(!p.hevc && !p.ac3 && !p.eac3 && !p.hdr && !p.h264_10bit);
        assert_eq!(p.max_height, None);
        assert_eq!(p.to_wire(), CHROMIUM, "canonical form round-trips");
    }

    #[test]
    fn token_order_does_not_change_the_profile_or_its_cache_key() {
        let a = ClientProfile::parse("1:hevc,aac,avc,hdr,max=1080").unwrap();
        let b = ClientProfile::parse("1:max=1080,hdr,avc,aac,hevc").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.cache_key(), b.cache_key());
        assert_eq!(a.to_wire(), "1:avc,hevc,aac,hdr,max=1080");
    }

    #[test]
    fn different_profiles_have_different_cache_keys() {
        let keys: std::collections::HashSet<String> = [
            "1:avc,aac",
            "1:avc,aac,hevc",
            "1:avc,aac,hdr",
            "1:avc,aac,max=720",
            "1:avc,aac,max=1080",
        ]
        .iter()
        .map(|w| ClientProfile::parse(w).unwrap().cache_key())
        .collect();
        assert_eq!(keys.len(), 5);
    }

    #[test]
    fn cache_key_is_stable_across_releases() {
        // Persisted on disk: a change here throws away every packaged segment.
        assert_eq!(ClientProfile::default().cache_key(), "p1-08101-0");
        assert_eq!(
            ClientProfile::parse(CHROMIUM).unwrap().cache_key(),
            "p1-19df1-0"
        );
    }

    #[test]
    fn matroska_is_a_token_of_its_own_after_the_others() {
        let p = ClientProfile::parse("1:mkv,avc,aac,webm").unwrap();
        assert!(p.matroska && p.webm && p.h264);
        assert_eq!(p.to_wire(), "1:avc,aac,webm,mkv");
        assert!(!ClientProfile::parse(CHROMIUM).unwrap().matroska);
        // Added last, it moves no other token's bit: the keys above are unchanged.
        assert_ne!(
            p.cache_key(),
            ClientProfile::parse("1:avc,aac,webm").unwrap().cache_key()
        );
    }

    #[test]
    fn unknown_tokens_are_ignored() {
        let p = ClientProfile::parse("1:avc,aac,vvc,dolbyvision_p8,mp4").unwrap();
        assert_eq!(p, ClientProfile::default());
        assert_eq!(ClientProfile::parse("1:").unwrap(), ClientProfile::NONE);
    }

    #[test]
    fn missing_or_empty_profile_is_the_conservative_default() {
        let d = ClientProfile::from_query(None).unwrap();
        assert_eq!(d, ClientProfile::from_query(Some("")).unwrap());
        assert!(d.h264 && d.aac && d.mp4);
        assert!(!d.hevc && !d.av1 && !d.vp9 && !d.opus && !d.webm && !d.hdr);
        assert_eq!(d.to_wire(), "1:avc,aac,mp4");
    }

    #[test]
    fn malformed_profiles_are_refused_with_a_stable_code() {
        for bad in [
            "avc,aac",         // no version
            "2:avc,aac",       // a version this server does not read
            "1:avc,,aac",      // empty token
            "1:AVC",           // upper case
            "1:avc;aac",       // separator
            "1:avc,max=0",     // impossible height
            "1:avc,max=99999", // impossible height
            "1:avc,max=tall",  // not a number
            "1:avc aac",       // space
        ] {
            let err = ClientProfile::parse(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_client_profile", "{bad}");
        }
        let long = format!("1:{}", "avc,".repeat(100));
        assert!(
            ClientProfile::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("256")
        );
    }
}
