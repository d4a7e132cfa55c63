//! Arbitrary TOML through the real loaders: a provider definition through
//! `toml` + `compile_provider`, and a whole deployment (main config, one
//! provider file, scoring and routing) through `config::load` on files in a
//! temporary directory. Errors are expected; panics are not, and every error
//! must say something.
//!
//! Input: up to four parts separated by NUL bytes, in order the main config
//! (`config/leadfall.toml`), a provider definition
//! (`providers/sandbox/fuzz.toml`, the default `provider_dirs`), the scoring
//! file (`config/scoring.toml`) and the routing file (`config/routing.toml`).
//! A missing part is an empty file.
#![no_main]

use leadfall::config::ConfigFile;
use leadfall::provider::{compile_provider, config::ProviderFile};
use leadfall_fuzz::{catalogue, no_env};
use libfuzzer_sys::fuzz_target;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

/// The deployment's root: `config/` and `providers/sandbox/` under a
/// temporary directory made once per process (kept: libFuzzer ends the
/// process without running destructors; a few KiB per run).
fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        // In memory where there is a tmpfs: truncating and rewriting four
        // files on a disk file system was most of an execution.
        let shm = Path::new("/dev/shm");
        let mut b = tempfile::Builder::new();
        b.prefix("leadfall-fuzz-config");
        let dir = if shm.is_dir() {
            b.tempdir_in(shm)
        } else {
            b.tempdir()
        };
        let dir = dir.expect("temp dir").keep();
        std::fs::create_dir_all(dir.join("config")).unwrap();
        std::fs::create_dir_all(dir.join("providers/sandbox")).unwrap();
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&b| b == 0);
    let config = parts.next().unwrap_or_default();
    let provider = parts.next().unwrap_or_default();
    let scoring = parts.next().unwrap_or_default();
    let routing = parts.next().unwrap_or_default();

    compile_one_provider(provider);

    // The loader reads what the config names (provider_dirs, scoring_file,
    // routing_file). Only paths inside the temporary root are followed: the
    // fuzzer must not read /dev/zero or the machine's files.
    if !stays_inside(config) {
        return;
    }
    let root = root();
    let write = |rel: &str, bytes: &[u8]| std::fs::write(root.join(rel), bytes).unwrap();
    write("config/leadfall.toml", config);
    write("providers/sandbox/fuzz.toml", provider);
    write("config/scoring.toml", scoring);
    write("config/routing.toml", routing);
    match leadfall::config::load(&root.join("config/leadfall.toml"), &no_env) {
        Ok(settings) => {
            for p in settings.providers.iter() {
                assert!(
                    !p.operations.is_empty(),
                    "provider {} has no operation",
                    p.id
                );
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "a failed load with no error");
            for e in &errors.0 {
                assert!(!e.message.trim().is_empty(), "an empty error: {e:?}");
            }
            let _ = errors.to_string();
        }
    }
});

/// One provider file through the parser and the compiler, as `config::load`
/// does for each file, but without the file system (so most inputs get here).
fn compile_one_provider(text: &[u8]) {
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let raw: ProviderFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let e = leadfall::diag::toml_error("fuzz.toml", text, &e);
            assert!(!e.message.trim().is_empty(), "an empty TOML error");
            return;
        }
    };
    let mut errors = Vec::new();
    let compiled = compile_provider(
        Path::new("fuzz.toml"),
        raw,
        catalogue(),
        &no_env,
        &mut errors,
    );
    // `None` exactly when something was wrong, and then it says what.
    assert_eq!(compiled.is_none(), !errors.is_empty(), "{errors:?}");
    for e in &errors {
        assert!(!e.message.trim().is_empty(), "an empty error: {e:?}");
        let _ = e.to_string();
    }
}

/// Whether every path the config names stays under the temporary root
/// (relative, and no `..` above it). Unparsable configs are fine: the
/// loader stops at the syntax error before reading anything else.
fn stays_inside(config: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(config) else {
        return true;
    };
    let Ok(raw) = toml::from_str::<ConfigFile>(text) else {
        return true;
    };
    let named = raw
        .provider_dirs
        .iter()
        .chain(&raw.scoring_file)
        .chain(&raw.routing_file);
    named.into_iter().all(|p| {
        // The config file is one level down (`config/`).
        let mut depth = 1i32;
        Path::new(p).components().all(|c| {
            depth += match c {
                Component::Normal(_) => 1,
                Component::CurDir => 0,
                Component::ParentDir => -1,
                Component::RootDir | Component::Prefix(_) => return false,
            };
            depth >= 0
        })
    })
}
