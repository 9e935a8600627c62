//! Helpers shared by the front end's tests.
#![allow(dead_code)]

use cimopt_ir::{Layer, OpKind, WeightKind};
use cimopt_onnx::{LoadOptions, Model};
use std::path::{Path, PathBuf};

/// The workspace root (`crates/onnx/../..`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Every `models/*.onnx`, sorted.
#[allow(dead_code)]
pub fn bundled_models() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(models_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    v.sort();
    v
}

/// `<workspace root>/models`.
pub fn models_dir() -> PathBuf {
    root().join("models")
}

/// `<workspace root>/../shared/models`. Tests that call this are marked
/// `#[cfg_attr(not(shared_models), ignore = "needs ../shared/models")]` (see `build.rs`), so they
/// run only when it was present at build time.
pub fn shared_models() -> Option<PathBuf> {
    let p = root().join("../shared/models");
    Some(p).filter(|p| p.is_dir())
}

/// `../shared/models`, in a test that runs only when it was present at build time.
pub fn shared() -> PathBuf {
    shared_models().expect("../shared/models was present when these tests were built")
}

pub fn load(path: &Path) -> Model {
    cimopt_onnx::load(path, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn load_bytes(bytes: &[u8], opts: &LoadOptions) -> Result<Model, cimopt_onnx::FrontendError> {
    cimopt_onnx::load_bytes(Path::new("test.onnx"), bytes, opts)
}

/// Everything the mappers see of a layer: op, weight kind, R S P Q C K G B, H W, stride, pad,
/// dilation.
pub type Dims = (
    OpKind,
    WeightKind,
    [u64; 8],
    [u64; 2],
    [u64; 2],
    [u64; 4],
    [u64; 2],
);

pub fn dims(l: &Layer) -> Dims {
    let w = &l.workload;
    (
        w.op,
        w.weight_kind,
        [w.r, w.s, w.p, w.q, w.c, w.k, w.g, w.b],
        [w.h, w.w],
        w.stride,
        w.pad,
        w.dilation,
    )
}

/// Checks the invariants every lowered model must satisfy.
pub fn check_invariants(m: &Model) {
    for (i, l) in m.layers.iter().enumerate() {
        assert_eq!(l.index, i, "{}: layer index", m.path.display());
        assert!(l.dedup_group <= i);
        let first = &m.layers[l.dedup_group];
        assert_eq!(first.workload, l.workload, "dedup group of layer {i}");
        assert_eq!(
            first.dedup_group, first.index,
            "dedup group points at a first occurrence"
        );
        assert!(
            m.layers[..l.dedup_group]
                .iter()
                .all(|e| e.workload != l.workload)
        );
        assert!(l.workload.macs() > 0, "layer {i} has no MACs");
        assert_eq!(l.onnx_nodes.first(), Some(&l.name));
    }
    assert_eq!(m.graph.node_count(), m.layers.len());
    for e in m.graph.raw_edges() {
        assert!(
            m.graph[e.source()] < m.graph[e.target()],
            "edges go forward in layer order"
        );
    }
}
