//! The committed `models/*.onnx` are exactly what the zoo generates.

use std::path::Path;

#[test]
fn committed_models_match_the_zoo() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let models = cimopt_zoo::all();
    assert!(models.len() >= 6);
    let mut stale = Vec::new();
    for (stem, bytes) in &models {
        let path = dir.join(format!("{stem}.onnx"));
        match std::fs::read(&path) {
            Ok(committed) if committed == *bytes => {}
            Ok(committed) => stale.push(format!(
                "{} differs from the zoo ({} bytes committed, {} generated)",
                path.display(),
                committed.len(),
                bytes.len()
            )),
            Err(e) => stale.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nrun `cargo xtask models` to regenerate models/",
        stale.join("\n")
    );
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(cimopt_zoo::all(), cimopt_zoo::all());
    let stems: Vec<&str> = cimopt_zoo::all().iter().map(|(s, _)| *s).collect();
    for want in [
        "resnet18",
        "resnet50",
        "vgg16",
        "mobilenet_v2",
        "bert_base",
        "tiny_cnn",
    ] {
        assert!(stems.contains(&want), "{want} missing from the zoo");
    }
}
