//! The data directory's permissions. It holds the control token, the
//! address and every lead: leadfall creates it 0700 and its own files in it
//! 0600, whatever the umask. A directory that already exists keeps its mode
//! (it is the operator's), but `serve` and `check` warn when others can
//! read it.
//!
//! sled makes its own files with the umask's mode: the store is restricted
//! after it opens, and files sled adds later sit inside 0700 directories.
//! Files leadfall writes elsewhere at the user's request (rejects, exports,
//! reports) keep the user's umask.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Group and other permission bits.
const OPEN_TO_OTHERS: u32 = 0o077;

/// Create `dir` with mode 0700 unless it exists (missing parents get the
/// usual mode: they are not ours).
pub fn create(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        // Another process (a second daemon starting) made it first.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    // The umask only takes bits away; say the mode outright anyway.
    fs::set_permissions(dir, Permissions::from_mode(0o700))
}

/// Take the group and other bits off `path` and, for a directory, off
/// everything under it. Symbolic links are left alone.
pub fn restrict_tree(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    if mode & OPEN_TO_OTHERS != 0 {
        fs::set_permissions(path, Permissions::from_mode(mode & !OPEN_TO_OTHERS))?;
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            restrict_tree(&entry?.path())?;
        }
    }
    Ok(())
}

/// Write `contents` to `path` (created or truncated) readable by the owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // A file left by an older version may be looser than `mode` above.
    f.set_permissions(Permissions::from_mode(0o600))?;
    f.write_all(contents)
}

/// The warning for a data directory that group or others can open, naming
/// the fix; `None` when it is private or does not exist yet.
pub fn loose_mode_warning(dir: &Path) -> Option<String> {
    let mode = fs::metadata(dir).ok()?.permissions().mode() & 0o777;
    (mode & OPEN_TO_OTHERS != 0).then(|| {
        format!(
            "warning: data directory {} has mode {mode:04o}: other users can reach the \
             control token and the leads; fix: chmod 700 {}",
            dir.display(),
            dir.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_directory_is_0700_and_an_existing_one_is_left_alone() {
        let t = tempfile::tempdir().unwrap();
        let fresh = t.path().join("a/data");
        create(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        let old = t.path().join("old");
        fs::create_dir(&old).unwrap();
        fs::set_permissions(&old, Permissions::from_mode(0o755)).unwrap();
        create(&old).unwrap();
        assert_eq!(mode(&old), 0o755);
    }

    #[test]
    fn restricting_a_tree_takes_group_and_other_bits_off() {
        let t = tempfile::tempdir().unwrap();
        let sub = t.path().join("store/blobs");
        fs::create_dir_all(&sub).unwrap();
        fs::set_permissions(&sub, Permissions::from_mode(0o755)).unwrap();
        let file = sub.join("db");
        fs::write(&file, b"x").unwrap();
        fs::set_permissions(&file, Permissions::from_mode(0o664)).unwrap();
        restrict_tree(&t.path().join("store")).unwrap();
        assert_eq!((mode(&sub), mode(&file)), (0o700, 0o600));
    }

    #[test]
    fn private_files_are_0600_even_over_a_looser_one() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("control.addr");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"127.0.0.1:1\n").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(fs::read(&path).unwrap(), b"127.0.0.1:1\n");
    }

    #[test]
    fn only_a_loose_directory_gets_a_warning_naming_the_fix() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("data");
        assert_eq!(loose_mode_warning(&dir), None);
        create(&dir).unwrap();
        assert_eq!(loose_mode_warning(&dir), None);
        fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        let w = loose_mode_warning(&dir).unwrap();
        let shown = dir.display();
        assert!(w.contains(&format!("{shown} has mode 0755")), "{w}");
        assert!(w.ends_with(&format!("chmod 700 {shown}")), "{w}");
    }
}
