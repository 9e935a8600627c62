//! The committed schedules in `schedules/` are what `compile` writes today. When this fails
//! after an intended change, run `cargo xtask golden` and review the diff.

mod common;
use common::*;
use serde_json::Value;

/// A readable account of what moved between two schedules, layer by layer.
fn describe(old: &Value, new: &Value) -> String {
    let mut out = Vec::new();
    let (ol, nl) = (old["layers"].as_array(), new["layers"].as_array());
    match (ol, nl) {
        (Some(ol), Some(nl)) if ol.len() == nl.len() => {
            for (a, b) in ol.iter().zip(nl) {
                for key in ["dims", "mapping", "predicted", "simulated", "solve"] {
                    if a[key] != b[key] {
                        let brief = |v: &Value| match key {
                            "predicted" | "simulated" => format!(
                                "latency {} cycles, energy {} nJ",
                                v["latency_cycles"], v["energy_nj"]
                            ),
                            "mapping" => v["temporal"]
                                .as_array()
                                .map(|t| {
                                    t.iter()
                                        .map(|l| {
                                            format!(
                                                "{}{}@{}/{}/{}",
                                                l["dim"].as_str().unwrap_or("?"),
                                                l["factor"],
                                                l["level"]["I"],
                                                l["level"]["W"],
                                                l["level"]["O"]
                                            )
                                        })
                                        .collect::<Vec<_>>()
                                        .join(" ")
                                })
                                .unwrap_or_default(),
                            _ => v.to_string(),
                        };
                        out.push(format!(
                            "layer {} `{}` {key}:\n    was {}\n    now {}",
                            a["id"],
                            a["name"].as_str().unwrap_or(""),
                            brief(&a[key]),
                            brief(&b[key])
                        ));
                    }
                }
            }
        }
        _ => out.push(format!(
            "layer count changed: {} → {}",
            ol.map_or(0, |v| v.len()),
            nl.map_or(0, |v| v.len())
        )),
    }
    for key in ["producer", "inputs", "units", "model"] {
        if old[key] != new[key] {
            out.push(format!("{key}: was {}\n    now {}", old[key], new[key]));
        }
    }
    if out.is_empty() {
        out.push("the documents are equal as JSON; only formatting differs".into());
    }
    out.join("\n")
}

/// The quantized models with golden schedules (`cargo xtask golden` lists the same).
const QUANTIZED: [&str; 2] = ["resnet18_qdq_int4", "llama_tiny_q4"];

#[test]
fn heavy_compile_output_matches_the_committed_schedules() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    let models: Vec<String> = bundled_models()
        .iter()
        .map(|m| format!("models/{}", m.file_name().unwrap().to_string_lossy()))
        .chain(QUANTIZED.map(|q| format!("models/quantized/{q}.onnx")))
        .collect();
    for model in &models {
        let stem = std::path::Path::new(model)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .to_string();
        for target in ["default", "transformer"] {
            let golden = root().join(format!("schedules/{stem}.{target}.schedule.json"));
            let out = dir.path().join(format!("{stem}.{target}.json"));
            // Compile from the repository root with the same relative paths as `cargo xtask golden`.
            ok(
                &root(),
                &[
                    "compile",
                    model,
                    "--target",
                    target,
                    "--no-cache",
                    "-q",
                    "-o",
                    out.to_str().unwrap(),
                ],
            );
            let new = std::fs::read_to_string(&out).unwrap();
            let Ok(old) = std::fs::read_to_string(&golden) else {
                failures.push(format!("{} is missing", golden.display()));
                continue;
            };
            checked += 1;
            if old != new {
                let (o, n): (Value, Value) = (
                    serde_json::from_str(&old).unwrap(),
                    serde_json::from_str(&new).unwrap(),
                );
                failures.push(format!(
                    "{} differs:\n{}",
                    golden.display(),
                    describe(&o, &n)
                ));
            }
            // Every committed schedule is one `check` and `simulate` accept.
            ok(&root(), &["check", golden.to_str().unwrap()]);
        }
    }
    assert!(
        failures.is_empty(),
        "compile output changed; run `cargo xtask golden` if intended:\n\n{}",
        failures.join("\n\n")
    );
    assert!(checked >= 16);
}
