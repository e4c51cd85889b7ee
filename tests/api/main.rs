//! Integration tests: the real application on port 0, fakes only for remote services.

mod fake_consumet;
mod fault_server;
mod helpers;
mod image_subtitles;
mod redis_server;
mod remote_playback;

mod consumet;
mod doctor;
mod edge;
mod fake_jellyfin;
mod fake_tmdb;
mod faults;
mod jellyfin;
mod languages;
mod library;
mod library_security;
mod log_secrets;
mod markers;
mod openapi;
mod packaging;
mod playback;
mod progress;
mod providers_all;
mod proxy;
mod proxy_fixtures;
mod resilience;
mod resolve;
mod scale;
mod security;
mod stremio;
mod stremio_addon;
mod styled_subtitles;
mod thumbnails;
mod tmdb;
mod url_secrets;
