//! Writing files so that a reader never sees half of one: write a sibling temporary file, sync
//! it, rename it over the destination.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why an output file was not written. The destination is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot create a temporary file in {}: {error}", dir.display())]
    TempFile { dir: PathBuf, error: std::io::Error },
    #[error("cannot write {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let failed = |error: std::io::Error| OutputError::Write {
        path: path.to_path_buf(),
        error,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".cimopt-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|error| OutputError::TempFile {
            dir: dir.to_path_buf(),
            error,
        })?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(failed)?;
    // Temporary files are created private (0600); an output keeps the mode of the file it
    // replaces, or gets the ordinary 0644.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o777);
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(failed)?;
    }
    tmp.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}

/// `name` cut to its last `width` characters (layer names are long paths whose end says the
/// most), with a leading `…` when cut.
pub fn tail(name: &str, width: usize) -> String {
    let n = name.chars().count();
    if n <= width {
        return name.to_string();
    }
    let keep: String = name.chars().skip(n - (width - 1)).collect();
    format!("…{keep}")
}

#[cfg(test)]
mod tests {
    use super::tail;

    #[test]
    fn tail_keeps_the_end_and_respects_characters() {
        assert_eq!(tail("short", 10), "short");
        assert_eq!(tail("/layer1/layer1.0/conv1/Conv", 11), "…conv1/Conv");
        assert_eq!(tail("ééééééééééé", 4).chars().count(), 4);
    }
}
