//! For tests that need something outside the crate (Chromium, node, a
//! PostgreSQL server): skip saying so, or fail when `LEADFALL_TEST_REQUIRE`
//! asks for it. And, for the crate's own tests, a real crash: a child process
//! killed with SIGKILL.

pub use crate::store::postgres::require_or_skip;

/// What a crash test's child prints once its writes are acknowledged.
#[cfg(test)]
pub(crate) const ACKED: &str = "leadfall-test: acknowledged";

/// In a crash test's child: say that what it wrote is acknowledged.
#[cfg(test)]
pub(crate) fn acknowledge() {
    use std::io::Write;
    let mut out = std::io::stdout();
    writeln!(out, "{ACKED}").unwrap();
    out.flush().unwrap();
}

/// Run the unit test `test` (its full path) again in a child process of this
/// test binary with `env=value`, wait until it [`acknowledge`]s, then kill it
/// with SIGKILL: nothing is dropped or flushed on the way out.
#[cfg(test)]
pub(crate) fn run_child_and_kill_it(test: &str, env: &str, value: &str) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(env, value)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read on a thread, so a child that never acknowledges fails the test
    // after a minute instead of hanging it.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut said = Vec::new();
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            // libtest's "test <name> ... " may start the line.
            if line.ends_with(ACKED) {
                let _ = tx.send(Ok(()));
                return;
            }
            said.push(line);
        }
        let _ = tx.send(Err(said.join("\n")));
    });
    let acked = rx.recv_timeout(std::time::Duration::from_secs(60));
    child.kill().unwrap();
    let status = child.wait().unwrap();
    match acked {
        Ok(Ok(())) => {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(9), "killed, not exited: {status}");
        }
        Ok(Err(said)) => panic!("the child ended before acknowledging ({status}):\n{said}"),
        Err(_) => panic!("the child did not acknowledge within 60 s"),
    }
}
