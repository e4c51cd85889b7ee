//! Rescans when files change: inotify (via `notify`) on every library folder, debounced so a
//! copy of a whole season triggers one scan after it settles. When the watcher cannot start
//! (too many watches, a filesystem without inotify such as some network mounts), a periodic
//! rescan takes over; an unchanged rescan is cheap (one walk, no ffprobe).

use std::sync::{Arc, Weak};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::Library;

/// Quiet time after the last change before rescanning.
const DEBOUNCE: Duration = Duration::from_secs(2);
/// Fallback rescan period when the watcher cannot run.
const PERIOD: Duration = Duration::from_secs(300);

/// Starts the watcher task; it ends when the library is dropped.
pub fn spawn(library: &Arc<Library>) {
    let weak = Arc::downgrade(library);
    let roots = library.roots().to_vec();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            // Reads and metadata-only events (atime) do not change the library.
            if !matches!(event.kind, notify::EventKind::Access(_)) {
                let _ = tx.send(());
            }
        }
    })
    .and_then(|mut w| {
        for root in &roots {
            if root.is_dir() {
                w.watch(root, RecursiveMode::Recursive)?;
            }
        }
        Ok(w)
    });
    match watcher {
        Ok(watcher) => {
            tracing::info!(roots = ?roots, "watching the library folders for changes");
            tokio::spawn(async move {
                let _keep = watcher;
                while rx.recv().await.is_some() {
                    // Debounce: wait until no event arrived for DEBOUNCE.
                    while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {}
                    if !rescan(&weak).await {
                        return;
                    }
                }
            });
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the library folders; rescanning every {} s instead", PERIOD.as_secs());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(PERIOD).await;
                    if !rescan(&weak).await {
                        return;
                    }
                }
            });
        }
    }
}

/// False when the library is gone.
async fn rescan(weak: &Weak<Library>) -> bool {
    let Some(library) = weak.upgrade() else {
        return false;
    };
    if let Err(e) = library.scan().await {
        tracing::warn!(error = %e, "rescan after a change failed");
    }
    true
}
