//! The gateway's own binary, for the tests of what only a real process shows (signals, files,
//! logs): a free loopback port to start it on, and a wait until it listens there.

use std::net::TcpStream;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_gpd-gateway");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_until_up(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the gateway did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `gpd-gateway serve` process on a free loopback port, its log kept in a file; killed when
/// dropped.
pub struct Process {
    pub base: String,
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Process {
    /// Starts `serve` with `args` (besides `--listen`) and waits until it listens.
    pub fn serve(args: &[&str], log: std::path::PathBuf) -> Process {
        Process::serve_with_env(args, &[], log)
    }

    /// [`Process::serve`] with these environment variables set.
    pub fn serve_with_env(args: &[&str], env: &[(&str, &str)], log: std::path::PathBuf) -> Process {
        let port = free_port();
        let file = std::fs::File::create(&log).unwrap();
        let child = std::process::Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .envs(env.iter().copied())
            .stderr(file)
            .spawn()
            .unwrap();
        let mut process = Process {
            base: format!("http://127.0.0.1:{port}"),
            child,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(exit)) = process.child.try_wait() {
                panic!("the gateway ended ({exit}): {}", process.log());
            }
            assert!(Instant::now() < deadline, "the gateway did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        process
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        let port = self.base.rsplit(':').next().unwrap();
        port.parse().unwrap()
    }

    /// Sends the signal `name` (`HUP`, `TERM`…).
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    }

    /// Waits until the log holds `needle` `count` times or more.
    pub fn wait_for_log(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.log().matches(needle).count() < count {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the log: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the process ends at once, nothing closed or flushed.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
