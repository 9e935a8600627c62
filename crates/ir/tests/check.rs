//! `check` and the residency analysis on hand-built mappings, default preset (levels: 0 dram,
//! 1 global_buffer, 2 output_buffer, 3 input_buffer, 4 oreg, 5 ireg, 6 macro).

use cimopt_ir::{
    Mapping, OpKind, SpatialFactor, TemporalLoop, ViolationKind, WeightKind, Workload, analysis,
    check,
};
use cimopt_target::{Axis, Dim, Operand, Target, load};

fn target() -> Target {
    load("default", &[]).unwrap().target
}

/// 3×3 conv, 16 → 32 channels, 8×8 output, pad 1.
fn conv() -> Workload {
    Workload {
        op: OpKind::Conv,
        weight_kind: WeightKind::Constant,
        r: 3,
        s: 3,
        p: 8,
        q: 8,
        c: 16,
        k: 32,
        g: 1,
        b: 1,
        h: 8,
        w: 8,
        stride: [1, 1],
        pad: [1; 4],
        dilation: [1, 1],
        bits: cimopt_ir::Bits::FLOAT,
    }
}

fn l(dim: Dim, factor: u64, i: usize, w: usize, o: usize) -> TemporalLoop {
    TemporalLoop {
        dim,
        factor,
        level: [i, w, o],
    }
}

/// C 16 on macro rows, K 16 on columns × 2 temporal; I double-buffered in the global buffer.
fn valid() -> Mapping {
    Mapping {
        home: [0; 3],
        spatial: vec![
            SpatialFactor {
                axis: Axis::Rows,
                dim: Dim::C,
                factor: 16,
            },
            SpatialFactor {
                axis: Axis::Cols,
                dim: Dim::K,
                factor: 16,
            },
        ],
        temporal: vec![
            l(Dim::K, 2, 0, 0, 0),
            l(Dim::P, 8, 1, 1, 1),
            l(Dim::Q, 8, 3, 1, 2),
            l(Dim::R, 3, 3, 1, 2),
            l(Dim::S, 3, 3, 6, 4),
        ],
        double_buffer: vec![(1, Operand::I)],
        padded_dims: conv().extents(),
    }
}

fn violations(m: &Mapping) -> Vec<(ViolationKind, String)> {
    check(&target(), &conv(), m)
        .into_iter()
        .map(|v| (v.kind, v.message))
        .collect()
}

fn expect(m: &Mapping, kind: ViolationKind, text: &str) {
    let v = violations(m);
    assert!(
        v.iter().any(|(k, msg)| *k == kind && msg.contains(text)),
        "expected {kind:?} `{text}`, got {v:?}"
    );
}

#[test]
fn a_valid_mapping_passes_with_the_expected_residency() {
    assert!(
        violations(&valid()).is_empty(),
        "{:?}",
        violations(&valid())
    );
    let t = target();
    let bits = analysis::resident_bits(&t, &conv(), &valid());
    // Global buffer, I (double-buffered): rows min(3 + 7, 8) = 8, cols 8, C 16 on rows →
    // 1024 elements × 8 bit × 2 = 16384. W: R3 S3 × C16 × K16 (both fan out from here) = 2304
    // × 8 = 18432. O: P8 Q8 × K16 = 1024, above the first reduction level so 8 bit: 8192.
    assert_eq!(bits[1], [16384, 18432, 8192]);
    // Output buffer holds Q8 × K16 partial sums (R sits there): 128 × 16 bit.
    assert_eq!(bits[2][2], 2048);
    // The macro holds the 3 weights of the S loop per cell; oreg one 16-bit partial sum.
    assert_eq!(bits[6][1], 24);
    assert_eq!(bits[4][2], 16);
    // DRAM holds the whole tensors: I 1024·8, W 4608·8, O 2048·8.
    assert_eq!(bits[0], [8192, 36864, 16384]);
    assert_eq!(
        analysis::psum_levels(&t, &valid()),
        vec![false, false, true, false, true, false, false]
    );
}

#[test]
fn coverage_and_padding() {
    let mut m = valid();
    m.temporal[0].factor = 4;
    expect(
        &m,
        ViolationKind::Coverage,
        "dim K: factors multiply to 64, but the workload has 32 (declare padded_dims.K = 64 to pad)",
    );
    m.padded_dims[Dim::K.index()] = 64;
    assert!(
        violations(&m).is_empty(),
        "declared padding is valid: {:?}",
        violations(&m)
    );
    m.padded_dims[Dim::K.index()] = 16;
    expect(
        &m,
        ViolationKind::Coverage,
        "dim K: padded extent 16 is smaller than the workload's 32",
    );
}

#[test]
fn levels_must_hold_the_operand_and_descend() {
    let mut m = valid();
    m.temporal[2].level[Operand::W.index()] = 3;
    expect(
        &m,
        ViolationKind::Level,
        "temporal[2] (Q 8): level `input_buffer` does not hold W",
    );
    let mut m = valid();
    m.temporal[3].level[Operand::O.index()] = 1;
    expect(
        &m,
        ViolationKind::LevelOrder,
        "temporal[3] (R) puts O at `global_buffer`, outside temporal[2] at `output_buffer`",
    );
}

#[test]
fn spatial_factors_must_be_allowed_and_fit() {
    let mut m = valid();
    m.spatial.push(SpatialFactor {
        axis: Axis::Rows,
        dim: Dim::K,
        factor: 2,
    });
    m.temporal[0].factor = 1;
    expect(
        &m,
        ViolationKind::Spatial,
        "K may not be unrolled on `rows`",
    );
    let mut m = valid();
    m.spatial[1].factor = 32;
    m.temporal[0].factor = 1;
    expect(
        &m,
        ViolationKind::Spatial,
        "axis `cols`: spatial factors multiply to 32, more than its size 16",
    );
}

#[test]
fn double_buffering_only_where_allowed() {
    let mut m = valid();
    m.double_buffer.push((6, Operand::W));
    expect(
        &m,
        ViolationKind::DoubleBuffer,
        "level `macro` may not double-buffer W",
    );
    let mut m = valid();
    m.double_buffer.push((5, Operand::I));
    expect(
        &m,
        ViolationKind::DoubleBuffer,
        "level `ireg` may not double-buffer I",
    );
}

#[test]
fn capacity_counts_double_buffers_and_names_the_level() {
    // R at the macro too: 3 × 3 = 9 weights × 8 bit = 72 bit in a 64-bit cell.
    let mut m = valid();
    m.temporal[3].level[Operand::W.index()] = 6;
    expect(
        &m,
        ViolationKind::Capacity,
        "level `macro` overflows: needs 72 bit (W 72 bit) but holds 64 bit",
    );
    // With a ping-pong macro the S-only residency counts twice: 48 bit, still fits; R and S: 144.
    let t = load("default", &["macro.ping_pong=true".into()])
        .unwrap()
        .target;
    assert!(check(&t, &conv(), &valid()).is_empty());
    let msgs: Vec<String> = check(&t, &conv(), &m)
        .into_iter()
        .map(|v| v.message)
        .collect();
    assert!(
        msgs.iter()
            .any(|s| s.contains("needs 144 bit (W 144 bit (double-buffered))")),
        "{msgs:?}"
    );
}

/// A layer's own widths decide its capacities: packed two to an 8-bit slot, the 9 weights of
/// an R × S tile fit a 64-bit cell at 4 bits (36 bit) but not at 8 (72 bit), nor at 4 bits
/// padded to the native width; 4-bit inputs take half the bits in every input level.
#[test]
fn capacity_follows_the_layers_own_widths() {
    let t = target();
    let mut m = valid();
    m.temporal[3].level[Operand::W.index()] = 6;
    let four = Workload {
        bits: cimopt_ir::Bits {
            weight: Some(4),
            ..cimopt_ir::Bits::FLOAT
        },
        ..conv()
    };
    assert!(
        check(&t, &four, &m).is_empty(),
        "{:?}",
        check(&t, &four, &m)
    );
    assert_eq!(analysis::resident_bits(&t, &four, &m)[6][1], 36);
    let padded = load("default", &["macro.weight_storage=\"padded\"".into()])
        .unwrap()
        .target;
    assert!(
        check(&padded, &four, &m)
            .iter()
            .any(|v| v.message.contains("needs 72 bit (W 72 bit)")),
        "{:?}",
        check(&padded, &four, &m)
    );
    // DRAM holds the 4-bit weights packed whatever the cells do.
    assert_eq!(analysis::resident_bits(&padded, &four, &m)[0][1], 4608 * 4);
    let a4 = Workload {
        bits: cimopt_ir::Bits {
            input: Some(4),
            ..cimopt_ir::Bits::FLOAT
        },
        ..conv()
    };
    let (b8, b4) = (
        analysis::resident_bits(&t, &conv(), &valid()),
        analysis::resident_bits(&t, &a4, &valid()),
    );
    for lv in 0..t.num_levels() {
        assert_eq!(b4[lv][0] * 2, b8[lv][0], "level {lv}");
        assert_eq!(b4[lv][1..], b8[lv][1..], "level {lv}");
    }
    let p = analysis::layer_precision(&t, &a4);
    assert_eq!((p.input, p.weight, p.psum, p.output), (4, 8, 16, 8));
}

/// Widths the macro cannot run are violations naming the width and the key, and nothing
/// else is reported for such a layer.
#[test]
fn widths_the_macro_cannot_run_are_violations() {
    let t = target();
    let with = |input: Option<u64>, weight: Option<u64>, output: Option<u64>| {
        let w = Workload {
            bits: cimopt_ir::Bits {
                input,
                weight,
                output,
            },
            ..conv()
        };
        check(&t, &w, &valid())
            .into_iter()
            .map(|v| (v.kind, v.message))
            .collect::<Vec<_>>()
    };
    assert!(with(Some(8), Some(4), Some(8)).is_empty());
    assert!(
        with(Some(2), Some(8), Some(16)).is_empty(),
        "narrower inputs run bit-serially"
    );
    let cases = [
        (
            with(Some(16), None, None),
            "precision: 16-bit inputs are wider than the macro's 8-bit inputs (macro.precision.input_bits)",
        ),
        (
            with(None, Some(3), None),
            "precision: the array computes weights of 4 or 8 bits (macro.weight_bits_supported), not 3",
        ),
        (
            with(None, None, Some(32)),
            "precision: 32-bit outputs are wider than the macro's 16-bit accumulators (macro.precision.psum_bits)",
        ),
        (
            with(Some(0), None, None),
            "precision: inputs of 0 bits: a width is 1 to 64 bits",
        ),
        (
            with(None, Some(u64::MAX), None),
            "precision: weights of 18446744073709551615 bits: a width is 1 to 64 bits",
        ),
    ];
    for (v, text) in cases {
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].0, ViolationKind::Precision);
        assert_eq!(v[0].1, text);
    }
}
