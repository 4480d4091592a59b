//! A real `redis-server` of the test's own on a free loopback port, killed on drop, that a
//! test can pause (`SIGSTOP`), resume, stop and restart on the same port.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One redis-server process without persistence.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port; panics (never skips) when redis-server is missing.
    pub fn start() -> Self {
        // Another process may grab the port between probing and binding; try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut server = Self { port, child: None };
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not come up on any of 5 free ports");
    }

    /// A server address where nothing listens (yet): for "Redis down at start" tests.
    pub fn unstarted() -> Self {
        Self {
            port: free_port(),
            child: None,
        }
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A plain connection for the test to inspect keys with.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("valid URL")
            .get_multiplexed_async_connection()
            .await
            .expect("the test's redis-server answers")
    }

    /// Freezes the server: connections stay open but nothing is answered.
    pub fn pause(&mut self) {
        self.signal("-STOP");
    }

    /// Unfreezes a paused server.
    pub fn resume(&mut self) {
        self.signal("-CONT");
    }

    /// Kills the server; its data is gone (no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL ends a stopped process too.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a fresh, empty server on the same port (the first start of an unstarted one).
    pub fn restart(&mut self) {
        self.stop();
        for _ in 0..20 {
            if self.spawn() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not come back on port {}", self.port);
    }

    fn signal(&self, which: &str) {
        let child = self.child.as_ref().expect("the server is running");
        let status = Command::new("kill")
            .arg(which)
            .arg(child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {which} failed");
    }

    /// Spawns on `self.port` and waits until it answers; false when it exits instead.
    fn spawn(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server is not installed; run scripts/setup (it installs the Debian \
                 package redis-server)"
            ),
            Err(err) => panic!("cannot start redis-server: {err}"),
        };
        for _ in 0..100 {
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                self.child = Some(child);
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}
