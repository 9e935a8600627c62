//! The committed `models/*.onnx` and `models/quantized/*.onnx` are exactly what the zoo
//! generates.

use std::path::Path;

#[test]
fn committed_models_match_the_zoo() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let models = cimopt_zoo::all();
    assert!(models.len() >= 6);
    let quantized = cimopt_zoo::quantized();
    assert!(quantized.len() >= 8);
    let mut stale = Vec::new();
    let files = models
        .iter()
        .map(|(stem, bytes)| (dir.join(format!("{stem}.onnx")), bytes))
        .chain(
            quantized
                .iter()
                .map(|(stem, bytes)| (dir.join(format!("quantized/{stem}.onnx")), bytes)),
        );
    for (path, bytes) in files {
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
        "{}\nrun `cargo xtask models` to regenerate models/ and models/quantized/",
        stale.join("\n")
    );
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(cimopt_zoo::all(), cimopt_zoo::all());
    assert_eq!(cimopt_zoo::quantized(), cimopt_zoo::quantized());
    let quantized: Vec<&str> = cimopt_zoo::quantized().iter().map(|(s, _)| *s).collect();
    for want in [
        "tiny_cnn_qdq",
        "tiny_cnn_qop",
        "tiny_cnn_dynamic",
        "resnet18_qdq",
        "resnet18_qop",
        "resnet18_qdq_int4",
        "llama_tiny",
        "llama_tiny_q4",
    ] {
        assert!(
            quantized.contains(&want),
            "{want} missing from the quantized zoo"
        );
    }
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
