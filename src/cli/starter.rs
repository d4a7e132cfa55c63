//! The configuration that ships inside the binary: `demo` runs on it when no
//! configuration is found, and `init` writes it out as a starter. The files
//! are the repository's own (`config/`, `providers/`), so they cannot drift.

use std::path::{Path, PathBuf};

/// One embedded file: its path under the tree's root, and its text.
type File = (&'static str, &'static str);

macro_rules! files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path)))),*]
    };
}

/// The repository's layout: the default (sandbox) config and both vendor sets.
const TREE: &[File] = files![
    "config/leadfall.toml",
    "config/scoring.toml",
    "config/routing.toml",
    "config/profiles/real.toml",
    "providers/apollo.toml",
    "providers/builtwith.toml",
    "providers/fullenrich.toml",
    "providers/hunter.toml",
    "providers/leadmagic.toml",
    "providers/neverbounce.toml",
    "providers/peopledatalabs.toml",
    "providers/prospeo.toml",
    "providers/zerobounce.toml",
    "providers/sandbox/companyapi.toml",
    "providers/sandbox/mailfinder.toml",
    "providers/sandbox/peoplematch.toml",
    "providers/sandbox/personapi.toml",
    "providers/sandbox/verifier.toml",
];

/// Write the repository's config tree under `root` (for `demo` without a
/// configuration); returns the default config file's path.
pub fn write_default(root: &Path) -> std::io::Result<PathBuf> {
    for (path, text) in TREE {
        write(&root.join(path), text)?;
    }
    Ok(root.join("config/leadfall.toml"))
}

/// A starter for real vendors: the real profile as `leadfall.toml`, with its
/// scoring, routing and vendor files beside it and paths rewritten to match.
pub fn starter(data_dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for (path, text) in TREE {
        let (dest, text) = match *path {
            "config/profiles/real.toml" => {
                ("leadfall.toml".to_string(), real_profile(text, data_dir))
            }
            "config/scoring.toml" | "config/routing.toml" => (
                path.trim_start_matches("config/").to_string(),
                text.to_string(),
            ),
            p if p.starts_with("providers/") && !p.starts_with("providers/sandbox/") => {
                (p.to_string(), text.to_string())
            }
            _ => continue,
        };
        out.push((PathBuf::from(dest), text));
    }
    out
}

/// The real profile's paths, pointed at the starter's own layout.
fn real_profile(text: &str, data_dir: &Path) -> String {
    let data = toml_string(&data_dir.to_string_lossy());
    let mut out = String::from(
        "# Written by `leadfall init`. Keys come from the environment only;\n\
         # `leadfall check` lists which vendors are configured.\n",
    );
    for line in text.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        let line = match key {
            "provider_dirs" => "provider_dirs = [\"providers\"]".to_string(),
            "data_dir" => format!("data_dir = {data}"),
            "scoring_file" => "scoring_file = \"scoring.toml\"".to_string(),
            "routing_file" => "routing_file = \"routing.toml\"".to_string(),
            _ => line.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.replace(
        "leadfall --config config/profiles/real.toml check",
        "leadfall check",
    )
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_default_loads_as_the_checkout_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_default(dir.path()).unwrap();
        let embedded = crate::config::load(&path, &|_| None).unwrap();
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/leadfall.toml");
        let checkout = crate::config::load(&checkout, &|_| None).unwrap();
        assert_eq!(
            embedded.providers.iter().count(),
            checkout.providers.iter().count()
        );
        assert_eq!(
            embedded.waterfall.fields.len(),
            checkout.waterfall.fields.len()
        );
    }

    #[test]
    fn the_starter_is_the_real_profile_with_its_files_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        for (p, text) in starter(Path::new("/var/lib/leadfall")) {
            write(&dir.path().join(p), &text).unwrap();
        }
        let s = crate::config::load(&dir.path().join("leadfall.toml"), &|_| None).unwrap();
        assert_eq!(s.data_dir, Path::new("/var/lib/leadfall"));
        let ids: Vec<_> = s.providers.iter().map(|p| p.id.as_str()).collect();
        assert!(
            ids.contains(&"hunter") && ids.contains(&"peopledatalabs"),
            "{ids:?}"
        );
        assert!(!ids.contains(&"mailfinder"), "no sandbox vendor: {ids:?}");
        assert!(s.decisions.is_some(), "scoring and routing are configured");
    }
}
