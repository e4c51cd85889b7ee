//! `sokoul doctor`: checks what the server needs on this machine and explains what is wrong.
//!
//! Each check is a small function of the settings and an [`Environment`] (the `PATH`, the
//! language, whether `SOKOUL_SECRET` is set) that yields one [`Check`]; tests inject the
//! environment. A check *fails* only when something the server needs is missing or broken
//! (the exit status is non-zero then); what merely degrades a feature is a *warning*.
//! Nothing here prints a key, a token or a URL's path or query: provider URLs are shown by
//! their origin only (Stremio addon paths often carry a debrid key).

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::Serialize;

use crate::config::Settings;
use crate::library::naming::is_video;
use crate::upstream::{self, guard::Guard};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable identifier (`ffmpeg`, `data_dir`, `provider.jellyfin`, `library.1`…).
    pub id: String,
    pub status: Status,
    pub message: String,
    /// What to do about it; `None` when there is nothing to do.
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every needed check passed (no `fail`).
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    fn new(checks: Vec<Check>) -> Self {
        Report {
            ok: checks.iter().all(|c| c.status != Status::Fail),
            checks,
        }
    }

    /// One line per check, then a summary line.
    pub fn render_text(&self, lang: Lang) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let mark = match c.status {
                Status::Ok => "✓",
                Status::Warn => "!",
                Status::Fail => "✗",
            };
            out.push_str(&format!("{mark} {}", c.message));
            if let Some(hint) = &c.hint {
                out.push_str(" — ");
                out.push_str(hint);
            }
            out.push('\n');
        }
        let failed = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count();
        out.push_str(&if failed == 0 {
            lang.t(
                "Everything Sokoul needs is in place.",
                "Tout ce dont Sokoul a besoin est en place.",
            )
        } else {
            lang.t(
                format!("{failed} needed check(s) failed."),
                format!("{failed} vérification(s) indispensable(s) en échec."),
            )
        });
        out.push('\n');
        out
    }
}

/// The language of the messages, from the terminal's locale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    /// POSIX precedence for messages: `LC_ALL`, then `LC_MESSAGES`, then `LANG`; the first
    /// one set and non-empty decides. `fr`, `fr_FR.UTF-8`, `fr_CA`… are French.
    pub fn from_locale(get: impl Fn(&str) -> Option<String>) -> Lang {
        let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .into_iter()
            .filter_map(&get)
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        if locale.to_ascii_lowercase().starts_with("fr") {
            Lang::Fr
        } else {
            Lang::En
        }
    }

    fn t(self, en: impl Into<String>, fr: impl Into<String>) -> String {
        match self {
            Lang::En => en.into(),
            Lang::Fr => fr.into(),
        }
    }
}

/// What the checks read from the process environment, so tests can replace it.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The `PATH` programs are looked up in.
    pub path: Option<OsString>,
    pub lang: Lang,
    /// `SOKOUL_SECRET` is set (rather than `secret` in the config file).
    pub secret_from_env: bool,
}

impl Environment {
    pub fn from_process() -> Self {
        let get = |k: &str| std::env::var(k).ok();
        Environment {
            path: std::env::var_os("PATH"),
            lang: Lang::from_locale(get),
            secret_from_env: std::env::var_os("SOKOUL_SECRET").is_some_and(|v| !v.is_empty()),
        }
    }
}

/// Runs every check; independent network checks run concurrently.
pub async fn run(settings: &Settings, env: &Environment) -> Report {
    let lang = env.lang;
    let mut checks = Vec::new();
    let needs_ffmpeg = settings.library.enabled;
    let ffmpeg = find_program(&settings.library.ffmpeg, env.path.as_deref());
    let ffprobe = find_program(&settings.library.ffprobe, env.path.as_deref());
    let (ffmpeg_version, ffprobe_version) =
        futures::future::join(version(ffmpeg.as_deref()), version(ffprobe.as_deref())).await;
    checks.push(program_check(
        lang,
        "ffmpeg",
        &settings.library.ffmpeg,
        ffmpeg.as_deref().zip(ffmpeg_version.as_deref()),
        needs_ffmpeg,
    ));
    checks.push(program_check(
        lang,
        "ffprobe",
        &settings.library.ffprobe,
        ffprobe.as_deref().zip(ffprobe_version.as_deref()),
        needs_ffmpeg,
    ));
    if let Some(ffmpeg) = &ffmpeg {
        let caps = Capabilities::probe(ffmpeg).await;
        checks.extend(capability_checks(lang, &caps, needs_ffmpeg));
    }
    checks.push(data_dir_check(lang, settings));
    if settings.library.enabled {
        for (i, folder) in settings.library.paths.iter().enumerate() {
            checks.push(library_check(lang, i + 1, folder));
        }
    }
    checks.push(dashboard_check(lang, &settings.dashboard_dir));
    checks.push(secret_check(lang, settings, env.secret_from_env));
    checks.push(exposure_check(lang, settings));
    let (providers, redis) =
        futures::future::join(provider_checks(lang, settings), redis_check(lang, settings)).await;
    checks.extend(providers);
    checks.push(redis);
    Report::new(checks)
}

fn ok(id: impl Into<String>, message: String) -> Check {
    Check {
        id: id.into(),
        status: Status::Ok,
        message,
        hint: None,
    }
}

fn problem(id: impl Into<String>, status: Status, message: String, hint: String) -> Check {
    Check {
        id: id.into(),
        status,
        message,
        hint: Some(hint),
    }
}

/// `name` as the server would run it: a path when it contains `/`, else the first executable
/// file of that name in `path`.
pub fn find_program(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    std::env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn program_check(
    lang: Lang,
    id: &str,
    name: &str,
    found: Option<(&Path, &str)>,
    needed: bool,
) -> Check {
    match found {
        Some((p, version)) => ok(id, format!("{id} {version} ({})", p.display())),
        None => problem(
            id,
            if needed { Status::Fail } else { Status::Warn },
            lang.t(
                format!("{id}: '{name}' not found in PATH or does not run"),
                format!("{id} : « {name} » introuvable dans le PATH ou ne s'exécute pas"),
            ),
            lang.t(
                format!(
                    "install ffmpeg (apt install ffmpeg) or set library.{id} to its full path; the local library needs it"
                ),
                format!(
                    "installez ffmpeg (apt install ffmpeg) ou indiquez son chemin complet dans library.{id} ; la bibliothèque locale en a besoin"
                ),
            ),
        ),
    }
}

/// Runs `program args…` with a deadline and returns its stdout; `None` when it cannot run,
/// fails or hangs (a broken install can block on a missing device).
async fn output(program: &Path, args: &[&str]) -> Option<String> {
    // ffmpeg lists its encoders in well under a second; ten leaves room on a loaded machine.
    const DEADLINE: Duration = Duration::from_secs(10);
    let run = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(DEADLINE, run).await {
        Ok(Ok(out)) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into()),
        _ => None,
    }
}

/// `ffmpeg version 5.1.6-0+deb12u1 Copyright…` → `5.1.6-0+deb12u1`.
async fn version(program: Option<&Path>) -> Option<String> {
    let text = output(program?, &["-version"]).await?;
    parse_version(&text)
}

fn parse_version(text: &str) -> Option<String> {
    let first = text.lines().next()?;
    let mut words = first.split_whitespace();
    words.find(|w| *w == "version")?;
    words.next().map(str::to_owned)
}

/// The encoders, filters and muxers an ffmpeg build offers.
#[derive(Debug, Default)]
pub struct Capabilities {
    encoders: HashSet<String>,
    filters: HashSet<String>,
    muxers: HashSet<String>,
}

impl Capabilities {
    async fn probe(ffmpeg: &Path) -> Self {
        let (e, f, m) = futures::future::join3(
            output(ffmpeg, &["-hide_banner", "-encoders"]),
            output(ffmpeg, &["-hide_banner", "-filters"]),
            output(ffmpeg, &["-hide_banner", "-muxers"]),
        )
        .await;
        Capabilities {
            encoders: parse_list(&e.unwrap_or_default()),
            filters: parse_list(&f.unwrap_or_default()),
            muxers: parse_list(&m.unwrap_or_default()),
        }
    }
}

/// ffmpeg's `-encoders`, `-filters` and `-muxers` print one entry a line: a column of flags,
/// then the name. Legend lines (` V..... = Video`) add harmless words such as `=`.
fn parse_list(text: &str) -> HashSet<String> {
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(str::to_owned)
        .collect()
}

fn capability_checks(lang: Lang, caps: &Capabilities, needed: bool) -> Vec<Check> {
    let mut checks = vec![encoders_check(lang, caps, needed)];
    // Optional: features that degrade without them instead of failing.
    let optional = [
        (
            "ffmpeg.hdr",
            &caps.filters,
            &["zscale", "tonemap"][..],
            true,
            ("HDR to SDR tone mapping", "conversion HDR vers SDR"),
        ),
        (
            "ffmpeg.deinterlace",
            &caps.filters,
            &["bwdif", "yadif"][..],
            false,
            ("deinterlacing", "désentrelacement"),
        ),
        (
            "ffmpeg.chromaprint",
            &caps.muxers,
            &["chromaprint"][..],
            true,
            (
                "audio fingerprints (intro detection)",
                "empreintes audio (détection des génériques)",
            ),
        ),
    ];
    for (id, set, names, all_needed, what) in optional {
        let feature = Feature {
            id,
            set,
            names,
            all_needed,
            what,
        };
        checks.push(feature_check(lang, &feature));
    }
    checks
}

/// What the packager runs today (src/library/package.rs): x264 when the video cannot be
/// remuxed, AAC when the audio cannot be copied.
fn encoders_check(lang: Lang, caps: &Capabilities, needed: bool) -> Check {
    let missing: Vec<&str> = ["libx264", "aac"]
        .into_iter()
        .filter(|name| !caps.encoders.contains(*name))
        .collect();
    if missing.is_empty() {
        return ok(
            "ffmpeg.encoders",
            lang.t(
                "ffmpeg encoders: libx264, aac",
                "encodeurs ffmpeg : libx264, aac",
            ),
        );
    }
    problem(
        "ffmpeg.encoders",
        if needed { Status::Fail } else { Status::Warn },
        lang.t(
            format!("ffmpeg lacks the encoder(s) {}", missing.join(", ")),
            format!("il manque à ffmpeg le(s) encodeur(s) {}", missing.join(", ")),
        ),
        lang.t(
            "files that are not H.264/AAC cannot be transcoded: install a full ffmpeg build (Debian's ffmpeg package has both)",
            "les fichiers qui ne sont pas en H.264/AAC ne peuvent pas être transcodés : installez un ffmpeg complet (le paquet ffmpeg de Debian a les deux)",
        ),
    )
}

/// An optional ffmpeg feature: the filters or muxers it takes, and what it is (en, fr).
struct Feature<'a> {
    id: &'static str,
    set: &'a HashSet<String>,
    names: &'static [&'static str],
    /// Every name is needed (`zscale` + `tonemap`), rather than any one (`bwdif` / `yadif`).
    all_needed: bool,
    what: (&'static str, &'static str),
}

fn feature_check(lang: Lang, f: &Feature<'_>) -> Check {
    let (en, fr) = f.what;
    let present: Vec<&str> = f
        .names
        .iter()
        .copied()
        .filter(|n| f.set.contains(*n))
        .collect();
    let enough = if f.all_needed {
        present.len() == f.names.len()
    } else {
        !present.is_empty()
    };
    if enough {
        return ok(
            f.id,
            lang.t(
                format!("ffmpeg {}: {en}", present.join(", ")),
                format!("ffmpeg {} : {fr}", present.join(", ")),
            ),
        );
    }
    let wanted = f.names.join(if f.all_needed { " + " } else { " / " });
    problem(
        f.id,
        Status::Warn,
        lang.t(
            format!("ffmpeg has no {wanted}: {en} unavailable (optional)"),
            format!("ffmpeg n'a pas {wanted} : {fr} indisponible (facultatif)"),
        ),
        lang.t(
            "a full ffmpeg build (Debian's ffmpeg package) has it",
            "un ffmpeg complet (le paquet ffmpeg de Debian) l'a",
        ),
    )
}

/// Below this much free space the HLS cache and the database can fill the disk soon.
const LOW_SPACE: u64 = 1024 * 1024 * 1024;

fn data_dir_check(lang: Lang, settings: &Settings) -> Check {
    let dir = &settings.data_dir;
    let existing = match writable_ancestor(lang, dir) {
        Ok(existing) => existing,
        Err(check) => return check,
    };
    let shown = if existing == dir.as_path() {
        dir.display().to_string()
    } else {
        lang.t(
            format!(
                "{} (to be created in {})",
                dir.display(),
                existing.display()
            ),
            format!("{} (à créer dans {})", dir.display(), existing.display()),
        )
    };
    let free = rustix::fs::statvfs(existing)
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
        .ok();
    space_check(lang, settings, &shown, free)
}

/// The data dir, or its nearest existing parent when the server has yet to create it, if a
/// file can be written there. A probe file tells what permission bits alone do not
/// (read-only mounts, ACLs, root); it is removed at once: the doctor only looks.
fn writable_ancestor(lang: Lang, dir: &Path) -> Result<&Path, Check> {
    let shown = dir.display();
    let existing = dir
        .ancestors()
        .find(|a| a.exists())
        .unwrap_or(Path::new("."));
    let written = if existing.is_dir() {
        let probe = existing.join(format!(".sokoul-doctor-{}", std::process::id()));
        std::fs::write(&probe, b"probe").and_then(|()| std::fs::remove_file(&probe))
    } else {
        Err(std::io::Error::other(lang.t(
            format!("{} is not a folder", existing.display()),
            format!("{} n'est pas un dossier", existing.display()),
        )))
    };
    match written {
        Ok(()) => Ok(existing),
        Err(e) => Err(problem(
            "data_dir",
            Status::Fail,
            lang.t(
                format!("data dir {shown} is not writable: {e}"),
                format!("le dossier de données {shown} n'est pas accessible en écriture : {e}"),
            ),
            lang.t(
                "set data_dir (SOKOUL_DATA_DIR) to a folder the server's user can write",
                "indiquez dans data_dir (SOKOUL_DATA_DIR) un dossier où l'utilisateur du serveur peut écrire",
            ),
        )),
    }
}

/// A writable data dir, told with its free space (`None`: unknown) against the HLS cache's cap.
fn space_check(lang: Lang, settings: &Settings, shown: &str, free: Option<u64>) -> Check {
    let cache = settings.library.cache_max_mb.saturating_mul(1024 * 1024);
    match free {
        Some(free) if free < LOW_SPACE => problem(
            "data_dir",
            Status::Warn,
            lang.t(
                format!("data dir {shown} is writable but only {} free", size(free)),
                format!("le dossier de données {shown} est accessible mais n'a que {} libres", size(free)),
            ),
            lang.t(
                format!(
                    "the HLS cache may use up to {} (library.cache_max_mb): free space or lower it",
                    size(cache)
                ),
                format!(
                    "le cache HLS peut occuper jusqu'à {} (library.cache_max_mb) : libérez de la place ou réduisez-le",
                    size(cache)
                ),
            ),
        ),
        Some(free) => ok(
            "data_dir",
            lang.t(
                format!("data dir {shown} is writable, {} free", size(free)),
                format!("dossier de données {shown} accessible en écriture, {} libres", size(free)),
            ),
        ),
        None => ok(
            "data_dir",
            lang.t(
                format!("data dir {shown} is writable"),
                format!("dossier de données {shown} accessible en écriture"),
            ),
        ),
    }
}

fn size(bytes: u64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let gib = bytes as f64 / GIB;
    if gib >= 1.0 {
        format!("{gib:.1} GiB")
    } else {
        format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

/// A doctor run must stay quick on a huge or network-mounted library: past this many
/// directory entries the count stops and reads "at least".
const MAX_ENTRIES: usize = 200_000;

fn library_check(lang: Lang, index: usize, folder: &Path) -> Check {
    let id = format!("library.{index}");
    let shown = folder.display();
    if let Err(e) = std::fs::read_dir(folder) {
        return problem(
            id,
            Status::Fail,
            lang.t(
                format!("library folder {shown} is not readable: {e}"),
                format!("le dossier de bibliothèque {shown} n'est pas lisible : {e}"),
            ),
            lang.t(
                "create it, fix its permissions for the server's user, or change library.paths (SOKOUL_LIBRARY)",
                "créez-le, donnez-en l'accès à l'utilisateur du serveur, ou modifiez library.paths (SOKOUL_LIBRARY)",
            ),
        );
    }
    let (count, complete) = count_videos(folder);
    let at_least = if complete { "" } else { "≥ " };
    if count == 0 {
        return problem(
            id,
            Status::Warn,
            lang.t(
                format!("library folder {shown} is readable but holds no video file"),
                format!("le dossier de bibliothèque {shown} est lisible mais ne contient aucune vidéo"),
            ),
            lang.t(
                "add films as `Title (Year) [tmdbid-N]/…mkv` (README, Local library)",
                "ajoutez des films sous la forme `Titre (Année) [tmdbid-N]/…mkv` (README, bibliothèque locale)",
            ),
        );
    }
    ok(
        id,
        lang.t(
            format!("library folder {shown}: {at_least}{count} video file(s)"),
            format!("dossier de bibliothèque {shown} : {at_least}{count} fichier(s) vidéo"),
        ),
    )
}

/// Video files under `root` (symbolic links to files count, linked folders are not
/// followed, as a loop would never end), and whether the walk saw everything.
fn count_videos(root: &Path) -> (usize, bool) {
    let mut stack = vec![root.to_path_buf()];
    let (mut count, mut seen) = (0, 0);
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_ENTRIES {
                return (count, false);
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if is_video(&entry.file_name().to_string_lossy()) {
                count += 1;
            }
        }
    }
    (count, true)
}

fn dashboard_check(lang: Lang, dir: &Path) -> Check {
    if dir.join("index.html").is_file() {
        ok(
            "dashboard",
            lang.t(
                format!("dashboard found in {}", dir.display()),
                format!("tableau de bord trouvé dans {}", dir.display()),
            ),
        )
    } else {
        problem(
            "dashboard",
            Status::Warn,
            lang.t(
                format!("no built dashboard in {} (the API works without it)", dir.display()),
                format!("pas de tableau de bord construit dans {} (l'API fonctionne sans)", dir.display()),
            ),
            lang.t(
                "build it (cd dashboard && npm ci && npm run build) or set dashboard_dir (SOKOUL_DASHBOARD_DIR)",
                "construisez-le (cd dashboard && npm ci && npm run build) ou réglez dashboard_dir (SOKOUL_DASHBOARD_DIR)",
            ),
        )
    }
}

/// A configured secret shorter than this is guessable by brute force offline from one
/// signed URL; the generated one has 64 hex characters (what `secret.rs` accepts: 32+).
const MIN_SECRET: usize = 32;

fn secret_check(lang: Lang, settings: &Settings, from_env: bool) -> Check {
    if let Some(secret) = &settings.secret {
        let origin = if from_env {
            "SOKOUL_SECRET"
        } else {
            "secret (config)"
        };
        if secret.expose().len() < MIN_SECRET {
            return problem(
                "secret",
                Status::Warn,
                lang.t(
                    format!("signing secret set by {origin}, but shorter than {MIN_SECRET} characters"),
                    format!("secret de signature fixé par {origin}, mais de moins de {MIN_SECRET} caractères"),
                ),
                lang.t(
                    "use a long random value, e.g. `openssl rand -hex 32`",
                    "utilisez une longue valeur aléatoire, par exemple `openssl rand -hex 32`",
                ),
            );
        }
        return ok(
            "secret",
            lang.t(
                format!("signing secret set by {origin}"),
                format!("secret de signature fixé par {origin}"),
            ),
        );
    }
    let file = settings.data_dir.join("secret");
    match std::fs::read_to_string(&file) {
        Ok(text) if text.trim().len() >= MIN_SECRET => ok(
            "secret",
            lang.t(
                format!("signing secret generated, stored in {}", file.display()),
                format!("secret de signature généré, conservé dans {}", file.display()),
            ),
        ),
        Ok(_) => problem(
            "secret",
            Status::Warn,
            lang.t(
                format!("the stored secret {} is too short", file.display()),
                format!("le secret conservé dans {} est trop court", file.display()),
            ),
            lang.t(
                "the server will replace it at start, which invalidates signed URLs in use",
                "le serveur le remplacera au démarrage, ce qui invalide les URL signées en cours",
            ),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ok(
            "secret",
            lang.t(
                format!("signing secret not generated yet: the first start writes {}", file.display()),
                format!("secret de signature pas encore généré : le premier démarrage écrit {}", file.display()),
            ),
        ),
        Err(e) => problem(
            "secret",
            Status::Fail,
            lang.t(
                format!("cannot read the stored secret {}: {e}", file.display()),
                format!("impossible de lire le secret conservé {} : {e}", file.display()),
            ),
            lang.t(
                "the server would not start: fix the file's owner, or set SOKOUL_SECRET",
                "le serveur ne démarrerait pas : corrigez le propriétaire du fichier, ou fixez SOKOUL_SECRET",
            ),
        ),
    }
}

fn exposure_check(lang: Lang, settings: &Settings) -> Check {
    let bind = settings.bind;
    if bind.ip().is_loopback() {
        return ok(
            "exposure",
            lang.t(
                format!("listens on {bind}: this machine only"),
                format!("écoute sur {bind} : cette machine seulement"),
            ),
        );
    }
    let accounts = crate::startup::accounts_on_disk(settings);
    if crate::startup::check_exposure(settings, accounts).is_err() {
        return problem(
            "exposure",
            Status::Fail,
            lang.t(
                format!("listens on {bind} without an account or an API token: the server refuses to start"),
                format!("écoute sur {bind} sans compte ni jeton d'API : le serveur refuse de démarrer"),
            ),
            lang.t(
                "create an account (sokoul user add NAME --admin), set api_token (SOKOUL_API_TOKEN), bind to 127.0.0.1, or allow_public_without_token = true behind a trusted front end",
                "créez un compte (sokoul user add NOM --admin), fixez api_token (SOKOUL_API_TOKEN), écoutez sur 127.0.0.1, ou allow_public_without_token = true derrière un frontal de confiance",
            ),
        );
    }
    if accounts {
        return ok(
            "exposure",
            lang.t(
                format!("listens on {bind}, the API requires a login"),
                format!("écoute sur {bind}, l'API exige une connexion"),
            ),
        );
    }
    if settings.api_token.is_some() {
        return ok(
            "exposure",
            lang.t(
                format!("listens on {bind}, the API requires the token"),
                format!("écoute sur {bind}, l'API exige le jeton"),
            ),
        );
    }
    problem(
        "exposure",
        Status::Warn,
        lang.t(
            format!("listens on {bind} without an API token (allow_public_without_token)"),
            format!("écoute sur {bind} sans jeton d'API (allow_public_without_token)"),
        ),
        lang.t(
            "make sure a trusted front end authenticates every request",
            "vérifiez qu'un frontal de confiance authentifie chaque requête",
        ),
    )
}

/// `scheme://host[:port]`: what may be shown of a provider URL.
fn origin(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

/// Manifests and info documents are a few KiB.
const MAX_BODY: usize = 1024 * 1024;

async fn provider_checks(lang: Lang, settings: &Settings) -> Vec<Check> {
    let budget = settings.provider_timeout();
    let guard = Arc::new(Guard::from_settings(settings));
    let http = match upstream::build_client(settings, guard) {
        Ok(http) => http,
        Err(e) => {
            return vec![problem(
                "providers",
                Status::Fail,
                lang.t(
                    format!("cannot build the HTTP client: {e}"),
                    format!("impossible de créer le client HTTP : {e}"),
                ),
                lang.t(
                    "check the [proxy] settings",
                    "vérifiez les réglages [proxy]",
                ),
            )];
        }
    };
    let mut probes: Vec<futures::future::BoxFuture<'_, Check>> = Vec::new();
    if let Some(base) = &settings.consumet.url {
        probes.push(Box::pin(http_probe(
            lang,
            &http,
            "provider.consumet",
            "Consumet",
            base.clone(),
            "",
            budget,
        )));
    }
    for (i, addon) in settings.stremio.addons.iter().enumerate() {
        probes.push(Box::pin(http_probe(
            lang,
            &http,
            format!("provider.stremio.{}", i + 1),
            "Stremio",
            addon.clone(),
            "",
            budget,
        )));
    }
    if let Some(base) = &settings.jellyfin.url {
        probes.push(Box::pin(http_probe(
            lang,
            &http,
            "provider.jellyfin",
            "Jellyfin",
            base.clone(),
            "System/Info/Public",
            budget,
        )));
    }
    if settings.tmdb.key.is_some() {
        probes.push(Box::pin(tmdb_probe(lang, http.clone(), settings, budget)));
    }
    futures::future::join_all(probes).await
}

/// GETs `path` under `base` (or `base` itself) within `budget`; a 2xx answer is reachable.
async fn http_probe(
    lang: Lang,
    http: &reqwest::Client,
    id: impl Into<String>,
    name: &str,
    base: String,
    path: &str,
    budget: Duration,
) -> Check {
    let id = id.into();
    let Ok(mut url) = url::Url::parse(&base) else {
        return problem(
            id,
            Status::Fail,
            lang.t(
                format!("{name}: invalid URL"),
                format!("{name} : URL invalide"),
            ),
            lang.t(
                "fix it in the configuration",
                "corrigez-la dans la configuration",
            ),
        );
    };
    let shown = origin(&url);
    if !path.is_empty() {
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        url = upstream::endpoint(&url, path, &[]);
    }
    let started = Instant::now();
    let answer = tokio::time::timeout(budget, get_status(http, url)).await;
    let target = Target {
        id,
        name,
        shown: &shown,
    };
    match answer {
        Ok(answer) => answer_check(lang, target, answer, started.elapsed()),
        Err(_) => problem(
            target.id,
            Status::Fail,
            lang.t(
                format!(
                    "{name} {shown} did not answer within {:.1} s",
                    budget.as_secs_f64()
                ),
                format!(
                    "{name} {shown} n'a pas répondu en {:.1} s",
                    budget.as_secs_f64()
                ),
            ),
            lang.t(
                "raise resolve.provider_timeout if it is only slow",
                "augmentez resolve.provider_timeout s'il est seulement lent",
            ),
        ),
    }
}

async fn get_status(http: &reqwest::Client, url: url::Url) -> reqwest::Result<StatusCode> {
    let response = http
        .get(url)
        .header("Accept", "application/json")
        .send()
        .await?;
    let status = response.status();
    // Drain a little so the answer is a real one, bounded like every provider read.
    let _ = upstream::read_body_limited(response, MAX_BODY).await;
    Ok(status)
}

/// The service a probe asked, as its check names it: `shown` is its origin only.
struct Target<'a> {
    id: String,
    name: &'a str,
    shown: &'a str,
}

/// What the service's answer (within the budget) says of it.
fn answer_check(
    lang: Lang,
    target: Target<'_>,
    answer: reqwest::Result<StatusCode>,
    took: Duration,
) -> Check {
    let Target { id, name, shown } = target;
    let unreachable_hint = lang.t(
        format!("check that {name} runs at {shown} and that this machine can reach it"),
        format!("vérifiez que {name} tourne à {shown} et que cette machine peut l'atteindre"),
    );
    let ms = took.as_millis();
    match answer {
        Ok(status) if status.is_success() => ok(
            id,
            lang.t(
                format!("{name} {shown} reachable ({ms} ms)"),
                format!("{name} {shown} joignable ({ms} ms)"),
            ),
        ),
        Ok(status) => problem(
            id,
            Status::Fail,
            lang.t(
                format!("{name} {shown} answered HTTP {}", status.as_u16()),
                format!("{name} {shown} a répondu HTTP {}", status.as_u16()),
            ),
            unreachable_hint,
        ),
        Err(e) => problem(
            id,
            Status::Fail,
            lang.t(
                format!("{name} {shown} unreachable: {}", root_cause(&e)),
                format!("{name} {shown} injoignable : {}", root_cause(&e)),
            ),
            unreachable_hint,
        ),
    }
}

/// The innermost error text, from a request error stripped of its URL (whose query may be a
/// credential).
fn root_cause(e: &reqwest::Error) -> String {
    let mut source: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

async fn tmdb_probe(
    lang: Lang,
    http: reqwest::Client,
    settings: &Settings,
    budget: Duration,
) -> Check {
    let shown = url::Url::parse(&settings.tmdb.base_url)
        .map(|u| origin(&u))
        .unwrap_or_default();
    let tmdb = match crate::tmdb::Tmdb::from_settings(http, &settings.tmdb) {
        Ok(Some(tmdb)) => tmdb,
        Ok(None) => {
            return ok(
                "provider.tmdb",
                lang.t("TMDB not configured", "TMDB non configuré"),
            );
        }
        Err(e) => {
            return problem(
                "provider.tmdb",
                Status::Fail,
                e,
                lang.t("fix tmdb.base_url", "corrigez tmdb.base_url"),
            );
        }
    };
    match tmdb.check(Instant::now() + budget).await {
        Ok(()) => ok(
            "provider.tmdb",
            lang.t(
                format!("TMDB {shown} reachable, key accepted"),
                format!("TMDB {shown} joignable, clé acceptée"),
            ),
        ),
        Err(e) => problem(
            "provider.tmdb",
            Status::Fail,
            format!("TMDB {shown}: {} ({})", tmdb_error(lang, &e), e.code()),
            lang.t(
                "check tmdb.key (SOKOUL_TMDB_KEY) and this machine's access to TMDB",
                "vérifiez tmdb.key (SOKOUL_TMDB_KEY) et l'accès de cette machine à TMDB",
            ),
        ),
    }
}

fn tmdb_error(lang: Lang, e: &crate::tmdb::TmdbError) -> String {
    use crate::tmdb::TmdbError as E;
    match (lang, e) {
        (Lang::En, e) => e.to_string(),
        (Lang::Fr, E::Unauthorized) => "TMDB refuse la clé configurée (SOKOUL_TMDB_KEY)".into(),
        (Lang::Fr, E::Unreachable(detail)) => format!("TMDB injoignable : {detail}"),
        (Lang::Fr, E::Timeout) => "TMDB n'a pas répondu à temps".into(),
        (Lang::Fr, E::RateLimited { .. }) => "TMDB limite le débit de ce serveur".into(),
        (Lang::Fr, E::Unavailable(status)) => format!("TMDB a répondu HTTP {status}"),
        (Lang::Fr, e) => format!("TMDB : {e}"),
    }
}

async fn redis_check(lang: Lang, settings: &Settings) -> Check {
    let Some(url) = &settings.cache.redis_url else {
        return ok(
            "redis",
            lang.t(
                "Redis not configured: in-process cache",
                "Redis non configuré : cache en mémoire du processus",
            ),
        );
    };
    let hint = lang.t(
        "the server still starts and serves from its in-process cache; check that Redis runs and cache.redis_url (SOKOUL_REDIS_URL)",
        "le serveur démarre quand même avec son cache en mémoire ; vérifiez que Redis tourne et cache.redis_url (SOKOUL_REDIS_URL)",
    );
    let client = match redis::Client::open(url.expose()) {
        Ok(c) => c,
        Err(_) => {
            // The parse error may quote the URL, password included.
            return problem(
                "redis",
                Status::Fail,
                lang.t("Redis URL is invalid", "l'URL de Redis est invalide"),
                hint,
            );
        }
    };
    // Connecting takes a round trip more than one operation: the proxy's connect timeout,
    // then the PING within the budget the server gives every Redis operation.
    let connect = Duration::from_secs_f64(settings.proxy.connect_timeout);
    let budget = Duration::from_secs_f64(settings.cache.redis_budget);
    let answer = async {
        let mut conn = tokio::time::timeout(connect, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| "connect timeout".to_string())?
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        tokio::time::timeout(budget, redis::cmd("PING").query_async::<String>(&mut conn))
            .await
            .map_err(|_| format!("PING took longer than {} ms", budget.as_millis()))?
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(started.elapsed())
    }
    .await;
    match answer {
        Ok(took) => ok(
            "redis",
            lang.t(
                format!("Redis answers PING ({} ms)", took.as_millis()),
                format!("Redis répond au PING ({} ms)", took.as_millis()),
            ),
        ),
        Err(e) => problem(
            "redis",
            Status::Fail,
            lang.t(
                format!("Redis unreachable: {e}"),
                format!("Redis injoignable : {e}"),
            ),
            hint,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locale_picks_french_for_any_fr_locale_with_posix_precedence() {
        let lang = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Lang::from_locale(|k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
        };
        assert_eq!(lang(&[("LANG", "fr_FR.UTF-8")]), Lang::Fr);
        assert_eq!(lang(&[("LANG", "fr")]), Lang::Fr);
        assert_eq!(lang(&[("LANG", "en_GB.UTF-8")]), Lang::En);
        assert_eq!(lang(&[]), Lang::En);
        assert_eq!(lang(&[("LANG", "fr_FR.UTF-8"), ("LC_ALL", "C")]), Lang::En);
        assert_eq!(
            lang(&[("LANG", "en_US.UTF-8"), ("LC_MESSAGES", "fr_CA.UTF-8")]),
            Lang::Fr
        );
        assert_eq!(lang(&[("LC_ALL", ""), ("LANG", "fr_BE")]), Lang::Fr);
    }

    #[test]
    fn ffmpeg_lists_and_versions_parse() {
        let encoders = "Encoders:\n V..... = Video\n ------\n V....D libx264              libx264 H.264\n A....D aac                  AAC (Advanced Audio Coding)\n";
        let set = parse_list(encoders);
        assert!(set.contains("libx264") && set.contains("aac"));
        let muxers = " E chromaprint     Chromaprint\n";
        assert!(parse_list(muxers).contains("chromaprint"));
        assert_eq!(
            parse_version("ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024\n").as_deref(),
            Some("5.1.6-0+deb12u1")
        );
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn programs_are_found_only_in_the_given_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("ffmpeg");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = dir.path().join("ffprobe");
        std::fs::write(&plain, "not executable").unwrap();
        let path = std::env::join_paths([Path::new("/nonexistent"), dir.path()]).unwrap();
        assert_eq!(find_program("ffmpeg", Some(&path)), Some(exe.clone()));
        assert_eq!(find_program("ffprobe", Some(&path)), None);
        assert_eq!(find_program("ffmpeg", None), None);
        assert_eq!(find_program(exe.to_str().unwrap(), None), Some(exe));
    }

    #[test]
    fn missing_needed_encoders_fail_and_missing_optional_filters_warn() {
        let mut caps = Capabilities::default();
        caps.encoders.insert("aac".into());
        caps.filters.insert("yadif".into());
        caps.filters.insert("tonemap".into());
        let checks = capability_checks(Lang::En, &caps, true);
        let status = |id: &str| checks.iter().find(|c| c.id == id).unwrap().status;
        assert_eq!(status("ffmpeg.encoders"), Status::Fail);
        assert!(checks[0].message.contains("libx264"));
        assert_eq!(status("ffmpeg.hdr"), Status::Warn, "zscale is missing");
        assert_eq!(status("ffmpeg.deinterlace"), Status::Ok, "yadif is enough");
        assert_eq!(status("ffmpeg.chromaprint"), Status::Warn);
        let without_library = capability_checks(Lang::En, &caps, false);
        assert_eq!(without_library[0].status, Status::Warn);
    }

    #[test]
    fn a_data_dir_yet_to_be_created_is_judged_by_its_nearest_parent() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            data_dir: dir.path().join("sokoul/data"),
            ..Settings::default()
        };
        let c = data_dir_check(Lang::En, &settings);
        // Ok, or a warning on a nearly full disk: never a failure.
        assert_ne!(c.status, Status::Fail, "{}", c.message);
        let parent = format!("(to be created in {})", dir.path().display());
        assert!(c.message.contains(&parent), "{}", c.message);
        assert!(!dir.path().join("sokoul").exists(), "the doctor only looks");

        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let settings = Settings {
            data_dir: file.join("data"),
            ..Settings::default()
        };
        let c = data_dir_check(Lang::En, &settings);
        assert_eq!(c.status, Status::Fail);
        assert!(c.message.contains("is not a folder"), "{}", c.message);
    }

    #[test]
    fn exposure_follows_the_servers_rule() {
        let mut s = Settings::default();
        assert_eq!(exposure_check(Lang::En, &s).status, Status::Ok);
        s.bind = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(exposure_check(Lang::En, &s).status, Status::Fail);
        s.allow_public_without_token = true;
        assert_eq!(exposure_check(Lang::En, &s).status, Status::Warn);
        s.api_token = Some(crate::config::Secret::new("t"));
        assert_eq!(exposure_check(Lang::En, &s).status, Status::Ok);
    }

    #[test]
    fn the_secret_origin_is_told_without_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        let c = secret_check(Lang::En, &s, false);
        assert!(c.message.contains("not generated yet"), "{}", c.message);
        std::fs::write(dir.path().join("secret"), "a".repeat(64)).unwrap();
        assert!(
            secret_check(Lang::En, &s, false)
                .message
                .contains("generated, stored")
        );
        s.secret = Some(crate::config::Secret::new(
            "hunter2-hunter2-hunter2-hunter2-x",
        ));
        let c = secret_check(Lang::En, &s, true);
        assert!(c.message.contains("SOKOUL_SECRET") && !c.message.contains("hunter2"));
        s.secret = Some(crate::config::Secret::new("short"));
        assert_eq!(secret_check(Lang::En, &s, false).status, Status::Warn);
    }

    #[test]
    fn library_folders_are_counted_and_a_missing_one_fails() {
        let dir = tempfile::tempdir().unwrap();
        let film = dir.path().join("Film (2020) [tmdbid-1]");
        std::fs::create_dir(&film).unwrap();
        std::fs::write(film.join("Film (2020).mkv"), "").unwrap();
        std::fs::write(film.join("Film (2020).en.srt"), "").unwrap();
        std::fs::write(dir.path().join("b.MP4"), "").unwrap();
        let c = library_check(Lang::En, 1, dir.path());
        assert_eq!(c.status, Status::Ok);
        assert!(c.message.contains(": 2 video file(s)"), "{}", c.message);
        let c = library_check(Lang::Fr, 2, &dir.path().join("absent"));
        assert_eq!((c.id.as_str(), c.status), ("library.2", Status::Fail));
        assert!(c.message.contains("n'est pas lisible"), "{}", c.message);
    }
}
