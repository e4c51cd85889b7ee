//! The playback engine on real media: files generated with ffmpeg (`fixtures`), probed,
//! planned for two browsers (`decisions`), and a few plans run through ffmpeg (`packaging`).

mod decisions;
mod fixtures;
mod packaging;

use sokoul::playback::ClientProfile;

/// Debian's Chromium (`docs/playback.md`): H.264 8-bit, AV1, VP9 profiles 0 and 2, AAC, MP3,
/// Opus, FLAC, Matroska with H.264 from a file; no HEVC, no AC-3/E-AC-3, SDR display.
pub fn chromium() -> ClientProfile {
    ClientProfile::parse("1:avc,av1,av1_10,vp9,vp9p2,aac,mp3,opus,flac,mp4,webm,mkv").unwrap()
}

/// Safari or Edge on an HDR display: HEVC Main/Main10, AC-3 and E-AC-3, multichannel AAC.
pub fn hevc_hdr() -> ClientProfile {
    ClientProfile::parse("1:avc,hevc,hevc10,aac,aac51,mp3,flac,ac3,eac3,mp4,hdr").unwrap()
}
