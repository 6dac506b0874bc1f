//! The Redis servers the tests use: the standalone server and the 3-master cluster
//! `scripts/redis-servers.sh` starts (named by environment variables), and private
//! servers a fault test starts, restarts and kills itself.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn required(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run the Redis tests through `bash scripts/redis-servers.sh \
             cargo test --release` (as `make test` does), which starts the servers"
        )
    })
}

/// `redis://127.0.0.1:PORT/0` of the shared standalone server.
pub fn standalone_url() -> String {
    required("SESSIONS_REDIS_URL")
}

/// `redis+cluster://…` of the shared 3-master cluster.
pub fn cluster_url() -> String {
    required("SESSIONS_REDIS_CLUSTER_URL")
}

/// `url` with a key prefix no other test (or test process) uses, so each test starts
/// from an empty store without flushing the shared server.
pub fn fresh_prefix(url: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}prefix=t{}x{n}x{nanos}", std::process::id())
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A redis-server of the test's own (AOF on, `appendfsync always`), in a temporary
/// directory, killed by pid when dropped.
pub struct PrivateServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateServer {
    /// Starts a server on a free port.
    pub fn start() -> Self {
        let mut server = PrivateServer {
            port: free_port(),
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        server.spawn();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn spawn(&mut self) {
        let binary =
            std::env::var("SESSIONS_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let dir: PathBuf = self.dir.path().to_owned();
        let child = Command::new(binary)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&dir)
            .args(["--daemonize", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (installed by scripts/redis-servers.sh)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server: SIGKILL (`hard`, like a crash) or SIGTERM, and waits for it.
    pub fn stop(&mut self, hard: bool) {
        if let Some(mut child) = self.child.take() {
            let signal = if hard { "-KILL" } else { "-TERM" };
            let _ = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Kills the server (SIGKILL) and starts it again on the same port and directory,
    /// where it reloads its append-only file.
    pub fn crash_and_restart(&mut self) {
        self.stop(true);
        self.spawn();
    }

    /// Runs `redis-cli -p PORT args...`, returning its output.
    pub fn cli(&self, args: &[&str]) -> String {
        cli(self.port, args)
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.stop(true);
    }
}

/// Runs `redis-cli -p port args...` and returns its standard output.
pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The port of a `redis://host:port/...` or each node of a `redis+cluster://` URL.
pub fn ports(url: &str) -> Vec<u16> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['/', '?']).next().unwrap_or(rest);
    rest.split(',')
        .filter_map(|node| node.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
        .collect()
}
