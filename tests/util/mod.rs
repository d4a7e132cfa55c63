//! Test helpers: a temp dir with a config pointed at an in-process sandbox, and
//! the real binary run with the sandbox's URLs and keys in its environment.

pub mod daemon;

use leadfall::sandbox::{serve, Sandbox, SandboxSettings, API_KEYS};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temp dir with `config/leadfall.toml` (the default waterfalls over the
/// repository's sandbox providers), a data dir, and a running sandbox.
pub struct TestDir {
    pub dir: tempfile::TempDir,
    pub sandbox: Sandbox,
    pub base: String,
    /// Extra environment for every command.
    pub env: std::cell::RefCell<Vec<(String, String)>>,
    pub rt: tokio::runtime::Runtime,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir::with_sandbox(SandboxSettings::default())
    }

    pub fn with_sandbox(settings: SandboxSettings) -> TestDir {
        // The sandbox runs on its own runtime so tests stay plain #[test] functions.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sandbox = Sandbox::new(settings);
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        rt.spawn(serve(listener, sandbox.clone(), async {
            let _ = rx.await;
        }));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        let default = std::fs::read_to_string(repo().join("config/leadfall.toml")).unwrap();
        let providers = repo().join("providers/sandbox");
        let config = default.replace(
            "provider_dirs = [\"../providers/sandbox\"]",
            &format!("provider_dirs = [{:?}]", providers.display().to_string()),
        );
        assert_ne!(
            config, default,
            "the default config names ../providers/sandbox"
        );
        // These tests are about enrichment mechanics: every field is looked up,
        // whatever the routes need (decision-relevant enrichment has its own tests).
        let config = config.replacen(
            "[waterfall]\n",
            "[waterfall]\nenrich_everything = true\n",
            1,
        );
        assert!(config.contains("enrich_everything = true"));
        std::fs::write(dir.path().join("config/leadfall.toml"), config).unwrap();
        for f in ["scoring.toml", "routing.toml"] {
            std::fs::copy(
                repo().join("config").join(f),
                dir.path().join("config").join(f),
            )
            .unwrap();
        }
        TestDir {
            dir,
            sandbox,
            base,
            env: Default::default(),
            rt,
            _stop: tx,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn config(&self) -> PathBuf {
        self.path("config/leadfall.toml")
    }

    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// `leadfall` with `--config` and the sandbox's URLs and keys in the environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_leadfall"));
        c.arg("--config")
            .arg(self.config())
            .args(args)
            .current_dir(self.dir.path());
        c.env_remove("RUST_LOG");
        for (vendor, key) in API_KEYS {
            let up = vendor.to_uppercase();
            c.env(
                format!("LEADFALL_PROVIDER_{up}_BASE_URL"),
                format!("{}/{vendor}", self.base),
            );
            c.env(format!("LEADFALL_SANDBOX_KEY_{up}"), key);
        }
        for (k, v) in self.env.borrow().iter() {
            c.env(k, v);
        }
        c
    }

    /// `leadfall enrich INPUT --out OUT` plus `extra` arguments.
    pub fn enrich(&self, input: &Path, out: &Path, extra: &[&str]) -> Command {
        let mut c = self.cmd(&["enrich"]);
        c.arg(input).arg("--out").arg(out).args(extra);
        c
    }

    /// Total requests the sandbox received.
    pub fn sandbox_requests(&self) -> u64 {
        self.sandbox.counters().values().map(|c| c.requests).sum()
    }
}

/// Run and capture; on an unexpected exit code print the command and its output.
pub fn run(mut cmd: Command, want_code: i32) -> Output {
    let out = cmd.output().expect("the binary runs");
    if out.status.code() != Some(want_code) {
        panic!(
            "{cmd:?}\nexpected exit {want_code}, got {:?}\n--- stdout\n{}\n--- stderr\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Read a JSON-lines output file.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Assert two multi-line texts are equal, printing both blocks when not.
#[macro_export]
macro_rules! eqnice {
    ($expected:expr, $got:expr) => {{
        let (e, g) = (&$expected, &$got);
        if e != g {
            panic!("\n--- expected\n{e}\n--- got\n{g}\n");
        }
    }};
}
