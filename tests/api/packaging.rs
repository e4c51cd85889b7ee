//! The Debian package's config (`debian/sokoul.toml`, installed as /etc/sokoul/sokoul.toml) is
//! `sokoul.example.toml` with the package's paths: a key added to the example must reach the
//! package too, and the packaged file must load.

use std::path::Path;

use sokoul::config::Settings;

fn read(relative: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)).unwrap()
}

/// Setting lines (comments aside, which the package's header rewrites).
fn settings(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect()
}

#[test]
fn the_packaged_config_is_the_example_with_the_packages_paths() {
    let example = read("sokoul.example.toml");
    let packaged = read("debian/sokoul.toml");
    let expected: Vec<String> = settings(&example)
        .into_iter()
        .map(|l| match l {
            "data_dir = \"./data\"" => "data_dir = \"/var/lib/sokoul\"".into(),
            "dashboard_dir = \"dashboard/build\"" => {
                "dashboard_dir = \"/usr/share/sokoul/dashboard\"".into()
            }
            "paths = [\"./media\"]" => "paths = [\"/var/lib/sokoul/media\"]".into(),
            other => other.into(),
        })
        .collect();
    assert_eq!(
        settings(&packaged),
        expected,
        "debian/sokoul.toml must follow sokoul.example.toml (only the paths differ)"
    );

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/sokoul.toml");
    let (s, warnings) = Settings::load_from(Some(&path), &[]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.data_dir, Path::new("/var/lib/sokoul"));
    assert_eq!(s.dashboard_dir, Path::new("/usr/share/sokoul/dashboard"));
    assert_eq!(s.library.paths, vec![Path::new("/var/lib/sokoul/media")]);
    assert!(
        s.bind.ip().is_loopback(),
        "a fresh install listens on loopback only"
    );
}
