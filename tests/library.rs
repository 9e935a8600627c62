//! The README's Rust example, run as a test: the command's pipeline as a library call. The test
//! also checks that the README still shows exactly this code.

mod common;

// README example start
fn example() -> Result<String, Box<dyn std::error::Error>> {
    let target = cimopt_target::load("default", &[])?.target;
    let model = cimopt_onnx::load("models/resnet18.onnx".as_ref(), &Default::default())?;
    let bytes = std::fs::read("models/resnet18.onnx")?;
    let source = cimopt_pipeline::compile::ModelSource {
        model: &model,
        file: "models/resnet18.onnx".into(),
        bytes: &bytes,
    };
    let options = cimopt_pipeline::CompileOptions {
        mapper: cimopt_pipeline::Mapper::Greedy,
        ..Default::default()
    };
    let silent = cimopt_pipeline::compile::Silent;
    let schedule = cimopt_pipeline::compile(&source, &target, "default", &options, &silent)?;
    let table =
        cimopt_pipeline::report::render(&schedule, cimopt_pipeline::report::Format::Table, false)?;
    Ok(table)
}
// README example end

#[test]
fn the_readme_example_compiles_resnet18_and_is_the_readmes() {
    std::env::set_current_dir(common::root()).unwrap();
    let table = example().unwrap();
    assert!(table.contains("/conv1/Conv"), "{table}");
    assert!(table.contains("total: latency"), "{table}");
    let source = include_str!("library.rs");
    let start = source.find("// README example start\n").unwrap() + 24;
    let end = source.find("// README example end").unwrap();
    let readme = include_str!("../README.md");
    assert!(
        readme.contains(&source[start..end]),
        "README.md's Rust example differs from tests/library.rs"
    );
}
