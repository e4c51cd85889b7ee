//! Each class of real file, probed by ffprobe and planned for Debian's Chromium and for an
//! HEVC + AC-3 + HDR browser: the mode and what happens to each stream.

use sokoul::playback::plan::{
    AudioAction, Mode, Plan, Quality, Request, SegmentFormat, SubtitleDelivery, VideoAction,
    VideoFilter,
};
use sokoul::playback::{ClientProfile, plan};

use crate::fixtures::{ALL, Fixture};
use crate::{chromium, hevc_hdr};

fn planned(f: Fixture, profile: &ClientProfile, req: &Request) -> Plan {
    plan(&f.media(), profile, req).unwrap_or_else(|e| panic!("{}: {e}", f.name()))
}

fn original(f: Fixture, profile: &ClientProfile) -> Plan {
    planned(f, profile, &Request::default())
}

fn video_filters(p: &Plan) -> Vec<VideoFilter> {
    match &p.video.as_ref().expect("video").action {
        VideoAction::TranscodeH264 { filters, .. } => filters.clone(),
        VideoAction::Copy => panic!("video copied: {}", p.summary()),
    }
}

fn video_copied(p: &Plan) -> bool {
    p.video.as_ref().expect("video").action == VideoAction::Copy
}

fn audio(p: &Plan) -> AudioAction {
    p.audio.as_ref().expect("audio").action
}

#[test]
fn every_fixture_probes_and_plans_for_both_browsers() {
    for f in ALL {
        for profile in [chromium(), hevc_hdr(), ClientProfile::default()] {
            let p = planned(f, &profile, &Request::default());
            assert!(!p.summary().is_empty());
        }
    }
}

#[test]
fn h264_with_ac3_tracks_is_remuxed_for_an_ac3_browser_and_gets_aac_in_chromium() {
    let f = Fixture::H264Ac3MultiAudio;
    let c = original(f, &chromium());
    assert_eq!(c.mode, Mode::Transcode);
    assert!(video_copied(&c), "{}", c.summary());
    // The French 5.1 track is the default; Chromium declares no multichannel AAC.
    assert_eq!(c.audio.as_ref().unwrap().stream, 1);
    assert_eq!(audio(&c), AudioAction::TranscodeAac { channels: 2 });
    assert_eq!(c.segments, Some(SegmentFormat::Ts));

    let h = original(f, &hevc_hdr());
    assert_eq!(h.mode, Mode::DirectStream, "{}", h.summary());
    assert!(video_copied(&h));
    assert_eq!(audio(&h), AudioAction::Copy);
    assert_eq!(h.segments, Some(SegmentFormat::Fmp4));

    // The English track, chosen: still copied where AC-3 decodes.
    let en = Request {
        audio: Some(2),
        ..Request::default()
    };
    let h = planned(f, &hevc_hdr(), &en);
    assert_eq!(
        (h.audio.as_ref().unwrap().stream, audio(&h)),
        (2, AudioAction::Copy)
    );
    assert_eq!(
        audio(&planned(f, &chromium(), &en)),
        AudioAction::TranscodeAac { channels: 2 }
    );
}

#[test]
fn hdr10_is_tone_mapped_for_chromium_and_played_directly_on_an_hdr_display() {
    let f = Fixture::HevcMain10Hdr10;
    let c = original(f, &chromium());
    assert_eq!(c.mode, Mode::Transcode);
    assert!(
        video_filters(&c)
            .iter()
            .any(|x| matches!(x, VideoFilter::Tonemap(_)))
    );
    assert!(
        c.video.as_ref().unwrap().reason.contains("HEVC Main10"),
        "{}",
        c.summary()
    );
    assert_eq!(audio(&c), AudioAction::TranscodeAac { channels: 2 });

    let h = original(f, &hevc_hdr());
    assert_eq!(h.mode, Mode::DirectPlay, "{}", h.summary());
    assert!(video_copied(&h) && audio(&h) == AudioAction::Copy);
}

#[test]
fn av1_and_vp9_with_opus_play_without_reencoding_in_chromium() {
    for f in [Fixture::Av1OpusMkv, Fixture::Vp9OpusWebm] {
        let c = original(f, &chromium());
        assert_eq!(c.mode, Mode::DirectPlay, "{}: {}", f.name(), c.summary());
        // Through hls.js instead of <video src>: remuxed into fMP4, still nothing re-encoded.
        let no_webm = ClientProfile {
            webm: false,
            matroska: false,
            ..chromium()
        };
        let r = original(f, &no_webm);
        assert_eq!(r.mode, Mode::DirectStream, "{}", r.summary());
        assert_eq!(r.segments, Some(SegmentFormat::Fmp4));

        let h = original(f, &hevc_hdr());
        assert_eq!(h.mode, Mode::Transcode);
        assert!(!video_copied(&h));
        assert_eq!(audio(&h), AudioAction::TranscodeAac { channels: 2 });
    }
}

#[test]
fn interlaced_mpeg2_is_deinterlaced_for_every_browser() {
    for profile in [chromium(), hevc_hdr()] {
        let p = original(Fixture::Mpeg2InterlacedTs, &profile);
        assert_eq!(p.mode, Mode::Transcode);
        assert_eq!(video_filters(&p).first(), Some(&VideoFilter::Deinterlace));
        assert!(p.video.as_ref().unwrap().reason.contains("interlaced"));
        assert!(
            matches!(audio(&p), AudioAction::TranscodeAac { .. }),
            "MP2 is not decoded"
        );
    }
}

#[test]
fn xvid_is_transcoded_and_its_mp3_kept() {
    for profile in [chromium(), hevc_hdr()] {
        let p = original(Fixture::XvidMp3Avi, &profile);
        assert_eq!(p.mode, Mode::Transcode);
        assert!(p.video.as_ref().unwrap().reason.contains("MPEG-4 Part 2"));
        assert_eq!(audio(&p), AudioAction::Copy);
    }
}

#[test]
fn a_rotated_phone_video_is_turned_upright_in_chromium_and_played_as_is_in_safari() {
    let f = Fixture::PhonePortraitRotated;
    assert_eq!(f.media().faststart, Some(false));
    let c = original(f, &chromium());
    assert_eq!(c.mode, Mode::Transcode);
    assert!(
        video_filters(&c)
            .iter()
            .any(|x| matches!(x, VideoFilter::Rotate(90 | 270)))
    );
    assert_eq!(audio(&c), AudioAction::Copy);

    // HEVC decodes: the file itself, whose track header the browser rotates (a remux by
    // ffmpeg 5.1's HLS muxer would drop the rotation).
    let h = original(f, &hevc_hdr());
    assert_eq!(h.mode, Mode::DirectPlay, "{}", h.summary());
}

#[test]
fn hi10p_is_transcoded_and_its_styled_ass_offered_for_a_libass_renderer() {
    let f = Fixture::H264Hi10pAss;
    for profile in [chromium(), hevc_hdr()] {
        let p = original(f, &profile);
        assert_eq!(p.mode, Mode::Transcode);
        assert!(
            p.video.as_ref().unwrap().reason.contains("Hi10P"),
            "{}",
            p.summary()
        );
        assert_eq!(audio(&p), AudioAction::Copy);
        assert_eq!(p.subtitles.len(), 1);
        assert_eq!(p.subtitles[0].delivery, SubtitleDelivery::Ass);
    }
    let burn = Request {
        burn_subtitle: Some(2),
        ..Request::default()
    };
    let p = planned(f, &chromium(), &burn);
    assert!(video_filters(&p).contains(&VideoFilter::BurnTextSubtitle(2)));
}

#[test]
fn uhd_hevc_is_scaled_only_when_a_lower_quality_is_asked_for() {
    let f = Fixture::Hevc4k;
    let c = original(f, &chromium());
    assert_eq!(c.mode, Mode::Transcode);
    assert!(
        !video_filters(&c)
            .iter()
            .any(|x| matches!(x, VideoFilter::ScaleToHeight(_)))
    );
    assert!(c.audio.is_none());

    let h = original(f, &hevc_hdr());
    assert_eq!(
        h.mode,
        Mode::DirectStream,
        "Matroska is remuxed: {}",
        h.summary()
    );
    assert!(video_copied(&h));

    for (quality, height, kbps) in [(Quality::P1080, 1080, 8_000), (Quality::P720, 720, 4_000)] {
        let req = Request {
            quality,
            ..Request::default()
        };
        let p = planned(f, &hevc_hdr(), &req);
        match &p.video.as_ref().unwrap().action {
            VideoAction::TranscodeH264 { filters, max_kbps } => {
                assert_eq!(filters, &vec![VideoFilter::ScaleToHeight(height)]);
                assert_eq!(*max_kbps, kbps);
            }
            VideoAction::Copy => panic!("copied at {quality:?}"),
        }
    }
}

#[test]
fn dts_and_truehd_become_aac_with_51_kept_where_declared() {
    for f in [Fixture::DtsLongFilm, Fixture::TrueHd] {
        let c = original(f, &chromium());
        assert!(video_copied(&c));
        assert_eq!(
            audio(&c),
            AudioAction::TranscodeAac { channels: 2 },
            "{}",
            f.name()
        );
        assert_eq!(c.segments, Some(SegmentFormat::Ts));
        let h = original(f, &hevc_hdr());
        assert!(video_copied(&h));
        assert_eq!(
            audio(&h),
            AudioAction::TranscodeAac { channels: 6 },
            "{}",
            f.name()
        );
    }
    assert!(Fixture::DtsLongFilm.media().duration.unwrap() >= 7199.0);
}

#[test]
fn an_image_subtitle_is_offered_and_burned_only_when_chosen() {
    let f = Fixture::MkvImageSubtitle;
    let h = original(f, &hevc_hdr());
    assert_eq!(h.mode, Mode::DirectStream);
    let sub = h.subtitles.first().expect("offered");
    assert_eq!(sub.delivery, SubtitleDelivery::BurnIn);

    let burn = Request {
        burn_subtitle: Some(sub.stream),
        ..Request::default()
    };
    for profile in [chromium(), hevc_hdr()] {
        let p = planned(f, &profile, &burn);
        assert_eq!(p.mode, Mode::Transcode);
        assert_eq!(
            video_filters(&p),
            vec![VideoFilter::OverlayImageSubtitle(sub.stream)]
        );
    }
}

/// Regenerates `tests/fixtures/ffprobe/*.json` (the unit tests of `src/playback/media.rs`)
/// from freshly generated files: `cargo test --test playback -- --ignored record`.
#[test]
#[ignore = "writes into the source tree"]
fn record_ffprobe_json() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ffprobe");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ALL {
        let json: serde_json::Value = serde_json::from_slice(&f.ffprobe_json()).unwrap();
        let mut text = serde_json::to_string_pretty(&json).unwrap();
        // The temp dir's name changes every run.
        text = text.replace(f.path().parent().unwrap().to_str().unwrap(), "/fixtures");
        std::fs::write(dir.join(format!("{}.json", f.name())), text + "\n").unwrap();
    }
}
