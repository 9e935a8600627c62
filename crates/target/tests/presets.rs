use cimopt_target::{
    Operand, PRESETS, Replication, TargetError, load, parse, show::to_commented_toml,
};

#[test]
fn default_preset_has_the_reference_numbers() {
    let t = load("default", &[]).unwrap().target;
    assert_eq!(t.cores, 8);
    assert_eq!(
        (t.macro_.rows, t.macro_.cols, t.macro_.compartment_depth),
        (32, 16, 8)
    );
    let caps: Vec<u64> = t.levels.iter().map(|l| l.capacity_bits).collect();
    assert_eq!(caps, [8_589_934_592, 2_097_152, 131_072, 65_536, 16, 8, 64]);
    let bws: Vec<u64> = t.levels.iter().map(|l| l.read_bw).collect();
    assert_eq!(bws, [64, 128, 128, 128, 16, 8, 8]);
    assert_eq!(t.levels[1].read_pj_per_bit, 0.197874140625);
    assert_eq!(t.levels[1].write_pj_per_bit, 0.14280603750000004);
    assert_eq!(t.levels[2].replication, Replication::PerCore);
    assert_eq!(t.t_mac(), 8);
    assert_eq!(t.leakage_nj_per_cycle, 0.035930852808574304);
    // mult: 0.0002835·8·1·32·16·8 = 9.289728 pJ; adder tree: 0.003402·(32·9 − 12·16)·8 = 2.612736;
    // merge: (0.003402 + 0.001701)·(8+8+5)·8·16 = 13.716864; total 25.619328 pJ.
    assert!(
        (t.activation_energy_nj() - 0.025619328).abs() < 1e-12,
        "{}",
        t.activation_energy_nj()
    );
    assert_eq!(t.macro_level(), 6);
    assert_eq!(t.innermost(Operand::I), 5);
    assert_eq!(t.innermost(Operand::O), 4);
    assert!(!t.may_double_buffer(6, Operand::W));
    assert!(t.may_double_buffer(1, Operand::W));
    assert_eq!(t.axis(cimopt_target::Axis::Cols).source, [5, 1, 2]);
}

#[test]
fn transformer_preset_has_the_reference_numbers() {
    let t = load("transformer", &[]).unwrap().target;
    assert_eq!(t.cores, 16);
    let caps: Vec<u64> = t.levels.iter().map(|l| l.capacity_bits).collect();
    assert_eq!(
        caps,
        [34_359_738_368, 33_554_432, 262_144, 131_072, 16, 8, 64]
    );
    let bws: Vec<u64> = t.levels.iter().map(|l| l.read_bw).collect();
    assert_eq!(bws, [256, 512, 256, 256, 16, 8, 8]);
    assert_eq!(t.levels[1].read_pj_per_bit, 0.4182283125);
    assert_eq!(t.leakage_nj_per_cycle, 0.4719655086538611);
    // X = 64, Y = 32: mult 0.0002835·8·64·32·8 = 37.158912; adder 0.003402·(64·9 − 12·32)·8
    // = 5.225472; merge 0.005103·(8+8+6)·8·32 = 28.740096; total 71.12448 pJ.
    assert!(
        (t.activation_energy_nj() - 0.07112448).abs() < 1e-12,
        "{}",
        t.activation_energy_nj()
    );
}

#[test]
fn shown_presets_parse_back_to_the_same_target() {
    for (name, _) in PRESETS {
        let t = load(name, &[]).unwrap().target;
        let text = to_commented_toml(&t);
        assert!(text.contains("# "));
        let back = parse("shown", &text, &[]).unwrap();
        assert_eq!(back, t, "{name}");
        // And the file form round-trips through TOML serialisation.
        let again = parse("file", &toml::to_string(&t.to_file()).unwrap(), &[]).unwrap();
        assert_eq!(again, t);
    }
}

#[test]
fn overrides_change_one_field() {
    let t = load(
        "default",
        &[
            "cores=16".into(),
            "levels.global_buffer.capacity=512KiB".into(),
        ],
    )
    .unwrap()
    .target;
    assert_eq!(t.cores, 16);
    assert_eq!(t.axis(cimopt_target::Axis::Cores).size, 16);
    assert_eq!(t.levels[1].capacity_bits, 512 * 1024 * 8);
    let t = load(
        "default",
        &[
            "levels[3].bandwidth_bits_per_cycle=256".into(),
            "macro.ping_pong=true".into(),
        ],
    )
    .unwrap()
    .target;
    assert_eq!(t.levels[3].read_bw, 256);
    assert!(t.may_double_buffer(t.macro_level(), Operand::W));
    let e = load("default", &["levels.nowhere.capacity=1".into()]).unwrap_err();
    assert!(e.to_string().contains("no entry named `nowhere`"), "{e}");
    let e = load("default", &["corez=1".into()]).unwrap_err();
    assert!(e.to_string().starts_with("--set corez"), "{e}");
    let e = load("default", &["cores".into()]).unwrap_err();
    assert!(matches!(e, TargetError::Override { .. }));
}

#[test]
fn validation_names_the_key() {
    let cases = [
        ("levels[2].capacity=0", "levels[2].capacity: must be > 0"),
        ("cores=0", "cores: must be > 0"),
        (
            "levels.macro.capacity=128",
            "levels[6].capacity: the macro level `macro` holds 128 bits per cell",
        ),
        (
            "spatial.cols.source.I=\"macro\"",
            "spatial.cols.source.I: level `macro` does not hold I",
        ),
        (
            "spatial.rows.source.W=\"cache\"",
            "spatial.rows.source.W: no level named `cache`",
        ),
        (
            "levels.dram.holds=[\"I\",\"W\"];levels.dram.double_buffer=[]",
            "levels[0].holds: the outermost level `dram` must hold every operand",
        ),
        (
            "levels.ireg.double_buffer=[\"O\"]",
            "levels[5].double_buffer: operand O is not held",
        ),
        (
            "levels.macro.double_buffer=[\"W\"]",
            "the macro can double-buffer weights only when macro.ping_pong = true",
        ),
        (
            "levels.dram.capacity=\"12KB\"",
            "levels[0].capacity: unknown or ambiguous capacity unit",
        ),
        (
            "levels.dram.replication=\"private\"",
            "levels[0].replication: `private`",
        ),
        (
            "spatial.cores.dims=[\"X\"]",
            "spatial.cores.dims: unknown loop dimension `X`",
        ),
        (
            "macro.activation_energy.nj=0.5",
            "macro.activation_energy: give either `nj` alone",
        ),
        (
            "macro.weight_bits_supported=[4, 16]",
            "macro.weight_bits_supported: 16 is not a width in 1..=8",
        ),
        (
            "macro.weight_bits_supported=[0, 8]",
            "macro.weight_bits_supported: 0 is not a width in 1..=8",
        ),
        (
            "macro.weight_bits_supported=[4]",
            "macro.weight_bits_supported: must include the native width macro.precision.weight_bits = 8",
        ),
        (
            "macro.weight_bits_supported=[8, 4, 8]",
            "macro.weight_bits_supported: 8 listed twice",
        ),
        (
            "macro.weight_storage=\"sliced\"",
            "macro.weight_storage: `sliced`: expected \"packed\" or \"padded\"",
        ),
        (
            "macro.pad_unsupported_weights=2",
            "macro.pad_unsupported_weights",
        ),
    ];
    for (set, expected) in cases {
        let sets: Vec<String> = set.split(';').map(String::from).collect();
        let e = load("default", &sets).unwrap_err().to_string();
        assert!(
            e.contains(expected),
            "--set {set}: got `{e}`, expected `{expected}`"
        );
    }
}

/// Both presets keep the reference's 8-bit precisions and also compute 4-bit weights, packed
/// two to a slot; a target file that does not say so supports its native width alone.
#[test]
fn weight_widths_the_macro_runs_and_how_it_stores_them() {
    use cimopt_target::{Precision, WeightStorage};
    for (name, _) in PRESETS {
        let t = load(name, &[]).unwrap().target;
        let p = &t.macro_.precision;
        assert_eq!(
            (p.input, p.weight, p.psum, p.output),
            (8, 8, 16, 8),
            "{name}"
        );
        assert_eq!(t.macro_.weight_bits_supported, [4, 8], "{name}");
        assert_eq!(t.macro_.weight_storage, WeightStorage::Packed, "{name}");
        assert!(!t.macro_.pad_unsupported_weights, "{name}");
        assert_eq!(t.weight_bits_run(4), Some(4));
        assert_eq!(t.weight_bits_run(3), None, "{name}: 3 bits without padding");
        // Packed: two 4-bit weights share an 8-bit slot; a 5-bit weight has a slot alone.
        assert_eq!(t.weight_cell_bits(8), 8);
        assert_eq!(t.weight_cell_bits(4), 4);
        assert_eq!(t.weight_cell_bits(5), 8);
        assert_eq!(t.weight_cell_bits(3), 4);
    }
    let t = load(
        "default",
        &[
            "macro.weight_storage=\"padded\"".into(),
            "macro.pad_unsupported_weights=true".into(),
            "macro.weight_bits_supported=[2, 4, 8]".into(),
        ],
    )
    .unwrap()
    .target;
    assert_eq!(t.weight_cell_bits(4), 8, "padded to the native width");
    assert_eq!(t.weight_bits_run(3), Some(4), "padded up to the next width");
    assert_eq!(t.weight_bits_run(1), Some(2));
    assert_eq!(t.weight_bits_run(2), Some(2));
    // The keys are written only when they say more than their defaults, and read back.
    let text = toml::to_string(&t.to_file()).unwrap();
    assert!(text.contains("weight_storage = \"padded\""), "{text}");
    assert_eq!(parse("file", &text, &[]).unwrap(), t);
    let text = PRESETS[0]
        .1
        .replace("weight_bits_supported = [4, 8]\n", "")
        .replace("weight_storage = \"packed\"\n", "");
    let plain = parse("plain.toml", &text, &[]).unwrap();
    assert_eq!(plain.macro_.weight_bits_supported, [8]);
    assert_eq!(plain.weight_bits_run(4), None);
    let file = toml::to_string(&plain.to_file()).unwrap();
    assert!(
        !file.contains("weight_bits_supported") && !file.contains("weight_storage"),
        "{file}"
    );
    // Bit-serial inputs: a 4-bit input takes half the cycles of an 8-bit one, and the
    // activation energy follows the reference's formula at the layer's bits.
    let t = load("default", &[]).unwrap().target;
    let w4a8 = Precision {
        weight: 4,
        ..t.macro_.precision
    };
    let a4 = Precision {
        input: 4,
        ..t.macro_.precision
    };
    assert_eq!(t.t_mac_at(&t.macro_.precision), 8);
    assert_eq!(t.t_mac_at(&a4), 4);
    // mult: 0.0002835·4·32·16·8 = 4.644864 pJ; the rest as at 8 bits but for W in the merge
    // term: (0.003402 + 0.001701)·(8+4+5)·8·16 = 11.104128; adder tree 2.612736.
    let e = t.activation_energy_nj_at(&w4a8);
    assert!((e - 0.018361728).abs() < 1e-12, "{e}");
    assert!(t.activation_energy_nj_at(&a4) < t.activation_energy_nj() / 1.9);
    // An explicit activation energy is at the target's precisions; bit-serial, it scales
    // with the cycles.
    let t = load("default", &["macro.activation_energy={nj=0.02}".into()])
        .unwrap()
        .target;
    assert_eq!(t.activation_energy_nj_at(&t.macro_.precision), 0.02);
    assert_eq!(t.activation_energy_nj_at(&a4), 0.01);
}

#[test]
fn unknown_keys_and_bad_files_are_refused() {
    let text = PRESETS[0].1.replace("cores = 8", "cores = 8\nspeed = 3");
    let e = parse("f.toml", &text, &[]).unwrap_err().to_string();
    assert!(e.contains("f.toml") && e.contains("speed"), "{e}");
    let e = parse("f.toml", "this is = = not toml", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("f.toml is not valid TOML"), "{e}");
    let e = load("no-such-target", &[]).unwrap_err().to_string();
    assert!(e.contains("neither a preset (default, transformer)"), "{e}");
}
