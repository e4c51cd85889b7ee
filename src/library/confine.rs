//! Keeping the library inside its folders. Anyone who can write into a library folder can
//! plant a symbolic link (`Film.en.vtt -> /proc/self/environ`) or a text file that a demuxer
//! follows to other files (`Film.ts` holding an HLS playlist); both would make the server read
//! and serve files it never meant to. So every file the library opens must resolve, links
//! followed, to a path inside one of the (canonical) library roots; sidecars are opened
//! without following a final link and must be regular files under a size cap; ffmpeg and
//! ffprobe may only use the `file` protocol, and demuxers that open other files on a file's
//! behalf are refused.

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::LibraryError;

/// Demuxers that read a list of other files or URLs rather than media. ffmpeg picks the
/// demuxer from the content, whatever the name: a text file named `Film.ts` that starts with
/// `#EXTM3U` is played as HLS (ffmpeg 5.1 does not look at the extension). `applehttp` is
/// HLS's old name; `concat` also reads `ffconcat` files; `dash` and `imf` read manifests
/// naming other files; `sdp`/`rtsp` open network streams.
pub const REFUSED_DEMUXERS: &[&str] = &[
    "hls",
    "applehttp",
    "concat",
    "dash",
    "imf",
    "webm_dash_manifest",
    "sdp",
    "rtsp",
    "rtp",
];

/// Why a path was not opened.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("it links outside the library folders")]
    Outside,
    #[error("not a regular file")]
    NotRegular,
    #[error("{size} bytes, over the {max}-byte limit")]
    TooLarge { size: u64, max: u64 },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// `path` with every link resolved, when that lies inside one of `roots` (which are
/// canonical), with the index of that root. A link inside the library to another place inside
/// it is fine; a link out is not.
pub fn resolve(roots: &[PathBuf], path: &Path) -> Result<(PathBuf, usize), Refusal> {
    let canonical = std::fs::canonicalize(path)?;
    let root = roots
        .iter()
        .position(|r| canonical.starts_with(r))
        .ok_or(Refusal::Outside)?;
    Ok((canonical, root))
}

/// Opens a library file for reading: inside a root, a regular file, never a link that changed
/// since it was resolved. The final component is opened with `O_NOFOLLOW` (a link swapped in
/// after `resolve` fails with `ELOOP`), `O_NONBLOCK` (a FIFO swapped in does not block the
/// open), and the checks that matter are made on the opened descriptor: its type from
/// `fstat`, and on Linux where it really is (`/proc/self/fd`), which also catches a folder
/// higher up swapped for a link in between.
pub fn open_regular(roots: &[PathBuf], path: &Path) -> Result<(File, Metadata), Refusal> {
    let (canonical, root) = resolve(roots, path)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&canonical)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                Refusal::Outside
            } else {
                Refusal::Io(e)
            }
        })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(Refusal::NotRegular);
    }
    if let Ok(real) = std::fs::read_link(format!("/proc/self/fd/{}", fd_of(&file))) {
        if !real.starts_with(&roots[root]) {
            return Err(Refusal::Outside);
        }
    }
    Ok((file, meta))
}

fn fd_of(file: &File) -> i32 {
    use std::os::fd::AsRawFd;
    file.as_raw_fd()
}

/// Reads an opened file whole, refusing it past `max` bytes even if it grew after `fstat`.
pub fn read_capped(file: File, max: u64) -> Result<Vec<u8>, Refusal> {
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(Refusal::TooLarge {
            size: bytes.len() as u64,
            max,
        });
    }
    Ok(bytes)
}

/// The refused demuxer among ffprobe's `format_name` (`mov,mp4,m4a,…` lists aliases).
pub fn refused_demuxer(format_name: &str) -> Option<&'static str> {
    format_name
        .split(',')
        .find_map(|f| REFUSED_DEMUXERS.iter().find(|r| **r == f.trim()).copied())
}

/// ffmpeg/ffprobe input options for a library file, placed before its `-i`: local files only
/// (no `http:`, `tcp:`, `concat:`, `subfile:` protocols), and, once the file was probed, only
/// the demuxer ffprobe found then, so a file replaced by a playlist after the scan is not
/// followed either. `format` is ffprobe's `format_name`, empty before the first probe.
pub fn input_args(format: &str) -> Vec<String> {
    let mut args = vec!["-protocol_whitelist".to_string(), "file".to_string()];
    let plain = |f: &str| {
        !f.is_empty()
            && f.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b',')
    };
    if plain(format) {
        args.extend(["-format_whitelist".to_string(), format.to_string()]);
    }
    args
}

/// The path to hand ffmpeg (or to serve) for a library video: canonical, inside a root, a
/// regular file, and not a playlist by its stored probe (a file indexed before playlists were
/// refused keeps its row until it changes). The file is checked again at every use because
/// it may have been replaced by a link since the scan.
pub fn media_input(roots: &[PathBuf], path: &Path, format: &str) -> Result<PathBuf, LibraryError> {
    if let Some(demuxer) = refused_demuxer(format) {
        return Err(LibraryError::Probe(format!(
            "refused: ffprobe read it as '{demuxer}', a list of other files rather than a video"
        )));
    }
    let gone = || {
        LibraryError::not_found(
            "media_not_found",
            "the file is gone from the disk; rescan the library",
        )
    };
    let (canonical, _) = resolve(roots, path).map_err(|e| match e {
        Refusal::Outside => LibraryError::not_found(
            "media_not_found",
            "the file now links outside the library folders; rescan the library",
        ),
        _ => gone(),
    })?;
    match std::fs::metadata(&canonical) {
        Ok(m) if m.is_file() => Ok(canonical),
        _ => Err(gone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlist_demuxers_are_refused_and_containers_are_not() {
        assert_eq!(refused_demuxer("hls"), Some("hls"));
        assert_eq!(refused_demuxer("concat"), Some("concat"));
        assert_eq!(refused_demuxer("mov,mp4,m4a,3gp,3g2,mj2"), None);
        assert_eq!(refused_demuxer("matroska,webm"), None);
        assert_eq!(refused_demuxer("mpegts"), None);
    }

    #[test]
    fn input_args_whitelist_the_probed_demuxer_only_when_it_is_a_plain_name() {
        assert_eq!(
            input_args("matroska,webm"),
            [
                "-protocol_whitelist",
                "file",
                "-format_whitelist",
                "matroska,webm"
            ]
        );
        assert_eq!(input_args(""), ["-protocol_whitelist", "file"]);
        assert_eq!(input_args("x -i y"), ["-protocol_whitelist", "file"]);
    }

    #[test]
    fn links_out_of_the_root_are_refused_and_links_within_it_are_not() {
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, "s3cret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let roots = vec![root.clone()];
        std::fs::write(root.join("real.srt"), "x").unwrap();
        std::os::unix::fs::symlink(root.join("real.srt"), root.join("inside.srt")).unwrap();
        std::os::unix::fs::symlink(&secret, root.join("out.srt")).unwrap();
        std::os::unix::fs::symlink("/proc/self/environ", root.join("env.srt")).unwrap();

        let (file, meta) = open_regular(&roots, &root.join("inside.srt")).unwrap();
        assert_eq!(meta.len(), 1);
        assert_eq!(read_capped(file, 10).unwrap(), b"x");
        for name in ["out.srt", "env.srt"] {
            assert!(
                matches!(
                    open_regular(&roots, &root.join(name)),
                    Err(Refusal::Outside)
                ),
                "{name}"
            );
        }
        std::fs::create_dir(root.join("folder.srt")).unwrap();
        assert!(matches!(
            open_regular(&roots, &root.join("folder.srt")),
            Err(Refusal::NotRegular)
        ));
        let (file, _) = open_regular(&roots, &root.join("real.srt")).unwrap();
        assert!(matches!(
            read_capped(file, 0),
            Err(Refusal::TooLarge { max: 0, .. })
        ));
    }
}
