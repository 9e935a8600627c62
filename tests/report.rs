//! `cimopt report` end to end, in every format.

mod common;
use common::*;
use serde_json::Value;

#[test]
fn report_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = root().join("models/resnet18.onnx");
    ok(
        d,
        &[
            "compile",
            m.to_str().unwrap(),
            "--target",
            "default",
            "-q",
            "-o",
            "s.json",
        ],
    );
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    let layers = s["layers"].as_array().unwrap().len();

    let table = ok(d, &["report", "s.json"]);
    for needle in [
        "total: latency",
        "lower bound",
        "latency by cause",
        "energy by part",
        "slowest layers",
        "non-CIM operators",
        "MaxPool",
    ] {
        assert!(table.contains(needle), "missing `{needle}`:\n{table}");
    }

    let j: Value = serde_json::from_str(&ok(d, &["report", "s.json", "--format", "json"])).unwrap();
    assert_eq!(j["source"], "simulated");
    assert_eq!(j["layers"].as_array().unwrap().len(), layers);
    assert_eq!(
        j["total"]["latency_cycles"].as_f64(),
        s["model"]["simulated_latency_cycles"].as_f64()
    );
    // The causes come from the cost model and add up to its prediction.
    let causes: f64 = j["latency_by_cause"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cycles"].as_f64().unwrap())
        .sum();
    assert!(
        (causes - s["model"]["latency_cycles"].as_f64().unwrap()).abs() < 1e-6 * causes,
        "{causes}"
    );
    // The model EDP bound holds for every schedule, so this one is above it; on ResNet-18 the
    // optimiser's schedule is within 1.3x of it (docs/optimiser.md), which a bound that lost
    // its teeth (e.g. zero) or overshot (above the schedule) would break.
    let edp = j["total"]["edp"].as_f64().unwrap();
    let edp_bound = j["total"]["edp_lower_bound"].as_f64().unwrap();
    assert!(
        edp_bound <= edp && edp_bound > edp / 1.3,
        "EDP {edp}, bound {edp_bound}"
    );
    assert!(table.contains("for any schedule"), "{table}");
    let parts: f64 = j["energy_by_part"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["nj"].as_f64().unwrap())
        .sum();
    assert!((parts - j["total"]["energy_nj"].as_f64().unwrap()).abs() < 1e-6 * parts);

    let csv = ok(d, &["report", "s.json", "--format", "csv"]);
    assert_eq!(csv.lines().count(), layers + 1);
    assert!(csv.starts_with("id,name,op,dims,mapper,latency_cycles"));

    ok(d, &["report", "s.json", "--format", "html", "-o", "r.html"]);
    let html = std::fs::read_to_string(d.join("r.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    // Three charts, the plan's layout of every level that holds tensors, and the slowest
    // layer's timeline.
    let sched: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    let mut homes: Vec<&str> = sched["memory_plan"]["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["home"].as_str().unwrap())
        .collect();
    homes.sort();
    homes.dedup();
    assert!(homes.len() >= 2, "{homes:?}");
    assert_eq!(html.matches("<svg ").count(), 3 + homes.len() + 1);
    assert_eq!(html.matches("<div id=\"timeline\">").count(), 1);
    assert!(html.contains(", the slowest layer (simulator)</h2>"));
    // Another layer's timeline on request; a layer the schedule lacks is an error.
    ok(
        d,
        &[
            "report",
            "s.json",
            "--format",
            "html",
            "--timeline-layer",
            "0",
            "-o",
            "r0.html",
        ],
    );
    let r0 = std::fs::read_to_string(d.join("r0.html")).unwrap();
    assert!(r0.contains("<h2>Timeline of layer 0 "), "{r0}");
    let e = fails(
        d,
        &[
            "report",
            "s.json",
            "--format",
            "html",
            "--timeline-layer",
            "99",
        ],
        1,
    );
    assert!(e.contains("--timeline-layer 99: the schedule has"), "{e}");
    assert_eq!(
        html.matches("class=\"bar\"").count(),
        5 * layers,
        "five causes per layer"
    );
    assert_eq!(html.matches("class=\"util-bar\"").count(), layers);
    assert!(
        !html.contains("http://")
            || html.matches("http://").count()
                == html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count(),
        "self-contained: no external resources"
    );
}

/// Opens the HTML report in headless Chromium (installed by `cargo xtask test`) and checks
/// that the charts are there once the browser has parsed and laid out the page.
#[test]
fn html_report_renders_in_chromium() {
    let chromium = std::path::Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        eprintln!("skipped: /usr/bin/chromium is absent (cargo xtask test installs it as root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = root().join("models/tiny_cnn.onnx");
    ok(
        d,
        &[
            "compile",
            m.to_str().unwrap(),
            "--target",
            "default",
            "-q",
            "-o",
            "s.json",
        ],
    );
    ok(d, &["report", "s.json", "--format", "html", "-o", "r.html"]);
    // A copy that measures the timeline's chart once laid out (the report has no script; this
    // one runs at the end of the body, where the chart is parsed, and forces the layout).
    let html = std::fs::read_to_string(d.join("r.html")).unwrap();
    let probe = r#"<script>
const g = document.querySelector('#timeline svg');
const r = g.getBoundingClientRect();
let bars = 0;
for (const b of g.querySelectorAll('rect')) { const x = b.getBoundingClientRect(); if (x.width > 0 && x.height > 0) bars++; }
document.body.setAttribute('data-gantt', `${Math.round(r.width)}x${Math.round(r.height)} ${bars}`);
</script></body>"#;
    std::fs::write(d.join("probe.html"), html.replace("</body>", probe)).unwrap();
    let url = format!("file://{}", d.join("r.html").display());
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ];
    let profile = format!("--user-data-dir={}", d.join("profile").display());
    let dom = std::process::Command::new(chromium)
        .args(flags)
        .arg(&profile)
        .args(["--dump-dom", &url])
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    // The browser's DOM: three charts, five stacked bars per layer, one utilisation bar each,
    // the memory plan's layout of each level that holds tensors (DRAM and the global buffer
    // here), one rectangle per tensor, and the slowest layer's timeline.
    assert_eq!(dom.matches("<svg").count(), 3 + 2 + 1, "{dom}");
    assert_eq!(dom.matches("class=\"plan-level\"").count(), 2, "{dom}");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    assert_eq!(
        dom.matches("class=\"plan-tensor\"").count(),
        plan["memory_plan"]["tensors"].as_array().unwrap().len()
    );
    assert_eq!(dom.matches("class=\"bar\"").count(), 5 * 5);
    assert_eq!(dom.matches("class=\"util-bar\"").count(), 5);
    // The timeline's Gantt chart: rows for the MAC array and the ports, activations.
    let gantt = &dom[dom.find("id=\"timeline\"").expect("the timeline chart")..];
    assert!(gantt.contains(">MAC array<"), "{gantt}");
    assert!(gantt.matches("class=\"row\"").count() >= 3);
    assert!(gantt.contains("<title>activation "));
    // Laid out, it has a size, and its bars too.
    let probed = std::process::Command::new(chromium)
        .args(flags)
        .arg(&profile)
        .args([
            "--dump-dom",
            &format!("file://{}", d.join("probe.html").display()),
        ])
        .output()
        .unwrap();
    let probed = String::from_utf8_lossy(&probed.stdout);
    let at = probed.find("data-gantt=\"").expect("the probe ran") + 12;
    let size: Vec<&str> = probed[at..]
        .split('"')
        .next()
        .unwrap()
        .split([' ', 'x'])
        .collect();
    let (w, h, bars): (u64, u64, u64) = (
        size[0].parse().unwrap(),
        size[1].parse().unwrap(),
        size[2].parse().unwrap(),
    );
    assert!(w >= 900 && h >= 100, "the timeline is {w}×{h}");
    assert!(bars > 24, "{bars} bars drawn with a size");
    let shot = d.join("r.png");
    let out = std::process::Command::new(chromium)
        .args(flags)
        .arg(&profile)
        .args([
            "--window-size=1200,1400",
            &format!("--screenshot={}", shot.display()),
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "a blank page would be a few KB: {} bytes",
        png.len()
    );
}

#[test]
fn vector_unit_estimate_needs_lanes_and_stays_out_of_totals_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = root().join("models/tiny_cnn.onnx");
    ok(
        d,
        &[
            "compile",
            m.to_str().unwrap(),
            "--target",
            "default",
            "-q",
            "-o",
            "plain.json",
        ],
    );
    let out = fails(d, &["report", "plain.json", "--include-vector"], 1);
    assert!(out.contains("needs `vector_lanes`"), "{out}");
    assert!(ok(d, &["report", "plain.json"]).contains("set `vector_lanes`"));

    ok(
        d,
        &[
            "compile",
            m.to_str().unwrap(),
            "--target",
            "default",
            "--set",
            "vector_lanes=16",
            "-q",
            "-o",
            "v.json",
        ],
    );
    let j: Value = serde_json::from_str(&ok(d, &["report", "v.json", "--format", "json"])).unwrap();
    let with: Value = serde_json::from_str(&ok(
        d,
        &["report", "v.json", "--format", "json", "--include-vector"],
    ))
    .unwrap();
    let vector = j["vector_cycles"].as_f64().unwrap();
    // 16 lanes × 8 cores = 128 elements per cycle; every op rounds up on its own.
    let expected: f64 = j["non_cim_ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["vector_cycles"].as_f64().unwrap())
        .sum();
    assert_eq!(vector, expected);
    assert!(vector > 0.0);
    assert_eq!(
        with["total"]["latency_cycles"].as_f64().unwrap(),
        j["total"]["latency_cycles"].as_f64().unwrap() + vector
    );
    assert_eq!(with["total_includes_vector"], true);
    let shown = ok(
        d,
        &["targets", "show", "default", "--set", "vector_lanes=16"],
    );
    assert!(shown.contains("vector_lanes = 16"), "{shown}");
}

/// The parts of a report's "energy by part" (name, nJ), from its table.
fn energy_parts(table: &str) -> Vec<(String, f64)> {
    table
        .lines()
        .skip_while(|l| !l.starts_with("energy by part"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let mut f = l.split_whitespace();
            (
                f.next().unwrap().to_string(),
                f.next().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// A level named like a part of the energy (`mac`, the MAC's own key in the breakdown) keeps its
/// energy: the report lists both, and the parts still add up to the total.
#[test]
fn a_level_named_mac_is_not_the_mac() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = root().join("models/tiny_cnn.onnx");
    for (set, out) in [
        (vec![], "plain.json"),
        (
            vec!["levels.oreg.name=mac", "spatial.rows.source.O=mac"],
            "mac.json",
        ),
    ] {
        let mut args = vec![
            "compile",
            m.to_str().unwrap(),
            "--target",
            "default",
            "--mapper",
            "greedy",
            "-q",
            "-o",
            out,
        ];
        for s in &set {
            args.extend(["--set", s]);
        }
        ok(d, &args);
    }
    let plain = energy_parts(&ok(d, &["report", "plain.json"]));
    let renamed = energy_parts(&ok(d, &["report", "mac.json"]));
    let part = |parts: &[(String, f64)], name: &str| {
        parts
            .iter()
            .find(|p| p.0 == name)
            .unwrap_or_else(|| panic!("no part `{name}` in {parts:?}"))
            .1
    };
    assert_eq!(part(&renamed, "mac"), part(&plain, "oreg"));
    assert_eq!(part(&renamed, "MAC"), part(&plain, "MAC"));
    let total = |parts: &[(String, f64)]| parts.iter().map(|p| p.1).sum::<f64>();
    assert!(
        (total(&renamed) - total(&plain)).abs() < 1e-3,
        "{renamed:?} vs {plain:?}"
    );
    assert!(part(&renamed, "mac") > 0.0, "{renamed:?}");
}

/// A schedule written in format 1.1.0, before layers recorded their precisions, still reads,
/// checks, simulates and reports, every layer at the target's 8 bits, with the numbers it was
/// written with.
#[test]
fn a_version_1_1_0_schedule_still_reads_at_the_targets_precision() {
    let dir = tempfile::tempdir().unwrap();
    let old = root().join("tests/fixtures/tiny_cnn.default.1.1.0.schedule.json");
    let o = old.to_str().unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&old).unwrap()).unwrap();
    assert_eq!(doc["schema"]["version"], "1.1.0");
    assert!(doc["layers"][0].get("precision").is_none());
    let out = ok(dir.path(), &["check", o]);
    assert!(out.contains("5 layers valid"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["report", o, "--format", "json"])).unwrap();
    for (row, layer) in report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(doc["layers"].as_array().unwrap())
    {
        assert_eq!(
            row["precision"],
            serde_json::json!({"input_bits": 8, "weight_bits": 8, "output_bits": 8})
        );
        assert_eq!(row["latency_cycles"], layer["simulated"]["latency_cycles"]);
        assert_eq!(row["energy_nj"], layer["simulated"]["energy_nj"]);
    }
    // Simulated again, the same numbers; the table has no width column (all at the target's).
    let sim: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["simulate", o, "--json"])).unwrap();
    for (a, b) in sim["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(doc["layers"].as_array().unwrap())
    {
        assert_eq!(a["latency_cycles"], b["simulated"]["latency_cycles"]);
        assert_eq!(a["energy_nj"], b["simulated"]["energy_nj"]);
    }
    assert!(!ok(dir.path(), &["report", o]).contains("I/W/O bit"));
}

/// A schedule written in format 1.0.0 still reads, checks and reports, its level energies taken
/// from the 1.0 keys.
#[test]
fn a_version_1_0_0_schedule_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let old = root().join("tests/fixtures/tiny_cnn.default.1.0.0.schedule.json");
    let out = ok(dir.path(), &["check", old.to_str().unwrap()]);
    assert!(out.contains("5 layers valid"), "{out}");
    let parts = energy_parts(&ok(dir.path(), &["report", old.to_str().unwrap()]));
    for level in ["dram", "output_buffer", "input_buffer", "oreg", "macro"] {
        assert!(
            parts.iter().any(|p| p.0 == level && p.1 > 0.0),
            "{level}: {parts:?}"
        );
    }
}

/// The model EDP bound is the model's and the target's, not the schedule's: the same for
/// ResNet-18's schedules by any mapper, with or without residency, and below each one's EDP.
/// With the memory plan's homes made to agree (a tensor has one home, the tensors live at a
/// step share their level) it is 1.085× below the golden `mip` schedule; a bound that lets each
/// layer pick its homes alone was 1.108× below it.
#[test]
fn the_model_edp_bound_is_one_number_below_every_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = root().join("models/resnet18.onnx");
    let golden = root().join("schedules/resnet18.default.schedule.json");
    let mut runs: Vec<(String, f64, f64)> = Vec::new();
    for (name, extra) in [
        ("ws", &["--mapper", "ws"][..]),
        ("greedy", &["--mapper", "greedy"][..]),
        (
            "greedy, residency off",
            &["--mapper", "greedy", "--residency", "off"][..],
        ),
    ] {
        let mut args = vec![
            "compile",
            m.to_str().unwrap(),
            "--target",
            "default",
            "-q",
            "--no-simulate",
            "-o",
            "s.json",
        ];
        args.extend_from_slice(extra);
        ok(d, &args);
        let j: Value =
            serde_json::from_str(&ok(d, &["report", "s.json", "--format", "json"])).unwrap();
        let total = &j["total"];
        runs.push((
            name.to_string(),
            total["edp"].as_f64().unwrap(),
            total["edp_lower_bound"].as_f64().unwrap(),
        ));
    }
    let j: Value = serde_json::from_str(&ok(
        d,
        &["report", golden.to_str().unwrap(), "--format", "json"],
    ))
    .unwrap();
    let (edp, bound) = (
        j["total"]["edp"].as_f64().unwrap(),
        j["total"]["edp_lower_bound"].as_f64().unwrap(),
    );
    for (name, e, b) in &runs {
        assert!(b <= e, "{name}: bound {b} above its EDP {e}");
        assert!(
            (b - bound).abs() <= 1e-9 * bound,
            "{name}: bound {b}, golden's {bound}"
        );
    }
    assert!(
        bound <= edp && edp / bound < 1.09,
        "EDP {edp}, bound {bound}"
    );
}
