//! A real `redis-server` (Debian's package) started for a test on a free loopback port.
//!
//! It is required, never skipped: a missing binary fails the test with an install hint.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    pub(crate) fn start() -> RedisServer {
        let mut server = RedisServer::not_started();
        server.spawn();
        server
    }

    /// A server whose port is chosen but which is not running yet (`spawn` starts it): for
    /// an application that starts while Redis is down.
    pub(crate) fn not_started() -> RedisServer {
        let port = free_port_below_ephemeral_range();
        let dir = tempfile::tempdir().unwrap();
        RedisServer {
            child: None,
            port,
            dir,
        }
    }

    pub(crate) fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server must be installed for these tests (apt-get install redis-server)",
            );
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops the server (the data is lost: it keeps nothing on disk).
    #[allow(dead_code)]
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freezes the process (SIGSTOP): connections stay open and nothing answers, as with a
    /// Redis stuck on a slow command or behind a network black hole.
    #[allow(dead_code)]
    pub(crate) fn pause(&self) {
        self.signal("-STOP");
    }

    #[allow(dead_code)]
    pub(crate) fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("the server runs").id();
        let status = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {sig} {pid}");
    }

    #[allow(dead_code)]
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free port below the kernel's ephemeral range. A port from that range (what binding port
/// 0 gives) can be taken, while the server is stopped, by any outgoing connection on the
/// machine, or by the application itself: a client that reconnects to a loopback port nobody
/// listens on may get that very port as its source and connect to itself.
fn free_port_below_ephemeral_range() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let range = low.saturating_sub(12_000).max(1024)..low;
    for _ in 0..100 {
        let port = rand::Rng::gen_range(&mut rand::thread_rng(), range.clone());
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {range:?}");
}
