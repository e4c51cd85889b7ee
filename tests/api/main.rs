//! Integration tests: the real application on port 0, fakes only for remote services.

mod helpers;

mod consumet;
mod proxy;
mod proxy_fixtures;
mod resolve;
