//! Where the configuration is found: `--config` or `LEADFALL_CONFIG`, then
//! `./config/leadfall.toml`, then the user's config directory
//! (`$XDG_CONFIG_HOME/leadfall/leadfall.toml`, else `~/.config/leadfall/`).

use std::path::{Path, PathBuf};

/// The checkout's own layout, looked for in the working directory.
pub const LOCAL: &str = "config/leadfall.toml";

/// The user's leadfall config directory.
pub fn user_config_dir() -> Option<PathBuf> {
    xdg("XDG_CONFIG_HOME", ".config")
}

/// The user's leadfall data directory (`init`'s store default).
pub fn user_data_dir() -> Option<PathBuf> {
    xdg("XDG_DATA_HOME", ".local/share")
}

fn xdg(var: &str, under_home: &str) -> Option<PathBuf> {
    let base = std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(under_home)))?;
    Some(base.join("leadfall"))
}

/// Every place looked at, in order (the explicit path alone when given).
pub fn candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    let mut c = vec![PathBuf::from(LOCAL)];
    c.extend(user_config_dir().map(|d| d.join("leadfall.toml")));
    c
}

/// The first candidate that exists.
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    candidates(explicit).into_iter().find(|p| p.exists())
}
