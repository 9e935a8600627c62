//! Writes every zoo network to `<dir>/<stem>.onnx` (run by `cargo xtask models`), leaving
//! files whose bytes already match untouched.

use std::path::PathBuf;

fn main() {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: cimopt-write-models DIR");
        std::process::exit(2);
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    for (stem, bytes) in cimopt_zoo::all() {
        let path = dir.join(format!("{stem}.onnx"));
        if std::fs::read(&path).is_ok_and(|old| old == bytes) {
            println!("unchanged {}", path.display());
            continue;
        }
        if let Err(e) = std::fs::write(&path, &bytes) {
            eprintln!("cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
        println!("wrote {} ({} bytes)", path.display(), bytes.len());
    }
}
