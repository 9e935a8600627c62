//! Tests that need `../shared/models` (exports the project did not generate) are marked ignored,
//! with the reason, when that folder is absent, so that a run without it says so.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(shared_models)");
    println!("cargo::rerun-if-changed=build.rs");
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/models");
    if shared.is_dir() {
        println!("cargo::rustc-cfg=shared_models");
    }
}
