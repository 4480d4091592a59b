//! A real `redis-server` of the test's own on a free loopback port, killed on drop, that a
//! test can pause (`SIGSTOP`), resume, stop and restart on the same port; and the deployments
//! operators run built from such servers: TLS with certificates made here, a three-master
//! Cluster, a Sentinel with one master and one replica.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One redis-server process without persistence.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    role: Role,
    /// Its working directory: a replica writes the RDB it receives there, and every server
    /// loads a `dump.rdb` it finds in its directory at start.
    dir: tempfile::TempDir,
}

/// What a server is started as.
#[derive(Clone)]
enum Role {
    Plain,
    /// TLS only (no plain port), clients must show a certificate of the test's CA.
    Tls(TlsFiles),
    /// A Cluster node keeping its node file in the directory.
    ClusterNode(PathBuf),
    /// A replica of the plain server on this port.
    ReplicaOf(u16),
    /// A sentinel with this configuration file (it rewrites it).
    Sentinel(PathBuf),
}

impl RedisServer {
    /// Starts a server on a free port; panics (never skips) when redis-server is missing.
    pub fn start() -> Self {
        Self::start_as(Role::Plain)
    }

    /// A TLS-only server whose certificate `tls` signed, asking clients for theirs.
    pub fn start_tls(tls: &TlsFiles) -> Self {
        Self::start_as(Role::Tls(tls.clone()))
    }

    fn start_as(role: Role) -> Self {
        // Another process may grab the port between probing and binding; try a few.
        for _ in 0..5 {
            let port = free_port();
            if let Role::Sentinel(conf) = &role {
                // The sentinel rewrites the file with its port; start from the template.
                let template = conf.with_extension("template");
                std::fs::copy(template, conf).expect("sentinel config");
            }
            let mut server = Self {
                port,
                child: None,
                role: role.clone(),
                dir: tempfile::tempdir().expect("temp dir"),
            };
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
            role: Role::Plain,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// `redis://127.0.0.1:PORT/` (`rediss://` for a TLS server).
    pub fn url(&self) -> String {
        let scheme = match self.role {
            Role::Tls(_) => "rediss",
            _ => "redis",
        };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.port
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
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        if let Role::Sentinel(conf) = &self.role {
            command.arg(conf).arg("--sentinel");
        }
        match &self.role {
            Role::Tls(_) => command.args(["--port", "0", "--tls-port", &port]),
            _ => command.args(["--port", &port]),
        };
        command
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path());
        if !matches!(self.role, Role::Sentinel(_)) {
            command.args(["--save", "", "--appendonly", "no"]);
        }
        match &self.role {
            Role::Plain | Role::Sentinel(_) => {}
            Role::Tls(tls) => {
                command
                    .arg("--tls-cert-file")
                    .arg(&tls.server_cert)
                    .arg("--tls-key-file")
                    .arg(&tls.server_key)
                    .arg("--tls-ca-cert-file")
                    .arg(&tls.ca)
                    .args(["--tls-auth-clients", "yes"]);
            }
            Role::ClusterNode(dir) => {
                command
                    .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                    .arg("--cluster-config-file")
                    .arg(dir.join(format!("nodes-{port}.conf")));
            }
            Role::ReplicaOf(master) => {
                command.args(["--replicaof", "127.0.0.1", &master.to_string()]);
            }
        }
        let child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn();
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
            if let Some(ours) = self.answered_by(child.id()) {
                if !ours {
                    // Another test's server holds the port (two probes were given the same
                    // free port): ours cannot bind it; try another.
                    break;
                }
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

impl RedisServer {
    /// Whether the server answering on the port is process `pid`; `None` while nothing
    /// answers. A TLS port cannot be asked in plain text: it counts as ours once it accepts
    /// and the child is still running shortly after (it exits when the port is taken).
    fn answered_by(&self, pid: u32) -> Option<bool> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        if matches!(self.role, Role::Tls(_)) {
            std::thread::sleep(Duration::from_millis(100));
            return Some(
                std::process::Command::new("kill")
                    .args(["-0", &pid.to_string()])
                    .status()
                    .is_ok_and(|s| s.success()),
            );
        }
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream.write_all(b"INFO server\r\n").ok()?;
        let mut reply = Vec::new();
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&reply).contains("\r\nexecutable:") {
            let n = stream.read(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&chunk[..n]);
        }
        let text = String::from_utf8_lossy(&reply);
        Some(text.contains(&format!("\r\nprocess_id:{pid}\r\n")))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CA and, signed by it, a server certificate for 127.0.0.1 and a client certificate, as
/// PEM files in a directory removed with the last clone.
#[derive(Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    _dir: std::sync::Arc<tempfile::TempDir>,
}

impl TlsFiles {
    /// Fresh certificates (rcgen).
    pub fn generate() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, SanType,
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).expect("write PEM");
            path
        };
        // Each certificate needs its own name: a leaf named like its CA looks self-signed.
        let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "vtenrich test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf = |name: &str, purpose: ExtendedKeyUsagePurpose| {
            let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            params
                .subject_alt_names
                .push(SanType::IpAddress([127, 0, 0, 1].into()));
            params.extended_key_usages = vec![purpose];
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &ca).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf("redis-server", ExtendedKeyUsagePurpose::ServerAuth);
        let (client_cert, client_key) = leaf("vtenrich", ExtendedKeyUsagePurpose::ClientAuth);
        Self {
            ca: write("ca.pem", ca.pem()),
            server_cert: write("server.pem", server_cert),
            server_key: write("server-key.pem", server_key),
            client_cert: write("client.pem", client_cert),
            client_key: write("client-key.pem", client_key),
            _dir: std::sync::Arc::new(dir),
        }
    }
}

/// Three masters sharing the 16384 slots (`redis-cli --cluster create`), no replicas.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts the nodes, joins them and waits until every node reports `cluster_state:ok`.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| RedisServer::start_as(Role::ClusterNode(dir.path().to_owned())))
            .collect();
        let status = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .expect("redis-cli runs (Debian package redis-tools, with redis-server)");
        assert!(status.success(), "redis-cli --cluster create failed");
        for node in &nodes {
            wait_for(&format!("node {} joins the cluster", node.port), || {
                cli(node.port, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
            });
        }
        Self { nodes, _dir: dir }
    }

    /// The seed nodes, comma-separated (`VTENRICH_REDIS_URL` in cluster mode).
    pub fn urls(&self) -> String {
        let urls: Vec<String> = self.nodes.iter().map(RedisServer::url).collect();
        urls.join(",")
    }
}

/// The name of the master set the test sentinels watch.
pub const SENTINEL_MASTER: &str = "vtenrich-test";

/// One master, one replica and three sentinels (quorum 2) watching them.
pub struct SentinelGroup {
    pub master: RedisServer,
    pub replica: RedisServer,
    pub sentinels: Vec<RedisServer>,
    _dir: tempfile::TempDir,
}

impl SentinelGroup {
    /// Starts the servers and waits until the sentinels know the master and its replica.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let master = RedisServer::start();
        let replica = RedisServer::start_as(Role::ReplicaOf(master.port));
        let sentinels: Vec<RedisServer> = (0..3)
            .map(|i| {
                let conf = dir.path().join(format!("sentinel-{i}.conf"));
                std::fs::write(
                    conf.with_extension("template"),
                    format!(
                        "sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {} 2\n\
                         sentinel down-after-milliseconds {SENTINEL_MASTER} 1000\n\
                         sentinel failover-timeout {SENTINEL_MASTER} 4000\n",
                        master.port
                    ),
                )
                .expect("sentinel template");
                RedisServer::start_as(Role::Sentinel(conf))
            })
            .collect();
        let group = Self {
            master,
            replica,
            sentinels,
            _dir: dir,
        };
        wait_for("the replica is in sync", || {
            cli(group.replica.port, &["INFO", "replication"]).contains("master_link_status:up")
        });
        for sentinel in &group.sentinels {
            wait_for("each sentinel knows the replica and the others", || {
                let info = cli(sentinel.port, &["INFO", "sentinel"]);
                info.contains("slaves=1") && info.contains("sentinels=3")
            });
        }
        group
    }

    /// The sentinels, comma-separated (`VTENRICH_REDIS_URL` in sentinel mode).
    pub fn urls(&self) -> String {
        let urls: Vec<String> = self.sentinels.iter().map(RedisServer::url).collect();
        urls.join(",")
    }

    /// The port of the master the sentinels name now.
    pub fn master_port(&self) -> u16 {
        let reply = cli(
            self.sentinels[0].port,
            &["SENTINEL", "get-master-addr-by-name", SENTINEL_MASTER],
        );
        reply
            .lines()
            .nth(1)
            .and_then(|p| p.trim().parse().ok())
            .expect("the sentinel names a master")
    }

    /// Promotes the replica (`SENTINEL FAILOVER`) and waits until the sentinels name it
    /// and it answers as master.
    pub fn fail_over(&self) {
        let before = self.master_port();
        let reply = cli(
            self.sentinels[0].port,
            &["SENTINEL", "FAILOVER", SENTINEL_MASTER],
        );
        assert!(reply.contains("OK"), "SENTINEL FAILOVER: {reply}");
        wait_for("the sentinels name the promoted replica", || {
            self.master_port() != before && cli(self.master_port(), &["ROLE"]).starts_with("master")
        });
    }
}

/// Runs `redis-cli -p port args...` and returns its output.
pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `check` every 50 ms for at most 20 s; panics naming `what` if it never holds.
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..400 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("never happened: {what}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}
