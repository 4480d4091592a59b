//! A `vtenrich serve` child process of the test's own: listening on a free loopback port,
//! reached over HTTP, killed (SIGKILL) on drop.

// Shared by several test binaries, each using part of it.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// Log lines kept per process for failure messages: enough for the last few requests.
const KEPT_LOG_LINES: usize = 400;

/// A running `vtenrich serve`.
pub struct Service {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    http: reqwest::Client,
    logs: Arc<Mutex<VecDeque<String>>>,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Service {
    /// Starts `vtenrich serve` on a free loopback port with JSON logs, no drain delay and
    /// `vars` on top (later entries win), and waits (30 s at most) until it logs its address.
    pub async fn start(vars: &[(&str, &str)]) -> Self {
        Self::start_command("serve", vars).await
    }

    /// As [`Service::start`] for another subcommand that serves (`demo`).
    pub async fn start_command(subcommand: &str, vars: &[(&str, &str)]) -> Self {
        Self::spawn(
            Command::new(env!("CARGO_BIN_EXE_vtenrich")),
            subcommand,
            vars,
        )
        .await
    }

    /// As [`Service::start`], with `RLIMIT_NOFILE` set to `soft` and `hard` before the binary
    /// runs (through util-linux `prlimit`, which execs it: the child is still vtenrich).
    pub async fn start_with_fd_limit(vars: &[(&str, &str)], soft: u64, hard: u64) -> Self {
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--nofile={soft}:{hard}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_vtenrich"));
        Self::spawn(command, "serve", vars).await
    }

    async fn spawn(mut command: Command, subcommand: &str, vars: &[(&str, &str)]) -> Self {
        command.arg(subcommand);
        // A developer's own VTENRICH_* settings must not leak into the test's process.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("VTENRICH_") {
                command.env_remove(name);
            }
        }
        command
            .env("VTENRICH_LISTEN", "127.0.0.1:0")
            .env("VTENRICH_LOG", "info")
            .env("VTENRICH_LOG_FORMAT", "json")
            .env("VTENRICH_DRAIN_DELAY", "0s")
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("vtenrich serve starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let logs = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        let kept = logs.clone();
        // Drained until the process ends, so a full pipe never blocks its logging.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["fields"]["message"] == "vtenrich listening"
                    && let (Some(tx), Some(a)) = (tx.take(), v["fields"]["address"].as_str())
                {
                    let _ = tx.send(a.to_owned());
                }
                let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                if kept.len() == KEPT_LOG_LINES {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        let address = tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .expect("the service starts in time")
            .expect("the service logs its address");
        Self {
            child,
            base: format!("http://{address}"),
            // Bounds every request of a test even if the service never answers.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("an HTTP client"),
            logs,
        }
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
