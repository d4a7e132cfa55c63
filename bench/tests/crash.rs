//! The crash harness against the real daemon (this crate's binary acting as
//! leadfall, the same library as the `leadfall` binary).

use std::process::{Command, Output};

/// Run `cmd`; its output, or a panic with both streams when the exit code differs.
fn run(mut cmd: Command, want_code: i32) -> Output {
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

/// The crash harness (`leadfall-bench --crash-kills`): the real daemon killed
/// 20 times in the middle of work (and once right after `import`), with the
/// email waterfall and its verifier running, against an uninterrupted run on
/// the same world, for two seeds. One worker: passes run in queue order, so
/// an uninterrupted run is repeatable and the kills must change nothing.
#[test]
fn twenty_kills_in_work_change_nothing() {
    let repo = crate::repo();
    for seed in ["7", "42"] {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_leadfall-bench"));
        c.arg("--config")
            .arg(repo.join("config/leadfall.toml"))
            .args(["--json", "--crash-kills", "20", "--crash-leads", "400"])
            .args(["--crash-workers", "1", "--seed", seed]);
        let r: serde_json::Value = serde_json::from_slice(&run(c, 0).stdout).unwrap();
        let (a, b) = (&r["reference"], &r["crashed"]);
        assert_eq!(
            (r["imported"].as_u64(), r["kills"].as_u64()),
            (Some(400), Some(21)),
            "{r}"
        );
        assert_eq!(b["records"], 400, "{r}");
        assert_eq!(
            b["passes"],
            serde_json::json!({"1": 400}),
            "one committed pass each: {r}"
        );
        assert_eq!(
            r["differing"],
            serde_json::json!([]),
            "values and sources: {r}"
        );
        let f = |v: &serde_json::Value| v.as_f64().unwrap();
        // Each vendor: the ledger as without kills; billed beyond it only
        // the calls in flight at a kill (one pass at a time: at most one
        // call per vendor per kill).
        for (vendor, bill) in b["vendors"].as_object().unwrap() {
            assert_eq!(
                bill["ledger"], a["vendors"][vendor]["ledger"],
                "{vendor}: {r}"
            );
            let gap = f(&bill["billed"]) - f(&bill["ledger"]);
            assert!((0.0..=21.0).contains(&gap), "{vendor}: {bill} ({r})");
        }
        assert_eq!(
            b["record_credits"], b["ledger_credits"],
            "per-record credits: {r}"
        );
    }
}
