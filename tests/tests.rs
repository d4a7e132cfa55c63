//! The one integration-test binary (one link step on a 2-core CI). Each module
//! runs the real `leadfall` binary against an in-process sandbox on 127.0.0.1:0.

/// Shared helpers: temp dirs, the sandbox, running the binary.
mod util;

/// `leadfall check`: valid and broken configurations, messages verbatim.
mod check;
/// Several daemons on one PostgreSQL database: crash, stop, shared limits and budgets.
mod cluster;
/// `leadfall serve` and its ops verbs: crash safety, drain, lock, auth, import, reenrich.
mod daemon;
/// `leadfall demo`: the newcomer's path, reconciled with the sandbox bill.
mod demo;
/// Acknowledged writes survive a `kill -9` right after the answer.
mod durability;
/// `leadfall enrich`: bad input, cache, faults, secrets.
mod enrich;
/// An installed binary: configuration search, `init`, the embedded demo, exit codes, completions.
mod first_hour;
/// `leadfall --help`: the user's verbs, no benchmark harness.
mod help;
/// Lead files as CRMs export them: header aliases, `--map` / `--ignore`,
/// `import --dry-run`, Windows-1252 files.
mod import;
/// The architecture: layers and no import cycle between top-level modules.
mod layers;
/// `leadfall report`: reconciliation with the sandbox bill, table/CSV/JSON, HTML in Chromium.
mod report;
/// Real vendor definitions (`providers/*.toml`) against replays of their
/// documented answers and Prism mocks of their OpenAPI specs; the real profile.
mod vendors;
