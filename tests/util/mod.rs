//! Test helpers: a temp dir with a config pointed at an in-process sandbox, and
//! the real binary run with the sandbox's URLs and keys in its environment.

pub mod daemon;

use leadfall::sandbox::{serve, Sandbox, SandboxSettings};
use leadfall::store::postgres::{test_server, TempDatabase};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

thread_local! {
    /// Set while a test body runs on PostgreSQL (see [`on_postgres`]).
    static ON_POSTGRES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run a test body with every [`TestDir`] it makes on a PostgreSQL database
/// of its own (`store = "postgres://..."`) instead of sled. Skipped, saying
/// so, with `LEADFALL_TEST_PG=off`.
pub fn on_postgres(body: fn()) {
    if test_server().is_none() {
        eprintln!("SKIPPED on PostgreSQL: LEADFALL_TEST_PG=off");
        return;
    }
    on_postgres_with(body);
}

/// [`on_postgres`] for a closure (the server is assumed configured).
pub fn on_postgres_with(body: impl FnOnce()) {
    ON_POSTGRES.with(|p| p.set(true));
    body();
    ON_POSTGRES.with(|p| p.set(false));
}

/// One suite, two backends: each named test body (a plain `fn`) becomes the
/// tests `<name>::sled` and `<name>::postgres`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sled() {
                    super::$name()
                }
                #[test]
                fn postgres() {
                    $crate::util::on_postgres(super::$name)
                }
            }
        )*
    };
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
    /// The test's own database when it runs on PostgreSQL (dropped last).
    pub db: Option<TempDatabase>,
    /// This test's turn: shared with the others, or alone (dropped last).
    _turn: Turn,
}

/// Tests run side by side, except those that measure real time across
/// several daemons (a shared vendor limit per second): they run alone, so the
/// machine's load from other tests cannot bunch their requests.
static TURNS: std::sync::RwLock<()> = std::sync::RwLock::new(());

#[allow(dead_code)]
enum Turn {
    Shared(std::sync::RwLockReadGuard<'static, ()>),
    Alone(std::sync::RwLockWriteGuard<'static, ()>),
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir::with_sandbox(SandboxSettings::default())
    }

    pub fn with_sandbox(settings: SandboxSettings) -> TestDir {
        let turn = Turn::Shared(TURNS.read().unwrap_or_else(|e| e.into_inner()));
        TestDir::build(settings, turn)
    }

    /// Like [`TestDir::with_sandbox`], for a test that must run alone.
    #[allow(dead_code)]
    pub fn alone_with_sandbox(settings: SandboxSettings) -> TestDir {
        let turn = Turn::Alone(TURNS.write().unwrap_or_else(|e| e.into_inner()));
        TestDir::build(settings, turn)
    }

    fn build(settings: SandboxSettings, turn: Turn) -> TestDir {
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
        let db = ON_POSTGRES.with(|p| p.get()).then(|| {
            TempDatabase::create(&test_server().unwrap())
                .expect("the test PostgreSQL server (LEADFALL_TEST_PG=off skips)")
        });
        let config = match &db {
            Some(db) => format!("store = {:?}\n{config}", db.url_for_config()),
            None => config,
        };
        std::fs::write(dir.path().join("config/leadfall.toml"), config).unwrap();
        for f in ["scoring.toml", "routing.toml"] {
            std::fs::copy(
                repo().join("config").join(f),
                dir.path().join("config").join(f),
            )
            .unwrap();
        }
        TestDir {
            db,
            dir,
            sandbox,
            base,
            env: Default::default(),
            rt,
            _stop: tx,
            _turn: turn,
        }
    }

    /// The store the daemons of this test use (sled in `data/store`, or the
    /// test's database), opened from outside as a check would.
    pub fn store(&self) -> leadfall::store::Opened {
        let backend = match &self.db {
            Some(db) => leadfall::store::Backend::Postgres(Box::new(db.url().clone())),
            None => leadfall::store::Backend::Sled,
        };
        leadfall::store::Opened::open(&backend, &self.path("data"), false).unwrap()
    }

    /// Every outbox event in the store, oldest first.
    pub fn outbox_events(&self) -> Vec<serde_json::Value> {
        match self.store() {
            leadfall::store::Opened::Sled(s) => s.outbox_events().unwrap(),
            leadfall::store::Opened::Postgres(s) => s.outbox_events().unwrap(),
        }
    }

    /// A second data directory for another daemon on the same store: its own
    /// config file differing only in `data_dir`. Returns the config path.
    pub fn member_config(&self, name: &str) -> PathBuf {
        let text = std::fs::read_to_string(self.config()).unwrap();
        let other = text.replacen(
            "data_dir = \"../data\"",
            &format!("data_dir = \"../{name}\""),
            1,
        );
        assert_ne!(other, text, "the config names data_dir = \"../data\"");
        self.write(&format!("config/{name}.toml"), other)
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
        self.cmd_with(&self.config(), args)
    }

    /// [`TestDir::cmd`] with another config file (another member's).
    pub fn cmd_with(&self, config: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_leadfall"));
        c.arg("--config")
            .arg(config)
            .args(args)
            .current_dir(self.dir.path());
        c.env_remove("RUST_LOG");
        c.envs(Sandbox::child_env(&self.base));
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
/// How many (record, operation) pairs the ledger shows paid more than once
/// (the verifier's re-checks of a guess aside).
pub fn pairs_paid_twice(ledger: &[leadfall::store::LedgerEntry]) -> usize {
    let mut paid: std::collections::BTreeMap<(&str, &str), u32> = Default::default();
    for r in ledger
        .iter()
        .filter(|r| r.credits > 0.0 && r.provider != "verifier")
    {
        *paid
            .entry((r.record_id.as_deref().unwrap_or_default(), &r.operation))
            .or_default() += 1;
    }
    paid.values().filter(|n| **n > 1).count()
}

/// Every record the daemon holds, through `leadfall export` (JSON lines).
pub fn export(t: &TestDir) -> Vec<serde_json::Value> {
    let out = t.path(&format!("export-{}.jsonl", std::process::id()));
    run(
        t.cmd(&[
            "export",
            "--format",
            "jsonl",
            "--out",
            out.to_str().unwrap(),
        ]),
        0,
    );
    read_jsonl(&out)
}

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
