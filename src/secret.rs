//! The key for signing proxy URLs: configured, or generated once and kept in the data dir.

use std::io::Write;
use std::path::Path;

use rand::RngCore;

const FILE: &str = "secret";

/// Returns the configured secret, or the one stored in `data_dir` (creating it on first run).
pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> std::io::Result<Vec<u8>> {
    if let Some(s) = configured {
        return Ok(s.as_bytes().to_vec());
    }
    let path = data_dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= 32 => return Ok(text.trim().as_bytes().to_vec()),
        Ok(_) => {
            tracing::warn!(path = %path.display(), "stored secret is too short; generating a new one")
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path)?;
    file.write_all(hex.as_bytes())?;
    tracing::info!(path = %path.display(), "generated a new proxy signing secret");
    Ok(hex.into_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_generated_secret_is_stable_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let a = super::load_or_create(None, dir.path()).unwrap();
        let b = super::load_or_create(None, dir.path()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(super::load_or_create(Some("x"), dir.path()).unwrap(), b"x");
    }
}
