//! Writes every zoo network to `<dir>/<stem>.onnx` and every quantized one to
//! `<dir>/quantized/<stem>.onnx` (run by `cargo xtask models`), leaving files whose bytes
//! already match untouched.

use std::path::PathBuf;

fn main() {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: cimopt-write-models DIR");
        std::process::exit(2);
    };
    let quantized = dir.join("quantized");
    for d in [&dir, &quantized] {
        if let Err(e) = std::fs::create_dir_all(d) {
            eprintln!("cannot create {}: {e}", d.display());
            std::process::exit(1);
        }
    }
    let models = cimopt_zoo::all()
        .into_iter()
        .map(|(stem, bytes)| (dir.join(format!("{stem}.onnx")), bytes))
        .chain(
            cimopt_zoo::quantized()
                .into_iter()
                .map(|(stem, bytes)| (quantized.join(format!("{stem}.onnx")), bytes)),
        );
    for (path, bytes) in models {
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
