//! HLS packaging on demand with ffmpeg.
//!
//! The playlists are computed from the probe before any ffmpeg runs, so the player sees the
//! whole duration at once and can seek anywhere. Segment boundaries are fixed per file:
//! - remux (H.264 video copied): each boundary is a real keyframe, the first one at least
//!   `segment_seconds` after the previous boundary (keyframes were listed during the scan);
//! - transcode: every `segment_seconds`, with keyframes forced exactly there.
//!
//! A job is one ffmpeg process for one variant (`v` = video, `aN` = audio track N) that
//! starts at segment K (`-ss` to K's boundary) and cuts the following segments at the same
//! boundaries with the segment muxer (`-segment_times`) and `-copyts`, so whichever job
//! produced a segment, its timestamps and its place in the playlist agree. A request far from
//! what the running job is producing restarts it there (a seek); a job nobody asked anything
//! for `idle_timeout` seconds is killed; a semaphore bounds the ffmpeg processes; finished
//! segments are kept in `data_dir/hls-cache/` under an LRU size limit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::naming::{hls_language, hls_name};
use super::{LibraryConfig, LibraryError, confine};
use crate::store::Store;
use crate::store::media::MediaFile;

/// A request for a segment this many segments beyond what the job has produced waits for the
/// job rather than restarting it: hls.js asks sequentially, a seek jumps much further.
const AHEAD: i64 = 3;
/// Keyframe timestamps are printed with 6 decimals; cut points sit just before them.
const EPS: f64 = 0.001;

/// Which stream a playlist carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    Video,
    Audio(usize),
}

impl Variant {
    pub fn parse(s: &str) -> Option<Variant> {
        match s {
            "v" => Some(Variant::Video),
            _ => {
                let n = s.strip_prefix('a')?;
                if n.is_empty() || n.len() > 3 || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                n.parse().ok().map(Variant::Audio)
            }
        }
    }

    pub fn name(&self) -> String {
        match self {
            Variant::Video => "v".into(),
            Variant::Audio(n) => format!("a{n}"),
        }
    }
}

/// Segment boundaries of one file (absolute source timestamps, seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub starts: Vec<f64>,
    pub end: f64,
    pub remux: bool,
}

impl Plan {
    pub fn build(file: &MediaFile, keyframes: Option<&[f64]>, segment: f64) -> Plan {
        let start = file.probe.start_time;
        let end = start + file.probe.duration;
        let remux = file.probe.remux_video() && keyframes.is_some();
        let mut starts = vec![start];
        if let (true, Some(kf)) = (remux, keyframes) {
            for &k in kf {
                let last = *starts.last().expect("non-empty");
                if k >= last + segment && k < end - 0.5 {
                    starts.push(k);
                }
            }
        } else {
            let mut t = start + segment;
            while t < end - 0.5 {
                starts.push(t);
                t += segment;
            }
        }
        Plan { starts, end, remux }
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    pub fn duration_of(&self, i: usize) -> f64 {
        let next = self.starts.get(i + 1).copied().unwrap_or(self.end);
        (next - self.starts[i]).max(0.0)
    }

    /// The VOD media playlist, complete from the first request.
    pub fn media_playlist(&self) -> String {
        let target = (0..self.len())
            .map(|i| self.duration_of(i))
            .fold(0.0f64, f64::max)
            .ceil()
            .max(1.0) as u64;
        let mut out = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        );
        for i in 0..self.len() {
            out.push_str(&format!("#EXTINF:{:.6},\n{i}.ts\n", self.duration_of(i)));
        }
        out.push_str("#EXT-X-ENDLIST\n");
        out
    }

    /// The segment that contains source time `t` (seconds from the file's start).
    pub fn segment_at(&self, t: f64) -> usize {
        let abs = self.starts[0] + t;
        self.starts.partition_point(|s| *s <= abs).saturating_sub(1)
    }
}

/// The master playlist: one video variant, every audio track as a selectable rendition.
pub fn master_playlist(file: &MediaFile, plan: &Plan) -> String {
    let p = &file.probe;
    let video_codec = if plan.remux {
        p.video.rfc6381()
    } else {
        "avc1.640028".to_string()
    };
    let (w, h) = output_size(p.video.width, p.video.height, plan.remux);
    let bandwidth = p.bit_rate.unwrap_or(4_000_000).clamp(200_000, 60_000_000) * 11 / 10;
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    let mut names: Vec<String> = Vec::new();
    for (n, a) in p.audio.iter().enumerate() {
        // Both come from the file's own tags: whoever made the file chose them.
        let lang = hls_language(&a.lang);
        let mut name = hls_name(&a.label(), n);
        let base = name.clone();
        let mut k = 2;
        while names.contains(&name) {
            name = format!("{base} {k}");
            k += 1;
        }
        names.push(name.clone());
        let default = if n == default_audio(file) {
            "YES"
        } else {
            "NO"
        };
        out.push_str(&format!(
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",LANGUAGE=\"{}\",NAME=\"{}\",DEFAULT={default},AUTOSELECT=YES,CHANNELS=\"2\",URI=\"a{n}/index.m3u8\"\n",
            lang, name
        ));
    }
    if p.audio.is_empty() {
        out.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},CODECS=\"{video_codec}\",RESOLUTION={w}x{h}\nv/index.m3u8\n"
        ));
    } else {
        out.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},CODECS=\"{video_codec},mp4a.40.2\",RESOLUTION={w}x{h},AUDIO=\"audio\"\nv/index.m3u8\n"
        ));
    }
    out
}

fn default_audio(file: &MediaFile) -> usize {
    file.probe.audio.iter().position(|a| a.default).unwrap_or(0)
}

/// Transcoded video is at most 1080 lines high: 2 cores cannot encode 4K in real time.
fn output_size(w: u32, h: u32, remux: bool) -> (u32, u32) {
    if remux || h <= 1080 || h == 0 {
        return (w, h);
    }
    let nw = ((w as u64 * 1080 / h as u64) as u32) & !1;
    (nw, 1080)
}

struct Job {
    start: i64,
    /// Highest segment promoted into the cache by this job (start - 1 before the first).
    done: AtomicI64,
    last_request: AtomicU64,
    exited: AtomicBool,
    error: Mutex<Option<String>>,
    cancel: Notify,
    changed: Notify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct JobKey {
    file: i64,
    variant: Variant,
}

/// Serves HLS for library files. One per process, shared by every request.
pub struct Packager {
    inner: Arc<Inner>,
}

struct Inner {
    config: LibraryConfig,
    /// The library folders (canonical): a file is packaged only from inside them.
    roots: Vec<PathBuf>,
    cache_dir: PathBuf,
    store: Store,
    slots: Arc<Semaphore>,
    jobs: Mutex<HashMap<JobKey, Arc<Job>>>,
    plans: Mutex<HashMap<(i64, String), Arc<Plan>>>,
    lru: Mutex<Lru>,
    epoch: Instant,
}

#[derive(Default)]
struct Lru {
    entries: HashMap<PathBuf, (u64, u64)>,
    total: u64,
    clock: u64,
}

impl Lru {
    fn touch(&mut self, path: &Path) {
        self.clock += 1;
        if let Some(e) = self.entries.get_mut(path) {
            e.1 = self.clock;
        }
    }

    fn insert(&mut self, path: PathBuf, size: u64) {
        self.clock += 1;
        if let Some((old, _)) = self.entries.insert(path, (size, self.clock)) {
            self.total -= old;
        }
        self.total += size;
    }

    /// Drops the least recently used segments until the cache fits in `max`.
    fn evict(&mut self, max: u64) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if self.total <= max {
            return out;
        }
        let mut by_age: Vec<(u64, PathBuf, u64)> = self
            .entries
            .iter()
            .map(|(p, (size, at))| (*at, p.clone(), *size))
            .collect();
        by_age.sort_by_key(|(at, ..)| *at);
        for (_, path, size) in by_age {
            if self.total <= max {
                break;
            }
            self.entries.remove(&path);
            self.total -= size;
            out.push(path);
        }
        out
    }
}

impl Packager {
    pub fn new(
        config: LibraryConfig,
        roots: Vec<PathBuf>,
        cache_dir: PathBuf,
        store: Store,
    ) -> Packager {
        let mut lru = Lru::default();
        // Segments from a previous run are still valid (their folder names carry the file's
        // fingerprint); half-written job folders are not.
        if let Ok(files) = std::fs::read_dir(&cache_dir) {
            for file_dir in files.flatten() {
                for variant in std::fs::read_dir(file_dir.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    for entry in std::fs::read_dir(variant.path())
                        .into_iter()
                        .flatten()
                        .flatten()
                    {
                        let path = entry.path();
                        let name = entry.file_name().to_string_lossy().to_string();
                        if name.starts_with(".job-") {
                            let _ = std::fs::remove_dir_all(&path);
                        } else if let Ok(m) = entry.metadata() {
                            lru.insert(path, m.len());
                        }
                    }
                }
            }
        }
        let inner = Arc::new(Inner {
            slots: Arc::new(Semaphore::new(config.max_ffmpeg)),
            config,
            roots,
            cache_dir,
            store,
            jobs: Mutex::new(HashMap::new()),
            plans: Mutex::new(HashMap::new()),
            lru: Mutex::new(lru),
            epoch: Instant::now(),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(reap_idle(Arc::downgrade(&inner)));
        }
        Packager { inner }
    }

    pub async fn plan(&self, file: &MediaFile) -> Result<Arc<Plan>, LibraryError> {
        let key = (file.id, file.fingerprint());
        if let Some(p) = self.inner.plans.lock().expect("plans lock").get(&key) {
            return Ok(p.clone());
        }
        let keyframes = if file.probe.remux_video() {
            self.inner.store.keyframes(file.id).await?
        } else {
            None
        };
        let plan = Arc::new(Plan::build(
            file,
            keyframes.as_deref(),
            self.inner.config.segment_seconds,
        ));
        self.inner
            .plans
            .lock()
            .expect("plans lock")
            .insert(key, plan.clone());
        Ok(plan)
    }

    pub async fn master_playlist(&self, file: &MediaFile) -> Result<String, LibraryError> {
        let plan = self.plan(file).await?;
        Ok(master_playlist(file, &plan))
    }

    pub async fn media_playlist(
        &self,
        file: &MediaFile,
        variant: Variant,
    ) -> Result<String, LibraryError> {
        check_variant(file, variant)?;
        Ok(self.plan(file).await?.media_playlist())
    }

    /// The path of segment `index` of `variant`, packaging it first if needed.
    pub async fn segment(
        &self,
        file: &MediaFile,
        variant: Variant,
        index: usize,
    ) -> Result<PathBuf, LibraryError> {
        check_variant(file, variant)?;
        let plan = self.plan(file).await?;
        if index >= plan.len() {
            return Err(LibraryError::not_found(
                "segment_not_found",
                format!(
                    "segment {index} is beyond the end ({} segments)",
                    plan.len()
                ),
            ));
        }
        let dir = self
            .inner
            .cache_dir
            .join(format!("{}-{}", file.id, file.fingerprint()))
            .join(variant.name());
        let path = dir.join(format!("{index}.ts"));
        let key = JobKey {
            file: file.id,
            variant,
        };
        let deadline = Instant::now() + Duration::from_secs_f64(self.inner.config.segment_wait);
        let i = index as i64;
        loop {
            if tokio::fs::metadata(&path).await.is_ok() {
                self.inner.lru.lock().expect("lru lock").touch(&path);
                if let Some(job) = self.inner.jobs.lock().expect("jobs lock").get(&key) {
                    job.last_request
                        .store(self.inner.now_ms(), Ordering::Relaxed);
                }
                return Ok(path);
            }
            let job = self
                .inner
                .jobs
                .lock()
                .expect("jobs lock")
                .get(&key)
                .cloned();
            let job = match job {
                Some(job)
                    if !job.exited.load(Ordering::Acquire)
                        && job.start <= i
                        && i <= job.done.load(Ordering::Acquire) + 1 + AHEAD =>
                {
                    job
                }
                Some(job)
                    if job.exited.load(Ordering::Acquire)
                        && job.start <= i
                        && job.done.load(Ordering::Acquire) >= i =>
                {
                    // Produced, then evicted before we looked: package it again.
                    self.start_job(file, &plan, variant, index, &dir).await?
                }
                Some(job)
                    if job.exited.load(Ordering::Acquire)
                        && job.start <= i
                        && job.error.lock().expect("error lock").is_some() =>
                {
                    let err = job
                        .error
                        .lock()
                        .expect("error lock")
                        .clone()
                        .unwrap_or_default();
                    self.inner.jobs.lock().expect("jobs lock").remove(&key);
                    return Err(LibraryError::Package(err));
                }
                Some(job) if job.exited.load(Ordering::Acquire) && job.start <= i => {
                    // ffmpeg finished the file without this segment: the probe's duration
                    // was longer than the content.
                    return Err(LibraryError::not_found(
                        "segment_not_found",
                        format!("segment {index} has no content"),
                    ));
                }
                _ => self.start_job(file, &plan, variant, index, &dir).await?,
            };
            job.last_request
                .store(self.inner.now_ms(), Ordering::Relaxed);
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(LibraryError::Timeout(format!(
                    "segment {index} was not ready within {}s",
                    self.inner.config.segment_wait
                )));
            }
            // Woken when the job promotes a segment or exits; the timeout covers a missed wake.
            let _ = tokio::time::timeout(
                remaining.min(Duration::from_millis(100)),
                job.changed.notified(),
            )
            .await;
        }
    }

    /// How many ffmpeg packaging processes run now.
    pub fn running_jobs(&self) -> usize {
        self.inner
            .jobs
            .lock()
            .expect("jobs lock")
            .values()
            .filter(|j| !j.exited.load(Ordering::Acquire))
            .count()
    }

    async fn start_job(
        &self,
        file: &MediaFile,
        plan: &Arc<Plan>,
        variant: Variant,
        index: usize,
        dir: &Path,
    ) -> Result<Arc<Job>, LibraryError> {
        let key = JobKey {
            file: file.id,
            variant,
        };
        // A seek: the old job for this stream is now useless.
        if let Some(old) = self.inner.jobs.lock().expect("jobs lock").remove(&key) {
            old.cancel.notify_one();
        }
        let input = confine::media_input(&self.inner.roots, &file.path, &file.probe.format)?;
        let permit = self.acquire_slot(key).await?;
        // Another request for the same stream may have started a job while we waited.
        if let Some(job) = self.inner.jobs.lock().expect("jobs lock").get(&key) {
            let i = index as i64;
            if !job.exited.load(Ordering::Acquire)
                && job.start <= i
                && i <= job.done.load(Ordering::Acquire) + 1 + AHEAD
            {
                return Ok(job.clone());
            }
        }
        tokio::fs::create_dir_all(dir).await.map_err(|e| {
            LibraryError::Internal(format!("cannot create the HLS cache folder: {e}"))
        })?;
        let work = dir.join(format!(".job-{index}-{}", rand::random::<u32>()));
        tokio::fs::create_dir_all(&work).await.map_err(|e| {
            LibraryError::Internal(format!("cannot create the HLS work folder: {e}"))
        })?;
        let args = ffmpeg_args(
            file,
            &input,
            plan,
            variant,
            index,
            &work,
            &self.inner.config,
        );
        tracing::debug!(file = file.id, variant = %variant.name(), start = index, "starting ffmpeg: {}", args.join(" "));
        let mut child = Command::new(&self.inner.config.ffmpeg)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                LibraryError::Tool(format!("cannot run {}: {e}", self.inner.config.ffmpeg))
            })?;
        let job = Arc::new(Job {
            start: index as i64,
            done: AtomicI64::new(index as i64 - 1),
            last_request: AtomicU64::new(self.inner.now_ms()),
            exited: AtomicBool::new(false),
            error: Mutex::new(None),
            cancel: Notify::new(),
            changed: Notify::new(),
        });
        self.inner
            .jobs
            .lock()
            .expect("jobs lock")
            .insert(key, job.clone());
        let stderr = child.stderr.take();
        let inner = self.inner.clone();
        let dir = dir.to_path_buf();
        let run = job.clone();
        tokio::spawn(async move {
            supervise(inner, run, child, stderr, work, dir, permit).await;
        });
        Ok(job)
    }

    /// A free ffmpeg slot. When none is free, the job idle the longest (whose viewer paused
    /// or left) is stopped to make room; then the wait is bounded.
    async fn acquire_slot(&self, for_key: JobKey) -> Result<OwnedSemaphorePermit, LibraryError> {
        if let Ok(p) = self.inner.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        let now = self.inner.now_ms();
        let victim = {
            let jobs = self.inner.jobs.lock().expect("jobs lock");
            jobs.iter()
                .filter(|(k, j)| **k != for_key && !j.exited.load(Ordering::Acquire))
                .map(|(k, j)| {
                    (
                        *k,
                        j.clone(),
                        now.saturating_sub(j.last_request.load(Ordering::Relaxed)),
                    )
                })
                .filter(|(.., idle)| *idle >= 2_000)
                .max_by_key(|(.., idle)| *idle)
        };
        if let Some((k, job, _)) = victim {
            tracing::info!(
                file = k.file,
                "stopping an idle packaging job to free an ffmpeg slot"
            );
            self.inner.jobs.lock().expect("jobs lock").remove(&k);
            job.cancel.notify_one();
        }
        let wait = Duration::from_secs_f64(self.inner.config.segment_wait.min(10.0));
        match tokio::time::timeout(wait, self.inner.slots.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(LibraryError::Busy(format!(
                "all {} ffmpeg slots are busy; try again shortly",
                self.inner.config.max_ffmpeg
            ))),
        }
    }
}

impl Inner {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn add_to_cache(&self, path: PathBuf, size: u64) {
        let evicted = {
            let mut lru = self.lru.lock().expect("lru lock");
            lru.insert(path, size);
            lru.evict(self.config.cache_max_bytes)
        };
        for p in evicted {
            // Deleting a segment someone is downloading is fine on Unix: the open handle keeps it.
            let _ = std::fs::remove_file(p);
        }
    }
}

fn check_variant(file: &MediaFile, variant: Variant) -> Result<(), LibraryError> {
    match variant {
        Variant::Audio(n) if n >= file.probe.audio.len() => Err(LibraryError::not_found(
            "track_not_found",
            format!("audio track {n} does not exist"),
        )),
        _ => Ok(()),
    }
}

fn ffmpeg_args(
    file: &MediaFile,
    input: &Path,
    plan: &Plan,
    variant: Variant,
    index: usize,
    work: &Path,
    config: &LibraryConfig,
) -> Vec<String> {
    let p = &file.probe;
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
        .map(String::from)
        .to_vec();
    let start = plan.starts[index];
    if index > 0 {
        // Relative to the file's start; for a copied stream ffmpeg lands on the keyframe at or
        // before this time, which is exactly the boundary (hence + EPS).
        let ss = start - p.start_time
            + if plan.remux && variant == Variant::Video {
                EPS
            } else {
                0.0
            };
        a.extend(["-ss".into(), format!("{ss:.6}")]);
    }
    a.extend(confine::input_args(&p.format));
    a.extend(["-i".into(), input.to_string_lossy().to_string()]);
    // The source's own timestamps, so segments from different jobs line up.
    a.extend(["-copyts".into(), "-sn".into(), "-dn".into()]);
    match variant {
        Variant::Video => {
            a.extend(["-map".into(), format!("0:{}", p.video.index), "-an".into()]);
            if plan.remux {
                a.extend(["-c:v".into(), "copy".into()]);
            } else {
                let seg = config.segment_seconds;
                a.extend(
                    [
                        "-c:v",
                        "libx264",
                        "-preset",
                        &config.transcode_preset,
                        "-profile:v",
                        "high",
                        "-pix_fmt",
                        "yuv420p",
                        "-crf",
                        "23",
                        "-maxrate",
                        "8M",
                        "-bufsize",
                        "16M",
                        "-sc_threshold",
                        "0",
                        "-vf",
                        "scale=-2:'min(ih,1080)'",
                    ]
                    .map(String::from),
                );
                a.extend([
                    "-force_key_frames".into(),
                    format!("expr:gte(t,{start:.6}+n_forced*{seg})"),
                ]);
            }
        }
        Variant::Audio(n) => {
            let track = &p.audio[n];
            a.extend(["-map".into(), format!("0:{}", track.index), "-vn".into()]);
            if track.copyable() {
                a.extend(["-c:a".into(), "copy".into()]);
            } else {
                a.extend(["-c:a", "aac", "-ac", "2", "-b:a", "160k"].map(String::from));
            }
        }
    }
    // After a seek, the demuxer may land well before the boundary (Matroska seeks to a
    // cluster). Whatever precedes the boundary goes to segment K-1, which is thrown away, so
    // segment K starts exactly at its boundary; `write_empty_segments` keeps the numbering
    // when nothing precedes it.
    let first_cut = if index > 0 { index } else { index + 1 };
    let cuts: Vec<String> = plan.starts[first_cut..]
        .iter()
        .map(|t| format!("{:.6}", t - EPS))
        .collect();
    // Each segment is its own MPEG-TS mux, so continuity counters restart; flagging the first
    // packet as a discontinuity tells demuxers that this is expected (otherwise ffmpeg reading
    // the playlist reports the last packet of every segment as corrupt).
    a.extend(
        [
            "-f",
            "segment",
            "-segment_format",
            "mpegts",
            "-segment_format_options",
            "mpegts_flags=+initial_discontinuity",
        ]
        .map(String::from),
    );
    if !cuts.is_empty() {
        a.extend(["-segment_times".into(), cuts.join(",")]);
    } else {
        a.extend(["-segment_time".into(), "100000".into()]);
    }
    let number = if index > 0 { index - 1 } else { 0 };
    a.extend([
        "-write_empty_segments".into(),
        "1".into(),
        "-segment_start_number".into(),
        number.to_string(),
        work.join("%d.ts").to_string_lossy().to_string(),
    ]);
    a
}

/// Watches one ffmpeg job: promotes finished segments into the cache, stops it on cancel,
/// records how it ended, and frees its slot.
#[allow(clippy::too_many_arguments)]
async fn supervise(
    inner: Arc<Inner>,
    job: Arc<Job>,
    mut child: tokio::process::Child,
    stderr: Option<tokio::process::ChildStderr>,
    work: PathBuf,
    dir: PathBuf,
    permit: OwnedSemaphorePermit,
) {
    let stderr_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        if let Some(mut s) = stderr {
            let _ = s.read_to_end(&mut buf).await;
        }
        String::from_utf8_lossy(&buf).to_string()
    });
    let mut tick = tokio::time::interval(Duration::from_millis(30));
    let cancelled;
    let status = loop {
        tokio::select! {
            status = child.wait() => { cancelled = false; break status.ok(); }
            _ = job.cancel.notified() => {
                let _ = child.kill().await;
                cancelled = true;
                break None;
            }
            _ = tick.tick() => {
                promote(&inner, &job, &work, &dir, false);
            }
        }
    };
    let success = status.is_some_and(|s| s.success());
    promote(&inner, &job, &work, &dir, success);
    if !success && !cancelled {
        let err = stderr_task.await.unwrap_or_default();
        let line = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("ffmpeg failed")
            .to_string();
        tracing::warn!(error = %line, "packaging failed");
        *job.error.lock().expect("error lock") = Some(format!("ffmpeg failed: {line}"));
    }
    let _ = tokio::fs::remove_dir_all(&work).await;
    job.exited.store(true, Ordering::Release);
    job.changed.notify_waiters();
    drop(permit);
}

/// Moves finished segments from the job's work folder into the cache. A segment is finished
/// when the next one exists (the segment muxer writes them in order) or ffmpeg exited cleanly.
fn promote(inner: &Inner, job: &Job, work: &Path, dir: &Path, all: bool) {
    let mut next = job.done.load(Ordering::Acquire) + 1;
    let mut moved = false;
    loop {
        let cur = work.join(format!("{next}.ts"));
        if !cur.exists() {
            break;
        }
        let finished = all || work.join(format!("{}.ts", next + 1)).exists();
        if !finished {
            break;
        }
        let dest = dir.join(format!("{next}.ts"));
        if dest.exists() {
            let _ = std::fs::remove_file(&cur);
        } else if std::fs::rename(&cur, &dest).is_ok() {
            if let Ok(m) = std::fs::metadata(&dest) {
                inner.add_to_cache(dest, m.len());
            }
        }
        job.done.store(next, Ordering::Release);
        moved = true;
        next += 1;
    }
    if moved {
        job.changed.notify_waiters();
    }
}

/// Kills jobs nobody asked anything of for `idle_timeout` and forgets exited ones.
async fn reap_idle(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(inner) = inner.upgrade() else { return };
        let now = inner.now_ms();
        let idle_ms = (inner.config.idle_timeout * 1000.0) as u64;
        let mut jobs = inner.jobs.lock().expect("jobs lock");
        jobs.retain(|key, job| {
            if job.exited.load(Ordering::Acquire) {
                // Keep a failed job a little so its waiters can read the error.
                return now.saturating_sub(job.last_request.load(Ordering::Relaxed)) < 10_000
                    && job.error.lock().expect("error lock").is_some();
            }
            if now.saturating_sub(job.last_request.load(Ordering::Relaxed)) > idle_ms {
                tracing::debug!(file = key.file, variant = %key.variant.name(), "stopping an idle packaging job");
                job.cancel.notify_one();
                return false;
            }
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(starts: &[f64], end: f64) -> Plan {
        Plan {
            starts: starts.to_vec(),
            end,
            remux: true,
        }
    }

    #[test]
    fn the_playlist_covers_the_whole_duration() {
        let p = plan(&[0.0, 6.0, 12.0], 15.5);
        let m3u8 = p.media_playlist();
        assert!(m3u8.contains("#EXT-X-PLAYLIST-TYPE:VOD"));
        assert!(m3u8.contains("#EXTINF:3.500000,\n2.ts"));
        assert!(m3u8.ends_with("#EXT-X-ENDLIST\n"));
        assert!(m3u8.contains("#EXT-X-TARGETDURATION:6"));
        assert_eq!(p.segment_at(13.0), 2);
        assert_eq!(p.segment_at(0.0), 0);
        assert_eq!(p.segment_at(6.0), 1);
    }

    #[test]
    fn variants_parse() {
        assert_eq!(Variant::parse("v"), Some(Variant::Video));
        assert_eq!(Variant::parse("a2"), Some(Variant::Audio(2)));
        for bad in ["", "a", "x1", "a-1", "a1000", "../v"] {
            assert_eq!(Variant::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn lru_evicts_the_oldest_first() {
        let mut lru = Lru::default();
        lru.insert("a".into(), 10);
        lru.insert("b".into(), 10);
        lru.insert("c".into(), 10);
        lru.touch(Path::new("a"));
        let gone = lru.evict(20);
        assert_eq!(gone, vec![PathBuf::from("b")]);
        assert_eq!(lru.total, 20);
    }

    #[test]
    fn big_videos_are_scaled_to_1080_lines_when_transcoded() {
        assert_eq!(output_size(3840, 2160, false), (1920, 1080));
        assert_eq!(output_size(3840, 2160, true), (3840, 2160));
        assert_eq!(output_size(320, 180, false), (320, 180));
    }
}
