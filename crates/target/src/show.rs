//! A complete, commented TOML rendering of a resolved target, for `cimopt targets show`.

use crate::model::{ActivationEnergy, Replication, Target};
use crate::units::format_capacity;
use crate::vocab::Operand;
use std::fmt::Write;

fn list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let v: Vec<String> = items.into_iter().map(|i| string(&i.to_string())).collect();
    format!("[{}]", v.join(", "))
}

/// A TOML string: quoted, with quotes, backslashes and control characters escaped.
fn string(v: &str) -> String {
    toml::Value::String(v.to_string()).to_string()
}

fn float(v: f64) -> String {
    // `{:?}` is Rust's shortest exact round-trip form and always has a decimal point.
    format!("{v:?}")
}

/// Renders `t` as a TOML file that parses back to the same target, with a comment on every key.
pub fn to_commented_toml(t: &Target) -> String {
    let m = &t.macro_;
    let p = &m.precision;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# cimopt target `{}`. Save, edit, and pass with --target FILE.",
        t.name.escape_debug()
    );
    let _ = writeln!(
        s,
        "# Units are in the key names; capacities take bits or a unit: 2097152, \"256KiB\", \"16Kibit\"."
    );
    let _ = writeln!(
        s,
        "# Any key can be overridden from the command line: --set cores=16,"
    );
    let _ = writeln!(
        s,
        "# --set levels.global_buffer.capacity=512KiB, --set macro.ping_pong=true.\n"
    );
    let _ = writeln!(s, "name = {}", string(&t.name));
    if let Some(d) = &t.description {
        let _ = writeln!(s, "description = {}", string(d));
    }
    let _ = writeln!(s, "# Cores; also the size of the `cores` spatial axis.");
    let _ = writeln!(s, "cores = {}", t.cores);
    let _ = writeln!(s, "# Static energy of the whole accelerator per cycle.");
    let _ = writeln!(
        s,
        "leakage_nj_per_cycle = {}\n",
        float(t.leakage_nj_per_cycle)
    );
    match t.vector_lanes {
        Some(v) => {
            let _ = writeln!(
                s,
                "# Vector unit for non-CIM operators: elements per cycle per core."
            );
            let _ = writeln!(s, "vector_lanes = {v}\n");
        }
        None => {
            let _ = writeln!(
                s,
                "# vector_lanes = 16  # elements per cycle per core of a vector unit for non-CIM"
            );
            let _ = writeln!(
                s,
                "#                    # operators; unset: reports list them without a time estimate\n"
            );
        }
    }

    let _ = writeln!(s, "[macro]");
    let _ = writeln!(
        s,
        "rows = {}              # reduction axis (word lines, the reference's dimX); size of the `rows` axis",
        m.rows
    );
    let _ = writeln!(
        s,
        "cols = {}              # output columns (dimY); size of the `cols` axis",
        m.cols
    );
    let _ = writeln!(
        s,
        "compartment_depth = {}  # weights stored per cell (storage : compute)",
        m.compartment_depth
    );
    let _ = writeln!(
        s,
        "ping_pong = {}      # true: weights load while the macro computes (double-buffered macro)",
        m.ping_pong
    );
    let _ = writeln!(
        s,
        "input_bits_per_cycle = {} # bit-serial inputs: one activation takes input_bits / this cycles",
        m.input_bits_per_cycle
    );
    let _ = writeln!(
        s,
        "# Layers run at the model's bit widths (float layers at [macro.precision]). Inputs up to\n# input_bits run bit-serially; weights at the widths the array computes at:"
    );
    let _ = writeln!(
        s,
        "weight_bits_supported = [{}]",
        m.weight_bits_supported
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "weight_storage = {}  # a narrower weight: \"packed\" (weight_bits / w share a slot) or \"padded\"",
        string(m.weight_storage.name())
    );
    let _ = writeln!(
        s,
        "pad_unsupported_weights = {}  # true: another width runs at the next wider supported one",
        m.pad_unsupported_weights
    );
    let _ = writeln!(s, "\n[macro.precision]");
    let _ = writeln!(
        s,
        "input_bits = {}\nweight_bits = {}\npsum_bits = {}   # partial sums below the outermost reduction loop\noutput_bits = {}  # final outputs",
        p.input, p.weight, p.psum, p.output
    );
    let _ = writeln!(s, "\n[macro.activation_energy]");
    match m.activation {
        ActivationEnergy::Explicit { nj } => {
            let _ = writeln!(s, "# Energy of one activation of one core's macro, nJ.");
            let _ = writeln!(s, "nj = {}", float(nj));
        }
        ActivationEnergy::FromLogic {
            mult_1b_pj,
            adder_1b_pj,
            reg_1b_pj,
        } => {
            let _ = writeln!(
                s,
                "# Derived per activation (= {:.6} nJ here) from 1-bit logic energies, pJ:\n# (mult·W·X·Y + adder·(X·(I+1) − (I+⌈log2 I⌉+1)·Y) + (adder+reg)·(I+W+⌈log2 X⌉)·Y) · t_MAC.\n# Or give `nj = ...` alone instead.",
                t.activation_energy_nj()
            );
            let _ = writeln!(
                s,
                "mult_1b_pj = {}\nadder_1b_pj = {}\nreg_1b_pj = {}",
                float(mult_1b_pj),
                float(adder_1b_pj),
                float(reg_1b_pj)
            );
        }
    }

    let _ = writeln!(
        s,
        "\n# Memory levels, outermost first. The innermost level holding I is the input register,"
    );
    let _ = writeln!(
        s,
        "# holding O the output register, holding W the macro itself (capacity per cell)."
    );
    for l in &t.levels {
        let _ = writeln!(s, "\n[[levels]]");
        let _ = writeln!(s, "name = {}", string(&l.name));
        let _ = writeln!(
            s,
            "holds = {}            # operands it may store",
            list(l.holds.iter())
        );
        let _ = writeln!(
            s,
            "capacity = \"{}\"      # {} bits{}",
            format_capacity(l.capacity_bits),
            l.capacity_bits,
            if l.replication == Replication::PerCore {
                ", per instance"
            } else {
                ""
            }
        );
        if l.read_bw == l.write_bw {
            let _ = writeln!(
                s,
                "bandwidth_bits_per_cycle = {}  # read and write (or give read_/write_bandwidth_bits_per_cycle)",
                l.read_bw
            );
        } else {
            let _ = writeln!(
                s,
                "read_bandwidth_bits_per_cycle = {}\nwrite_bandwidth_bits_per_cycle = {}",
                l.read_bw, l.write_bw
            );
        }
        let _ = writeln!(
            s,
            "read_energy_pj_per_bit = {}\nwrite_energy_pj_per_bit = {}",
            float(l.read_pj_per_bit),
            float(l.write_pj_per_bit)
        );
        let _ = writeln!(
            s,
            "replication = \"{}\"  # \"shared\" by all cores, or one per core (\"per_core\")",
            match l.replication {
                Replication::Shared => "shared",
                Replication::PerCore => "per_core",
            }
        );
        let _ = writeln!(
            s,
            "double_buffer = {}  # operands it may double-buffer",
            list(l.double_buffer.iter())
        );
    }

    let _ = writeln!(
        s,
        "\n# Spatial axes: the loop dims each may unroll, and the level each operand fans out from."
    );
    for a in &t.axes {
        let _ = writeln!(s, "\n[spatial.{}]  # size {}", a.name, a.size);
        let _ = writeln!(s, "dims = {}", list(a.dims.iter()));
        let src: Vec<String> = Operand::ALL
            .iter()
            .map(|o| format!("{o} = {}", string(&t.levels[a.source[o.index()]].name)))
            .collect();
        let _ = writeln!(s, "source = {{ {} }}", src.join(", "));
    }
    s
}
