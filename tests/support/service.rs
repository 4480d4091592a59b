//! The one way tests run the real binary: a `vtenrich` child process of the test's own,
//! listening on a free loopback port, reached over HTTP, killed (SIGKILL) on drop however the
//! test ends. [`Service::builder`] sets the subcommand, arguments, environment and limits;
//! [`Service::start`] is the common case.

// Shared by several test binaries, each using part of it.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

/// Log lines kept per process for failure messages: enough for the last few requests.
const KEPT_LOG_LINES: usize = 400;

/// Upper bound for the start and for an exit after SIGTERM.
const PATIENCE: Duration = Duration::from_secs(30);

/// A running `vtenrich` that serves.
pub struct Service {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The bound address.
    pub address: std::net::SocketAddr,
    http: reqwest::Client,
    logs: Arc<Mutex<VecDeque<String>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How to start a [`Service`]: `vtenrich serve` on 127.0.0.1:0 with JSON logs at `info`, no
/// drain delay and a clean `VTENRICH_*` environment, unless told otherwise.
pub struct ServiceBuilder {
    subcommand: String,
    args: Vec<String>,
    vars: Vec<(String, String)>,
    fd_limit: Option<(u64, u64)>,
    kept_lines: usize,
}

impl ServiceBuilder {
    /// Runs `subcommand` (`serve`, `demo`) instead of `serve`.
    pub fn subcommand(mut self, subcommand: &str) -> Self {
        self.subcommand = subcommand.to_owned();
        self
    }

    /// Adds command-line arguments after the subcommand.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Sets one environment variable (later settings win).
    pub fn env(mut self, name: &str, value: impl AsRef<str>) -> Self {
        self.vars.push((name.to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Sets environment variables (later settings win).
    pub fn envs(mut self, vars: &[(&str, &str)]) -> Self {
        for (name, value) in vars {
            self = self.env(name, value);
        }
        self
    }

    /// Sets `RLIMIT_NOFILE` to `soft` and `hard` before the binary runs (through util-linux
    /// `prlimit`, which execs it: the child is still vtenrich).
    pub fn fd_limit(mut self, soft: u64, hard: u64) -> Self {
        self.fd_limit = Some((soft, hard));
        self
    }

    /// Keeps every log line (stdout and stderr), not only the last few hundred.
    pub fn keep_all_logs(mut self) -> Self {
        self.kept_lines = usize::MAX;
        self
    }

    /// Starts the process and waits (30 s at most) until it says where it listens: the JSON
    /// line `vtenrich listening`, or, with logs off, the demo's banner.
    pub async fn start(self) -> Service {
        let mut command = match self.fd_limit {
            Some((soft, hard)) => {
                let mut command = Command::new("prlimit");
                command
                    .arg(format!("--nofile={soft}:{hard}"))
                    .arg("--")
                    .arg(env!("CARGO_BIN_EXE_vtenrich"));
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_vtenrich")),
        };
        command.arg(&self.subcommand).args(&self.args);
        clean_environment(&mut command);
        command
            .env("VTENRICH_LISTEN", "127.0.0.1:0")
            .env("VTENRICH_LOG", "info")
            .env("VTENRICH_LOG_FORMAT", "json")
            .env("VTENRICH_DRAIN_DELAY", "0s")
            .envs(self.vars.iter().map(|(n, v)| (n, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("vtenrich starts");
        let logs = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        let found = Arc::new(Mutex::new(Some(tx)));
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let readers = vec![
            drain(stdout, logs.clone(), self.kept_lines, found.clone()),
            drain(stderr, logs.clone(), self.kept_lines, found),
        ];
        let address = match tokio::time::timeout(PATIENCE, rx).await {
            Ok(Ok(address)) => address,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let kept = logs.lock().unwrap_or_else(|e| e.into_inner());
                let logs = kept.iter().cloned().collect::<Vec<_>>().join("\n");
                panic!("vtenrich did not say where it listens in time; its logs:\n{logs}");
            }
        };
        Service {
            child,
            base: format!("http://{address}"),
            address: address.parse().expect("a socket address"),
            // Bounds every request of a test even if the service never answers.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("an HTTP client"),
            logs,
            readers,
        }
    }
}

/// Removes the developer's own `VTENRICH_*` settings (a config file, a key) from `command`.
pub fn clean_environment(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VTENRICH_") {
            command.env_remove(name);
        }
    }
}

/// Drains one of the child's pipes until the process ends (so a full pipe never blocks its
/// logging), keeping the last `kept` lines and reporting the listening address once.
fn drain(
    pipe: impl Read + Send + 'static,
    logs: Arc<Mutex<VecDeque<String>>>,
    kept: usize,
    found: Arc<Mutex<Option<tokio::sync::oneshot::Sender<String>>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some(address) = listening_address(&line)
                && let Some(tx) = found.lock().unwrap_or_else(|e| e.into_inner()).take()
            {
                let _ = tx.send(address);
            }
            let mut logs = logs.lock().unwrap_or_else(|e| e.into_inner());
            if logs.len() == kept {
                logs.pop_front();
            }
            logs.push_back(line);
        }
    })
}

/// The address in the JSON line `vtenrich listening`, or in the demo's plain banner.
fn listening_address(line: &str) -> Option<String> {
    match serde_json::from_str::<Value>(line) {
        Ok(v) if v["fields"]["message"] == "vtenrich listening" => {
            v["fields"]["address"].as_str().map(str::to_owned)
        }
        Ok(_) => None,
        Err(_) => line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://127.0.0.1:"))
            .map(|rest| {
                rest.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .filter(|port| !port.is_empty())
            .map(|port| format!("127.0.0.1:{port}")),
    }
}

impl Service {
    /// How to start one; see [`ServiceBuilder`].
    pub fn builder() -> ServiceBuilder {
        ServiceBuilder {
            subcommand: "serve".to_owned(),
            args: Vec::new(),
            vars: Vec::new(),
            fd_limit: None,
            kept_lines: KEPT_LOG_LINES,
        }
    }

    /// Starts `vtenrich serve` with `vars` on top of the defaults (later entries win).
    pub async fn start(vars: &[(&str, &str)]) -> Self {
        Self::builder().envs(vars).start().await
    }

    /// As [`Service::start`] for another subcommand that serves (`demo`).
    pub async fn start_command(subcommand: &str, vars: &[(&str, &str)]) -> Self {
        Self::builder()
            .subcommand(subcommand)
            .envs(vars)
            .start()
            .await
    }

    /// As [`Service::start`] under a file-descriptor limit (see [`ServiceBuilder::fd_limit`]).
    pub async fn start_with_fd_limit(vars: &[(&str, &str)], soft: u64, hard: u64) -> Self {
        Self::builder()
            .envs(vars)
            .fd_limit(soft, hard)
            .start()
            .await
    }

    /// `base` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (its shutdown code runs) without waiting (the crate forbids `unsafe`, so
    /// no `libc::kill`).
    pub fn signal_term(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Waits (30 s at most) for the process to exit, then for its last log lines.
    pub async fn exit_status(&mut self) -> ExitStatus {
        for _ in 0..(PATIENCE.as_millis() / 20) {
            if let Some(status) = self.child.try_wait().expect("try_wait works") {
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("vtenrich did not exit within {PATIENCE:?} of SIGTERM");
    }

    /// Stops the process with SIGTERM (its shutdown code runs) and reaps it, waiting 30 s
    /// at most before killing it.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..300 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill();
    }

    /// `GET path` with `Authorization: Bearer key`: status and JSON body.
    pub async fn get_as(&self, key: &str, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .expect("the service answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON answer"))
    }

    /// `POST path` of `body` with `Authorization: Bearer key`: status and JSON body.
    pub async fn post_as(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("the service answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON answer"))
    }

    /// Kills the process (SIGKILL: no shutdown code runs) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `POST /v1/enrich` of `ips`; panics unless it answers 200.
    pub async fn enrich(&self, ips: &[String], max_wait_ms: u64) -> Value {
        let response = self
            .http
            .post(format!("{}/v1/enrich", self.base))
            .json(&json!({"observables": ips, "max_wait_ms": max_wait_ms}))
            .send()
            .await
            .expect("the service answers");
        let status = response.status();
        let body = response.text().await.expect("a body");
        assert_eq!(status.as_u16(), 200, "POST /v1/enrich: {body}");
        serde_json::from_str(&body).expect("a JSON body")
    }

    /// `GET /v1/quota`.
    pub async fn quota(&self) -> Value {
        self.http
            .get(format!("{}/v1/quota", self.base))
            .send()
            .await
            .expect("the service answers")
            .json()
            .await
            .expect("a JSON body")
    }

    /// The status code of `GET /readyz`.
    pub async fn readyz(&self) -> u16 {
        self.http
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .expect("the service answers")
            .status()
            .as_u16()
    }

    /// The Prometheus text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("the service answers")
            .text()
            .await
            .expect("a text body")
    }

    /// The value of an unlabelled metric, if exposed.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        metric_in(&self.metrics().await, name)
    }

    /// The last log lines (JSON), for failure messages.
    pub fn logs(&self) -> String {
        let kept = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// The value of one series (`name` or `name{label="value"}`) in a Prometheus text exposition.
pub fn metric_in(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let (key, value) = line.rsplit_once(' ')?;
        (key == series).then(|| value.trim().parse().ok()).flatten()
    })
}
