//! `cargo xtask models`: writes the zoo's networks to `models/<stem>.onnx`.

use anyhow::Context;
use std::path::Path;

/// Writes every `cimopt_zoo::all()` model to `<root>/models/<stem>.onnx`, leaving files whose
/// bytes already match untouched.
pub fn models(root: &Path) -> anyhow::Result<()> {
    let dir = root.join("models");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (stem, bytes) in cimopt_zoo::all() {
        let path = dir.join(format!("{stem}.onnx"));
        if std::fs::read(&path).is_ok_and(|old| old == bytes) {
            println!("unchanged {}", path.display());
            continue;
        }
        std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {} ({} bytes)", path.display(), bytes.len());
    }
    Ok(())
}
