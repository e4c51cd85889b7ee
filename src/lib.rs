//! Sokoul streaming: resolve a TMDB id to playable sources, proxy HLS, serve the player.

pub mod accounts;
pub mod api;
pub mod cache;
pub mod clock;
pub mod config;
pub mod doctor;
pub mod error;
pub mod library;
pub mod metrics;
pub mod models;
pub mod playback;
pub mod providers;
pub mod proxy;
pub mod resolve;
pub mod secret;
pub mod security;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tmdb;
pub mod upstream;
