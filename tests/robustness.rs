//! Bad input and careless use, end to end: no panic, no clobbered file, nothing silently dropped,
//! messages that name the culprit. Each case failed before the hardening it checks.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

fn tiny() -> String {
    root().join("models/tiny_cnn.onnx").display().to_string()
}

/// Compiles the tiny CNN with greedy into `out` (relative to `dir`), with extra flags.
fn compile(dir: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    let model = tiny();
    let mut args = vec![
        "compile", &model, "--target", "default", "--mapper", "greedy", "-q", "-o", out,
    ];
    args.extend(extra);
    cimopt(dir, &args)
}

fn no_panic(o: &std::process::Output) {
    let t = text(o);
    assert!(
        !t.contains("panicked") && o.status.code() != Some(101),
        "a panic:\n{t}"
    );
}

#[test]
fn outputs_never_destroy_inputs_devices_links_or_read_only_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The model and a target file are inputs: refused as outputs, left as they were.
    let model = d.join("m.onnx");
    std::fs::copy(tiny(), &model).unwrap();
    let before = std::fs::read(&model).unwrap();
    let o = cimopt(
        d,
        &[
            "compile", "m.onnx", "-t", "default", "--mapper", "greedy", "-q", "-o", "m.onnx",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the model being compiled"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(&model).unwrap(), before);
    let toml = ok(d, &["targets", "show", "default"]);
    std::fs::write(d.join("t.toml"), &toml).unwrap();
    let o = cimopt(
        d,
        &[
            "compile", "m.onnx", "-t", "t.toml", "--mapper", "greedy", "-q", "-o", "t.toml",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("the target file"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(d.join("t.toml")).unwrap(), toml);
    // `report -o` onto the schedule it reads.
    assert!(compile(d, "s.json", &[]).status.success());
    let s = std::fs::read(d.join("s.json")).unwrap();
    let o = cimopt(d, &["report", "s.json", "-o", "s.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("the schedule being reported"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(d.join("s.json")).unwrap(), s);
    // A character device is written through and stays a device.
    let o = compile(d, "/dev/null", &[]);
    assert!(o.status.success(), "{}", text(&o));
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        assert!(
            std::fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
        // A symbolic link stays a link; the file it names gets the schedule.
        std::fs::write(d.join("real.json"), b"old").unwrap();
        std::os::unix::fs::symlink("real.json", d.join("link.json")).unwrap();
        assert!(compile(d, "link.json", &[]).status.success());
        assert!(
            std::fs::symlink_metadata(d.join("link.json"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(d.join("real.json")).unwrap(), s);
        // A link to the model is the model.
        std::os::unix::fs::symlink("m.onnx", d.join("to_model.json")).unwrap();
        let o = cimopt(
            d,
            &[
                "compile",
                "m.onnx",
                "-t",
                "default",
                "--mapper",
                "greedy",
                "-q",
                "-o",
                "to_model.json",
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert_eq!(std::fs::read(&model).unwrap(), before);
        // A read-only file is kept unless --force.
        std::fs::write(d.join("ro.json"), b"keep").unwrap();
        std::fs::set_permissions(d.join("ro.json"), std::fs::Permissions::from_mode(0o444))
            .unwrap();
        let o = compile(d, "ro.json", &[]);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            text(&o).contains("read-only") && text(&o).contains("--force"),
            "{}",
            text(&o)
        );
        assert_eq!(std::fs::read(d.join("ro.json")).unwrap(), b"keep");
        assert!(compile(d, "ro.json", &["--force"]).status.success());
        assert_eq!(std::fs::read(d.join("ro.json")).unwrap(), s);
    }
    // A missing folder is named, not a temporary file.
    let o = compile(d, "no/such/dir/s.json", &[]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(
        t.contains("no/such/dir") && t.contains("does not exist") && !t.contains(".cimopt-"),
        "{t}"
    );
}

#[test]
fn input_that_used_to_panic_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A shape whose element count overflows 64 bits.
    let o = cimopt(
        d,
        &[
            "inspect",
            &tiny(),
            "--input-shape",
            "input=1x3x4294967296x4294967296",
        ],
    );
    no_panic(&o);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // Schedules with factors past the limits, read by every command.
    assert!(compile(d, "s.json", &[]).status.success());
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    v["layers"][0]["mapping"]["temporal"][0]["factor"] = Value::from(1u64 << 62);
    std::fs::write(d.join("huge.json"), v.to_string()).unwrap();
    for cmd in ["check", "simulate", "report"] {
        let o = cimopt(d, &[cmd, "huge.json"]);
        no_panic(&o);
        assert_eq!(o.status.code(), Some(1), "{cmd}: {}", text(&o));
        assert!(text(&o).contains("limit"), "{cmd}: {}", text(&o));
    }
    // A closed pipe ends the command quietly.
    #[cfg(unix)]
    {
        use std::io::Read;
        use std::os::unix::process::ExitStatusExt;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cimopt"))
            .args(["inspect", "models/bert_base.onnx", "--json"])
            .current_dir(root())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 16];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            out.status.success() || out.status.signal() == Some(libc_sigpipe()),
            "{:?}: {stderr}",
            out.status
        );
    }
}

/// A target whose spatial space no search can enumerate (every dim unrolled on 65536 cores
/// and 65536 macro columns: the fuzzer's one hang, minutes per layer) is refused at once by
/// every mapper, naming the layer and the limit; `--keep-going` lists every layer as skipped,
/// and `report` refuses a schedule written for such a target the same way.
#[test]
fn a_spatial_space_too_large_to_search_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let every = r#"["R","S","P","Q","C","K","G","B"]"#;
    let axes = [
        "cores=65536".to_string(),
        "macro.cols=65536".to_string(),
        format!("spatial.cores.dims={every}"),
        format!("spatial.rows.dims={every}"),
        format!("spatial.cols.dims={every}"),
    ];
    let mut set: Vec<&str> = Vec::new();
    for a in &axes {
        set.extend(["--set", a]);
    }
    let model = tiny();
    for mapper in ["ws", "greedy", "mip"] {
        let mut args = vec![
            "compile", &model, "--target", "default", "--mapper", mapper, "-q", "-o", "s.json",
        ];
        args.extend(&set);
        let o = cimopt(d, &args);
        no_panic(&o);
        assert_eq!(o.status.code(), Some(1), "{mapper}: {}", text(&o));
        let t = text(&o);
        assert!(
            t.contains("layer 0 `/conv1/Conv`")
                && t.contains("spatial unrollings")
                && t.contains("MAX_UNROLLINGS")
                && t.contains("spatial.cores.dims"),
            "{mapper}: {t}"
        );
        assert!(!d.join("s.json").exists());
    }
    let mut args = vec!["--keep-going"];
    args.extend(&set);
    let o = compile(d, "kept.json", &args[..]);
    no_panic(&o);
    // The four convolutions are skipped; the small Gemm's space is enumerable and it is mapped.
    assert!(o.status.success(), "{}", text(&o));
    let kept: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("kept.json")).unwrap()).unwrap();
    assert_eq!(kept["layers"].as_array().unwrap().len(), 1);
    let skipped = kept["model"]["skipped_nodes"].as_array().unwrap();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert!(
        skipped
            .iter()
            .all(|n| n.to_string().contains("MAX_UNROLLINGS"))
    );
    // A schedule of the tiny CNN whose embedded target was made that large.
    assert!(compile(d, "s.json", &[]).status.success());
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    let spec = &mut v["inputs"]["target"]["spec"];
    spec["cores"] = Value::from(65536);
    spec["macro"]["cols"] = Value::from(65536);
    for axis in ["cores", "rows", "cols"] {
        spec["spatial"][axis]["dims"] = serde_json::from_str(every).unwrap();
    }
    v["inputs"]["target"]
        .as_object_mut()
        .unwrap()
        .remove("sha256");
    std::fs::write(d.join("huge.json"), v.to_string()).unwrap();
    let o = cimopt(d, &["report", "huge.json"]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("`/conv1/Conv`") && text(&o).contains("MAX_UNROLLINGS"),
        "{}",
        text(&o)
    );
}

#[cfg(unix)]
fn libc_sigpipe() -> i32 {
    13
}

#[test]
fn nothing_is_silently_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(compile(d, "s.json", &[]).status.success());
    // --set without --target applies to the embedded target, and an unknown key is an error.
    let o = cimopt(d, &["check", "s.json", "--set", "nosuch=1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("nosuch"), "{}", text(&o));
    let o = cimopt(d, &["check", "s.json", "--set", "cores=2"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("more than its size 2"), "{}", text(&o));
    let o = cimopt(d, &["simulate", "s.json", "--set", "nosuch=1"]);
    assert_eq!(o.status.code(), Some(1));
    // A factor of 0: report refuses it like check.
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    let good = v.clone();
    v["layers"][0]["mapping"]["temporal"][0]["factor"] = Value::from(0);
    std::fs::write(d.join("zero.json"), v.to_string()).unwrap();
    let o = cimopt(d, &["report", "zero.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!text(&o).contains("inf"), "{}", text(&o));
    // Dims that contradict each other are refused.
    let mut v = good.clone();
    v["layers"][0]["dims"]["P"] = Value::from(31);
    std::fs::write(d.join("dims.json"), v.to_string()).unwrap();
    let o = cimopt(d, &["check", "dims.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("does not follow from"), "{}", text(&o));
    // Unknown fields are read past, with a warning.
    let mut v = good.clone();
    v["layers"][0]["mapping"]["colour"] = Value::from("red");
    std::fs::write(d.join("unknown.json"), v.to_string()).unwrap();
    let o = cimopt(d, &["check", "unknown.json"]);
    assert!(o.status.success());
    assert!(
        text(&o).contains("unknown field `layers[0].mapping.colour`"),
        "{}",
        text(&o)
    );
    // The same input shape twice, absurd targets and thread counts are refused.
    let o = cimopt(
        d,
        &[
            "inspect",
            &tiny(),
            "--input-shape",
            "input=1x3x32x32",
            "--input-shape",
            "input=1x3x32x32",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("given twice"), "{}", text(&o));
    let o = cimopt(
        d,
        &["targets", "show", "default", "--set", "cores=4294967297"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("limit"), "{}", text(&o));
    let o = compile(d, "t.json", &["--threads", "100000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("--threads 100000"), "{}", text(&o));
}

#[test]
fn skipped_layers_are_listed_counted_and_kept_out_of_every_total_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // DRAM too small for the second layer's tensors (the first fits): with --keep-going the
    // second is skipped, and every reader says so.
    let o = compile(
        d,
        "part.json",
        &["--keep-going", "--set", "levels.dram.capacity=100000"],
    );
    assert!(o.status.success(), "{}", text(&o));
    // Nor do the model's tensors all fit: the schedule has no memory plan, and says why.
    assert!(
        text(&o).contains("warning: the schedule has no memory plan")
            && text(&o).contains("level `dram`"),
        "{}",
        text(&o)
    );
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("part.json")).unwrap()).unwrap();
    assert!(v.get("memory_plan").is_none());
    let skipped = v["model"]["skipped_nodes"].as_array().unwrap();
    assert!(!skipped.is_empty());
    assert!(
        skipped.iter().all(|n| n["macs"].as_u64().unwrap() > 0),
        "{skipped:?}"
    );
    let report = ok(d, &["report", "part.json"]);
    assert!(report.contains("NOT in these totals"), "{report}");
    for cmd in ["check", "simulate"] {
        let out = ok(d, &[cmd, "part.json"]);
        assert!(out.contains("skipped when compiling"), "{cmd}: {out}");
    }
    let json: Value =
        serde_json::from_str(&ok(d, &["report", "part.json", "--format", "json"])).unwrap();
    assert!(
        json["skipped_macs_not_in_totals"].as_u64().unwrap() > 0,
        "{json}"
    );
    // With every layer skipped there is nothing to write: an error, no file.
    let o = compile(
        d,
        "none.json",
        &["--keep-going", "--set", "levels.dram.capacity=1"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("no layer could be mapped"),
        "{}",
        text(&o)
    );
    assert!(!d.join("none.json").exists());
}

#[test]
fn messages_point_at_the_culprit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let toml = ok(d, &["targets", "show", "default"]);
    // A wrong type in a target names the key, in a file and through --set.
    std::fs::write(
        d.join("bad.toml"),
        toml.replace("cores = 8", "cores = \"8\""),
    )
    .unwrap();
    let o = cimopt(d, &["targets", "show", "bad.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("cores: invalid type"), "{}", text(&o));
    std::fs::write(
        d.join("cap.toml"),
        toml.replacen("capacity = \"256KiB\"", "capacity = -1", 1),
    )
    .unwrap();
    let o = cimopt(d, &["targets", "show", "cap.toml"]);
    assert!(
        text(&o).contains("levels[1].capacity") && !text(&o).contains("untagged"),
        "{}",
        text(&o)
    );
    let o = cimopt(d, &["targets", "show", "default", "--set", "cores=true"]);
    assert!(
        text(&o).contains("--set cores: invalid type"),
        "{}",
        text(&o)
    );
    // An overflowing level lists what overflows it (never an empty "()").
    assert!(compile(d, "s.json", &[]).status.success());
    let out = cimopt(d, &["check", "s.json", "--set", "levels.dram.capacity=1"]);
    assert!(
        !text(&out).contains("()") && text(&out).contains("overflows"),
        "{}",
        text(&out)
    );
    // A factor that is too small is not told to pad.
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    let t = v["layers"][0]["mapping"]["temporal"][0]["factor"]
        .as_u64()
        .unwrap();
    if t > 1 {
        v["layers"][0]["mapping"]["temporal"][0]["factor"] = Value::from(t - 1);
        std::fs::write(d.join("small.json"), v.to_string()).unwrap();
        let o = cimopt(d, &["check", "small.json"]);
        assert!(
            !text(&o).contains("to pad") && text(&o).contains("must cover"),
            "{}",
            text(&o)
        );
    }
    // Names with control characters are printed escaped.
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    v["layers"][0]["name"] = Value::from("evil\u{1b}[31mname");
    std::fs::write(d.join("names.json"), v.to_string()).unwrap();
    for cmd in [
        &["report", "names.json"][..],
        &["simulate", "names.json"],
        &["check", "names.json", "--set", "cores=2"],
    ] {
        let o = cimopt(d, cmd);
        assert!(
            !text(&o).contains('\u{1b}'),
            "{cmd:?}: raw escape in\n{}",
            text(&o)
        );
    }
}
