//! The HLS proxy: verify a signed URL → fetch upstream with its headers → rewrite a playlist
//! or stream anything else through.

pub mod playlist;
pub mod token;
