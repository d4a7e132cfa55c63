//! An installed binary outside the checkout: where the configuration is
//! found, `init`'s starter, the demo on its embedded configuration, exit
//! codes, completions and the man page.

use std::path::Path;
use std::process::{Command, Output};

/// The real binary in `cwd`, with a private HOME and no configuration from
/// the caller's environment.
fn leadfall(cwd: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leadfall"))
        .args(args)
        .current_dir(cwd)
        .env_remove("LEADFALL_CONFIG")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("RUST_LOG")
        .env("HOME", home)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The config file `check` says it read (its first line: `PATH: ok (...)`).
fn checked(o: &Output) -> String {
    assert!(o.status.success(), "{}", text(o));
    let out = String::from_utf8_lossy(&o.stdout);
    let first = out.lines().next().unwrap_or_default();
    first.split(": ok").next().unwrap().to_string()
}

#[test]
fn without_a_configuration_a_verb_says_where_it_looked_and_what_to_do() {
    let d = tempfile::tempdir().unwrap();
    let o = leadfall(d.path(), d.path(), &["check"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("no configuration found"), "{t}");
    assert!(
        t.contains("config/leadfall.toml") && t.contains(".config/leadfall/leadfall.toml"),
        "{t}"
    );
    assert!(t.contains("leadfall init"), "{t}");
}

#[test]
fn init_writes_a_starter_the_search_finds_and_never_overwrites_silently() {
    let d = tempfile::tempdir().unwrap();
    let o = leadfall(d.path(), d.path(), &["init"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("export HUNTER_API_KEY=...") && t.contains("export PDL_API_KEY=..."),
        "{t}"
    );
    let config = d.path().join(".config/leadfall/leadfall.toml");
    assert!(config.exists());
    // Found from any directory, and it names the real vendors, not the sandbox.
    let elsewhere = tempfile::tempdir().unwrap();
    assert_eq!(
        checked(&leadfall(elsewhere.path(), d.path(), &["check"])),
        config.display().to_string()
    );
    let o = leadfall(elsewhere.path(), d.path(), &["--json", "check"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["missing_keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "HUNTER_API_KEY"),
        "{v}"
    );
    assert!(
        !o.stdout.windows(10).any(|w| w == b"mailfinder"),
        "no sandbox vendor"
    );
    // The store goes to the user's data directory.
    let written = std::fs::read_to_string(&config).unwrap();
    let data = d.path().join(".local/share/leadfall");
    assert!(
        written.contains(&format!("data_dir = \"{}\"", data.display())),
        "{written}"
    );

    // A second init refuses and leaves the user's edits alone.
    std::fs::write(&config, format!("{written}\n# mine\n")).unwrap();
    let o = leadfall(d.path(), d.path(), &["init"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("--force"), "{}", text(&o));
    assert!(std::fs::read_to_string(&config)
        .unwrap()
        .ends_with("# mine\n"));
}

#[test]
fn the_search_order_is_flag_then_environment_then_working_directory_then_user_directory() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let user = home.path().join(".config/leadfall/leadfall.toml");
    assert!(leadfall(cwd.path(), home.path(), &["init"])
        .status
        .success());
    let named = tempfile::tempdir().unwrap();
    assert!(leadfall(
        cwd.path(),
        home.path(),
        &["init", named.path().to_str().unwrap()]
    )
    .status
    .success());
    let named = named.path().join("leadfall.toml");
    let local_dir = cwd.path().join("local");
    assert!(leadfall(
        cwd.path(),
        home.path(),
        &["init", local_dir.to_str().unwrap()]
    )
    .status
    .success());
    // Only the user's directory.
    assert_eq!(
        checked(&leadfall(cwd.path(), home.path(), &["check"])),
        user.display().to_string()
    );
    // ./config/leadfall.toml comes before it.
    std::fs::create_dir_all(cwd.path().join("config")).unwrap();
    let local = std::fs::read_to_string(local_dir.join("leadfall.toml"))
        .unwrap()
        .replace("\"providers\"", "\"../local/providers\"")
        .replace("\"scoring.toml\"", "\"../local/scoring.toml\"")
        .replace("\"routing.toml\"", "\"../local/routing.toml\"");
    std::fs::write(cwd.path().join("config/leadfall.toml"), local).unwrap();
    assert_eq!(
        checked(&leadfall(cwd.path(), home.path(), &["check"])),
        "config/leadfall.toml"
    );
    // LEADFALL_CONFIG before both, --config before that.
    let mut c = Command::new(env!("CARGO_BIN_EXE_leadfall"));
    c.arg("check")
        .current_dir(cwd.path())
        .env("HOME", home.path());
    c.env("LEADFALL_CONFIG", &named);
    assert_eq!(checked(&c.output().unwrap()), named.display().to_string());
    c.arg("--config").arg(&user);
    assert_eq!(checked(&c.output().unwrap()), user.display().to_string());
    // A named file that does not exist is an error, not a fallback.
    let o = leadfall(cwd.path(), home.path(), &["--config", "nope.toml", "check"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("nope.toml"), "{}", text(&o));
}

#[test]
fn the_demo_runs_anywhere_on_its_embedded_configuration() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("demo");
    let o = leadfall(
        d.path(),
        d.path(),
        &[
            "--json",
            "demo",
            "--once",
            "--leads",
            "40",
            "--dir",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary"]["records"], 40, "{v}");
    assert!(out.join("config/leadfall.toml").exists());
}

#[test]
fn a_bad_command_line_exits_64_and_help_exits_0() {
    let d = tempfile::tempdir().unwrap();
    let o = leadfall(d.path(), d.path(), &["frobnicate"]);
    assert_eq!(o.status.code(), Some(64), "{}", text(&o));
    let o = leadfall(d.path(), d.path(), &["import"]);
    assert_eq!(
        o.status.code(),
        Some(64),
        "a missing argument: {}",
        text(&o)
    );
    let o = leadfall(d.path(), d.path(), &["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Usage: leadfall"));
}

#[test]
fn completions_and_the_man_page_cover_every_verb() {
    let d = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let o = leadfall(d.path(), d.path(), &["completions", shell]);
        assert!(o.status.success(), "{}", text(&o));
        let t = String::from_utf8_lossy(&o.stdout);
        for verb in ["serve", "import", "reenrich", "report", "init"] {
            assert!(t.contains(verb), "{shell} completions lack {verb}");
        }
    }
    let o = leadfall(d.path(), d.path(), &["man"]);
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.contains(".TH leadfall 1"), "{t}");
    assert!(t.contains("reenrich"), "{t}");
}
