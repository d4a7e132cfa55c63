//! The real daemon as a child process: started with `serve --listen 127.0.0.1:0`,
//! ready once it has written its address, killed on drop.

use super::TestDir;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Daemon {
    pub child: Option<Child>,
    pub addr: String,
    pub log: PathBuf,
}

/// Poll `f` until it returns Some, or fail after `timeout` with `what` and the last state.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match f() {
            Ok(v) => return v,
            Err(state) => state,
        };
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; last seen: {last}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Daemon {
    pub fn command(t: &TestDir) -> Command {
        let mut c = t.cmd(&["serve", "--listen", "127.0.0.1:0", "--drain-secs", "50"]);
        c.env("RUST_LOG", "warn");
        c
    }

    pub fn start(t: &TestDir) -> Daemon {
        Daemon::start_with(t, Daemon::command(t), &t.path("data"))
    }

    /// Another daemon on the same store (PostgreSQL): its own config file
    /// and data directory `name` (see [`TestDir::member_config`]).
    pub fn start_member(t: &TestDir, name: &str) -> Daemon {
        let config = t.member_config(name);
        let mut c = t.cmd_with(
            &config,
            &["serve", "--listen", "127.0.0.1:0", "--drain-secs", "50"],
        );
        c.env("RUST_LOG", "warn");
        Daemon::start_with(t, c, &t.path(name))
    }

    fn start_with(t: &TestDir, mut command: Command, data_dir: &std::path::Path) -> Daemon {
        let addr_file = data_dir.join("control.addr");
        let _ = std::fs::remove_file(&addr_file);
        let log = t.path(&format!(
            "daemon-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let child = command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the daemon starts");
        let mut d = Daemon {
            child: Some(child),
            addr: String::new(),
            log,
        };
        d.addr = wait_for(Duration::from_secs(20), "the daemon's control.addr", || {
            if let Some(status) = d.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "the daemon exited with {status}:\n{}",
                    std::fs::read_to_string(&d.log).unwrap_or_default()
                );
            }
            std::fs::read_to_string(&addr_file)
                .map(|s| s.trim().to_string())
                .map_err(|e| e.to_string())
        });
        d
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap(); // SIGKILL
            c.wait().unwrap();
        }
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().unwrap();
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
        let started = Instant::now();
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the daemon did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}
