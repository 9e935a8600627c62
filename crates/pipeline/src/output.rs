//! Writing files so that a reader never sees half of one and nothing is destroyed by mistake.
//!
//! [`write_output`] is how the command writes everything a user names (`-o`, `--csv`, ...):
//!
//! - a **regular file** (or a new one) is replaced atomically: the bytes go to a temporary sibling
//!   file, are synced, and the sibling is renamed over the destination, which keeps its mode;
//! - a **symbolic link** is followed: the file it points to (created if the link dangles) is
//!   replaced as above, and the link stays a link;
//! - a **character device or a FIFO** (`/dev/stdout`, `-o >(gzip > x.gz)`) is written through, in
//!   place: renaming over it would turn the device into a plain file;
//! - a **directory, block device or socket** is refused;
//! - an **input of the same command** (the model being compiled, the target file, the schedule
//!   being read; also through a link or a hard link) is refused: the output would clobber it;
//! - a **read-only file** is refused unless the caller forces it, then replaced (keeping its
//!   mode);
//! - a **missing folder** is an error that names the folder.
//!
//! [`write_atomic`] is the bare atomic replacement, for files the program owns (the solve
//! cache).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why an output file was not written. The destination is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {}: the folder {} does not exist", path.display(), dir.display())]
    MissingFolder { path: PathBuf, dir: PathBuf },
    #[error("cannot write {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write {}: it is {what}; name a file", path.display())]
    NotAFile { path: PathBuf, what: &'static str },
    #[error("refusing to write {}: it is {role} this command reads; choose another output", path.display())]
    IsAnInput { path: PathBuf, role: String },
    #[error("refusing to replace {}: it is read-only (use --force to replace it anyway)", path.display())]
    ReadOnly { path: PathBuf },
}

/// What [`write_output`] must respect besides the destination.
#[derive(Clone, Debug, Default)]
pub struct OutputPolicy {
    /// Replace a read-only file.
    pub force: bool,
    /// The files the command reads, each with what it is (`the model`, `the target file`): the
    /// output must not be one of them.
    pub inputs: Vec<(String, PathBuf)>,
}

impl OutputPolicy {
    /// A policy that protects these inputs.
    pub fn protecting(inputs: &[(&str, &Path)], force: bool) -> Self {
        OutputPolicy {
            force,
            inputs: inputs
                .iter()
                .map(|(role, p)| (role.to_string(), p.to_path_buf()))
                .collect(),
        }
    }
}

/// Whether two paths name the same file (the same device and inode, so links and hard links
/// count).
#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The file a path finally names: symbolic links followed, also when the last one dangles.
fn resolve_links(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let Ok(to) = std::fs::read_link(&p) else {
                    return p;
                };
                p = match p.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            _ => return p,
        }
    }
    p
}

/// Writes `bytes` to `path` as the module docs describe.
pub fn write_output(path: &Path, bytes: &[u8], policy: &OutputPolicy) -> Result<(), OutputError> {
    let target = resolve_links(path);
    let named = || path.to_path_buf();
    for (role, input) in &policy.inputs {
        if same_file(&target, input) {
            return Err(OutputError::IsAnInput {
                path: named(),
                role: role.clone(),
            });
        }
    }
    match std::fs::metadata(&target) {
        Ok(m) => {
            let ft = m.file_type();
            if ft.is_dir() {
                return Err(OutputError::NotAFile {
                    path: named(),
                    what: "a directory",
                });
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::FileTypeExt;
                if ft.is_block_device() {
                    return Err(OutputError::NotAFile {
                        path: named(),
                        what: "a block device",
                    });
                }
                if ft.is_socket() {
                    return Err(OutputError::NotAFile {
                        path: named(),
                        what: "a socket",
                    });
                }
                if ft.is_char_device() || ft.is_fifo() {
                    return write_through(&target, bytes).map_err(|error| OutputError::Write {
                        path: named(),
                        error,
                    });
                }
            }
            if m.permissions().readonly() && !policy.force {
                return Err(OutputError::ReadOnly { path: named() });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(OutputError::Write {
                path: named(),
                error,
            });
        }
    }
    write_atomic(&target, bytes).map_err(|e| match e {
        // Name the file the user gave, not the one a link led to.
        OutputError::Write { error, .. } => OutputError::Write {
            path: named(),
            error,
        },
        OutputError::MissingFolder { dir, .. } => OutputError::MissingFolder { path: named(), dir },
        other => other,
    })
}

fn write_through(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(bytes)?;
    f.flush()
}

/// Replaces `path` atomically (a temporary sibling renamed over it, keeping its mode).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(OutputError::MissingFolder {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
        });
    }
    let failed = |error: std::io::Error| OutputError::Write {
        path: path.to_path_buf(),
        error,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".cimopt-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(failed)?;
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

/// A name as it is safe to print: control characters escaped (a layer name may hold any byte
/// sequence an ONNX file can).
pub fn printable(name: &str) -> String {
    cimopt_onnx::display_name(name)
}

/// `name` made printable and cut to its last `width` characters (layer names are long paths
/// whose end says the most), with a leading `…` when cut.
pub fn tail(name: &str, width: usize) -> String {
    let name = printable(name);
    let n = name.chars().count();
    if n <= width {
        return name;
    }
    let keep: String = name.chars().skip(n - (width - 1)).collect();
    format!("…{keep}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_and_respects_characters() {
        assert_eq!(tail("short", 10), "short");
        assert_eq!(tail("/layer1/layer1.0/conv1/Conv", 11), "…conv1/Conv");
        assert_eq!(tail("ééééééééééé", 4).chars().count(), 4);
        assert!(!tail("evil\u{1b}[31mname\n", 40).contains('\u{1b}'));
    }

    #[test]
    fn outputs_never_destroy_what_they_should_not() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let none = OutputPolicy::default();
        // A new file, then a replacement.
        let f = d.join("out.json");
        write_output(&f, b"one", &none).unwrap();
        write_output(&f, b"two", &none).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"two");
        // A missing folder is named.
        let e = write_output(&d.join("nope/out.json"), b"x", &none).unwrap_err();
        assert!(e.to_string().contains("the folder"), "{e}");
        assert!(!e.to_string().contains(".cimopt-"), "{e}");
        // A directory is refused.
        assert!(matches!(
            write_output(d, b"x", &none),
            Err(OutputError::NotAFile { .. })
        ));
        // An input is refused, also through a link.
        let model = d.join("model.onnx");
        std::fs::write(&model, b"model").unwrap();
        let protect = OutputPolicy::protecting(&[("the model", &model)], false);
        assert!(matches!(
            write_output(&model, b"x", &protect),
            Err(OutputError::IsAnInput { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::{FileTypeExt, PermissionsExt};
            let link = d.join("link.json");
            std::os::unix::fs::symlink(&model, &link).unwrap();
            assert!(matches!(
                write_output(&link, b"x", &protect),
                Err(OutputError::IsAnInput { .. })
            ));
            assert_eq!(std::fs::read(&model).unwrap(), b"model");
            // A link to an ordinary file: the file is replaced, the link stays.
            let real = d.join("real.json");
            std::fs::write(&real, b"old").unwrap();
            let to_real = d.join("to_real.json");
            std::os::unix::fs::symlink("real.json", &to_real).unwrap();
            write_output(&to_real, b"new", &none).unwrap();
            assert!(
                std::fs::symlink_metadata(&to_real)
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
            assert_eq!(std::fs::read(&real).unwrap(), b"new");
            // A dangling link creates the file it names.
            let dangling = d.join("dangling.json");
            std::os::unix::fs::symlink("created.json", &dangling).unwrap();
            write_output(&dangling, b"made", &none).unwrap();
            assert_eq!(std::fs::read(d.join("created.json")).unwrap(), b"made");
            // A read-only file is kept unless forced, and keeps its mode when forced.
            let ro = d.join("ro.json");
            std::fs::write(&ro, b"keep").unwrap();
            std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o444)).unwrap();
            assert!(matches!(
                write_output(&ro, b"x", &none),
                Err(OutputError::ReadOnly { .. })
            ));
            assert_eq!(std::fs::read(&ro).unwrap(), b"keep");
            let force = OutputPolicy {
                force: true,
                ..OutputPolicy::default()
            };
            write_output(&ro, b"forced", &force).unwrap();
            assert_eq!(std::fs::read(&ro).unwrap(), b"forced");
            let mode = std::fs::metadata(&ro).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o444);
            // A FIFO is written through and stays a FIFO.
            let fifo = d.join("fifo");
            let status = std::process::Command::new("mkfifo").arg(&fifo).status();
            if status.is_ok_and(|s| s.success()) {
                let reader = {
                    let fifo = fifo.clone();
                    std::thread::spawn(move || std::fs::read(&fifo).unwrap())
                };
                write_output(&fifo, b"through", &none).unwrap();
                assert_eq!(reader.join().unwrap(), b"through");
                assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
            }
            // A character device is written through, never replaced.
            write_output(Path::new("/dev/null"), b"gone", &none).unwrap();
            assert!(
                std::fs::metadata("/dev/null")
                    .unwrap()
                    .file_type()
                    .is_char_device()
            );
        }
    }
}
