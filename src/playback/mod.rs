//! The playback engine's pure core: what a file holds (`media`), what the browser decodes
//! (`profile`), how to play one with the other (`plan`), and the ffmpeg command that does it
//! (`ffmpeg`). No I/O here beyond reading MP4 box headers; jobs, caches and inputs (local
//! files, remote files through the signed loopback proxy) are wired around it.

pub mod ffmpeg;
pub mod media;
pub mod plan;
pub mod profile;

pub use media::Media;
pub use plan::{Plan, Request, plan};
pub use profile::ClientProfile;
