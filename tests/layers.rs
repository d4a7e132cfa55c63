//! The architecture, checked: every top-level module of `src/` sits in one
//! layer, imports only from its own layer or the ones below, and no two
//! top-level modules import each other, directly or around a circle.
//! Test code (`tests.rs`, `*_tests.rs`, `#[cfg(test)] mod tests`) may reach up.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first (README "Layout"). A new top-level module must be
/// placed here, or this test fails.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundations",
        &[
            "clock",
            "csv_safe",
            "data_dir",
            "diag",
            "keyed",
            "model",
            "quoted",
            "telemetry",
        ],
    ),
    (
        "rules",
        &["import", "provider", "retry", "route", "score", "waterfall"],
    ),
    ("state and calls", &["budget", "executor", "sink", "store"]),
    (
        "settings and reading",
        &["advisor", "config", "export", "report"],
    ),
    ("engine", &["engine"]),
    (
        "surface",
        &["api", "client", "control", "daemon", "sandbox"],
    ),
    ("cli", &["cli", "testing"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&module))
}

/// The non-test source of a file: a trailing `#[cfg(test)] mod tests { .. }`
/// is cut, and so are line comments (doc links are not imports).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Top-level modules a piece of code names: `crate::x` paths (macros such as
/// `crate::name!` excluded) and the first names of `use crate::{x, y::z}`.
fn imports(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(i) = code[from..].find("crate::") {
        let start = from + i + "crate::".len();
        from = start;
        if start > 7 && is_ident(bytes[start - 8]) {
            continue; // `mycrate::`
        }
        if bytes.get(start) == Some(&b'{') {
            // Split the group at its own commas; each item's first name counts.
            let (mut depth, mut item) = (0, String::new());
            for &b in &bytes[start..] {
                match b {
                    b'{' => depth += 1,
                    b'}' => depth -= 1,
                    b',' if depth == 1 => {
                        out.insert(first_name(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if depth >= 1 && !(depth == 1 && b == b'{') {
                    item.push(b as char);
                }
            }
            out.insert(first_name(&item));
            continue;
        }
        let end = bytes[start..]
            .iter()
            .position(|&b| !is_ident(b))
            .map_or(bytes.len(), |n| start + n);
        if bytes.get(end) != Some(&b'!') && end > start {
            out.insert(code[start..end].to_string());
        }
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out
}

/// `model::{Record, Signal}` → `model`.
fn first_name(item: &str) -> String {
    let item = item.trim_start();
    let end = item
        .bytes()
        .position(|b| !is_ident(b))
        .unwrap_or(item.len());
    item[..end].to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Module → modules it imports, over the non-test code of `src/`.
fn graph() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        let name = f.file_name().unwrap().to_string_lossy();
        if name == "tests.rs" || name.ends_with("_tests.rs") {
            continue;
        }
        let top = rel.split('/').next().unwrap().trim_end_matches(".rs");
        if top == "lib" || top == "main" {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&f).unwrap());
        let edges = g.entry(top.to_string()).or_default();
        for m in imports(&code) {
            if m != top {
                edges.entry(m).or_default().insert(rel.clone());
            }
        }
    }
    g
}

#[test]
fn the_import_reader_sees_paths_groups_and_not_macros() {
    let code = "use crate::{model::{Record, Signal}, store};\nlet n = crate::name!(\"x\");\ncrate::config::load(p);\nuse crate::{self as c};";
    let got: Vec<_> = imports(code).into_iter().collect();
    assert_eq!(got, ["config", "model", "store"]);
    assert!(imports(&code_of(
        "x();\n#[cfg(test)]\nmod tests {\nuse crate::cli;\n}"
    ))
    .is_empty());
    assert!(imports(&code_of("// see crate::cli\nlet x = 1;")).is_empty());
}

#[test]
fn every_top_level_module_imports_only_its_own_layer_or_below() {
    let g = graph();
    let mut wrong = Vec::new();
    for (m, edges) in &g {
        let Some(lm) = layer_of(m) else {
            wrong.push(format!(
                "`{m}` is in no layer: place it in tests/layers.rs and the README"
            ));
            continue;
        };
        for (to, files) in edges {
            match layer_of(to) {
                Some(lt) if lt <= lm => {}
                Some(lt) => wrong.push(format!(
                    "{m} ({}) imports {to} ({}) in {}",
                    LAYERS[lm].0,
                    LAYERS[lt].0,
                    files.iter().cloned().collect::<Vec<_>>().join(", ")
                )),
                None => wrong.push(format!("{m} imports `{to}`, which is in no layer")),
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn no_two_top_level_modules_import_each_other_around_a_circle() {
    let g = graph();
    // Depth-first search; a back edge is a cycle, reported as its path.
    fn visit<'a>(
        m: &'a str,
        g: &'a BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
        cycles: &mut Vec<String>,
    ) {
        if let Some(i) = path.iter().position(|p| *p == m) {
            cycles.push(format!("{} -> {m}", path[i..].join(" -> ")));
            return;
        }
        if !done.insert(m) {
            return;
        }
        path.push(m);
        for to in g.get(m).into_iter().flat_map(|e| e.keys()) {
            visit(to, g, path, done, cycles);
        }
        path.pop();
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for m in g.keys() {
        visit(m, &g, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

/// A line with string and char literals emptied and its comment cut, so
/// braces are only the code's.
fn braces_of(line: &str) -> String {
    let (mut out, mut chars) = (String::new(), line.chars().peekable());
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => break,
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' => {
                // A char literal ('{', '\n'); a lifetime ('a) has no closing quote.
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with('\\') && rest.chars().nth(2) == Some('\'') {
                    chars.nth(2);
                } else if rest.chars().nth(1) == Some('\'') {
                    chars.nth(1);
                }
            }
            '{' | '}' => out.push(c),
            _ => {}
        }
    }
    out
}

/// (lines, name, first line) of every function with a body in `code`.
fn function_lengths(code: &str) -> Vec<(usize, String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let Some(at) = t.find("fn ") else { continue };
        let head = &t[..at];
        let is_fn = head.split_whitespace().all(|w| {
            [
                "pub",
                "pub(crate)",
                "pub(super)",
                "async",
                "const",
                "unsafe",
            ]
            .contains(&w)
        });
        if !is_fn || t.starts_with("//") {
            continue;
        }
        let name: String = t[at + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let mut depth = 0i32;
        let mut opened = false;
        for (j, l) in lines.iter().enumerate().skip(i) {
            let b = braces_of(l);
            if !opened && l.contains(';') && !b.contains('{') && l.trim_end().ends_with(';') {
                break; // a declaration without a body
            }
            for c in b.chars() {
                depth += if c == '{' { 1 } else { -1 };
                opened = true;
            }
            if opened && depth == 0 {
                out.push((j - i + 1, name.clone(), i + 1));
                break;
            }
        }
    }
    out
}

#[test]
fn the_length_reader_counts_from_fn_to_its_closing_brace() {
    let code = "pub async fn a(x: u8) -> u8 {\n    let c = '{';\n    let s = \"}}\";\n    x\n}\nfn b();\nfn c<'a>(s: &'a str) {\n}\n";
    let got = function_lengths(code);
    assert_eq!(got, [(5, "a".into(), 1), (2, "c".into(), 7)]);
}

/// The call path and the planner: every function short enough to hold in
/// one's head (issue 33: no function over ~80 lines in executor/ and waterfall/).
#[test]
fn no_function_on_the_call_path_or_in_the_planner_runs_over_80_lines() {
    const MAX: usize = 80;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src.join("executor"), &mut files);
    rust_files(&src.join("waterfall"), &mut files);
    let mut long = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy();
        if name == "tests.rs" || name.ends_with("_tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let code = match text.find("#[cfg(test)]\nmod tests {") {
            Some(i) => &text[..i],
            None => &text,
        };
        for (n, name, line) in function_lengths(code) {
            if n > MAX {
                long.push(format!(
                    "{}:{line} {name}: {n} lines",
                    f.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX} lines:\n{}",
        long.join("\n")
    );
}
