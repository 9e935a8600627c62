//! The precisions each layer of a compile runs at (`--precision model|target`): the widths the
//! model gives (float tensors at the target's `macro.precision`), made into what the macro
//! runs. Every later stage reads them from the layer's workload
//! (`cimopt_ir::analysis::layer_precision`).

use cimopt_ir::Bits;
use cimopt_onnx::Model;
use cimopt_target::Target;
use std::fmt;
use std::str::FromStr;

/// Where a compile takes each layer's bit widths from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum PrecisionSource {
    /// The model's: its quantized tensors' widths, the target's for float tensors.
    #[default]
    Model,
    /// The target's `macro.precision` for every layer, whatever the model says.
    Target,
}

impl PrecisionSource {
    pub const ALL: [PrecisionSource; 2] = [PrecisionSource::Model, PrecisionSource::Target];

    pub fn name(self) -> &'static str {
        match self {
            PrecisionSource::Model => "model",
            PrecisionSource::Target => "target",
        }
    }
}

impl fmt::Display for PrecisionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PrecisionSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PrecisionSource::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown precision source `{s}` (expected model or target)"))
    }
}

/// The widths a layer given `bits` by its model runs at on `t`, every one explicit:
///
/// - a float operand at the target's `macro.precision`;
/// - a weight width the array does not compute at, padded up to the next supported one when
///   the target allows it (`macro.pad_unsupported_weights`), else kept, for the layer to be
///   refused naming it (`cimopt_ir::analysis::precision_errors`);
/// - an integer output wider than the accumulators (the int32 result of `ConvInteger` and
///   `MatMulInteger`, which is the accumulator itself) at the partial-sum width;
/// - inputs as given (bit-serial: narrower ones take fewer cycles; wider ones are refused).
pub fn run_bits(t: &Target, bits: Bits, source: PrecisionSource) -> Bits {
    let own = &t.macro_.precision;
    match source {
        PrecisionSource::Target => Bits {
            input: Some(own.input),
            weight: Some(own.weight),
            output: Some(own.output),
        },
        PrecisionSource::Model => Bits {
            input: Some(bits.input.unwrap_or(own.input)),
            weight: Some(
                bits.weight
                    .map_or(own.weight, |b| t.weight_bits_run(b).unwrap_or(b)),
            ),
            output: Some(bits.output.map_or(own.output, |b| b.min(own.psum))),
        },
    }
}

/// What a compile says about the widths it changed, one line per kind of change.
pub fn notes(model: &Model, resolved: &Model) -> Vec<String> {
    let mut padded: Vec<String> = Vec::new();
    let mut capped: Vec<String> = Vec::new();
    let mut padded_to = (0, 0);
    let mut capped_to = (0, 0);
    for (a, b) in model.layers.iter().zip(&resolved.layers) {
        let (was, now) = (a.workload.bits, b.workload.bits);
        let name = || format!("`{}`", cimopt_ir::display_name(&a.name));
        if let (Some(w), Some(n)) = (was.weight, now.weight)
            && n > w
        {
            padded.push(name());
            padded_to = (w, n);
        }
        if let (Some(o), Some(n)) = (was.output, now.output)
            && n < o
        {
            capped.push(name());
            capped_to = (o, n);
        }
    }
    let some = |names: &[String]| match names {
        [one] => format!("layer {one}"),
        [first, rest @ ..] => format!("{} layers ({first} and {} more)", names.len(), rest.len()),
        [] => String::new(),
    };
    let mut out = Vec::new();
    if !padded.is_empty() {
        out.push(format!(
            "{}: weights the array does not compute at (e.g. {} bits) run padded to {} bits (macro.pad_unsupported_weights)",
            some(&padded),
            padded_to.0,
            padded_to.1
        ));
    }
    if !capped.is_empty() {
        out.push(format!(
            "{}: {}-bit integer outputs (the accumulators of ConvInteger / MatMulInteger) are written at the macro's {}-bit partial-sum precision",
            some(&capped),
            capped_to.0,
            capped_to.1
        ));
    }
    out
}

/// `model` with every layer's bit widths made what it runs at ([`run_bits`]) and its dedup
/// groups recomputed for them: layers the model gives different widths may run alike (a float
/// layer and an int8 one on an 8-bit target), and layers alike in shape may not.
pub fn resolve(model: &Model, t: &Target, source: PrecisionSource) -> Model {
    let mut out = model.clone();
    for layer in &mut out.layers {
        layer.workload.bits = run_bits(t, layer.workload.bits, source);
    }
    for i in 0..out.layers.len() {
        let first = out.layers[..i]
            .iter()
            .position(|l| l.workload == out.layers[i].workload)
            .unwrap_or(i);
        out.layers[i].dedup_group = first;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(i: Option<u64>, w: Option<u64>, o: Option<u64>) -> Bits {
        Bits {
            input: i,
            weight: w,
            output: o,
        }
    }

    #[test]
    fn float_operands_take_the_target_and_widths_become_what_runs() {
        let t = cimopt_target::load("default", &[]).unwrap().target;
        let m = PrecisionSource::Model;
        let all8 = bits(Some(8), Some(8), Some(8));
        assert_eq!(run_bits(&t, Bits::FLOAT, m), all8);
        assert_eq!(run_bits(&t, all8, m), all8);
        assert_eq!(
            run_bits(&t, bits(None, Some(4), None), m),
            bits(Some(8), Some(4), Some(8))
        );
        // ConvInteger's int32 is the accumulator: written at the 16-bit partial sums.
        assert_eq!(
            run_bits(&t, bits(Some(8), Some(8), Some(32)), m),
            bits(Some(8), Some(8), Some(16))
        );
        // 3-bit weights are not supported and, without padding, stay 3 to be refused.
        assert_eq!(run_bits(&t, bits(None, Some(3), None), m).weight, Some(3));
        let padded =
            cimopt_target::with_overrides(&t, &["macro.pad_unsupported_weights=true".into()])
                .unwrap();
        assert_eq!(
            run_bits(&padded, bits(None, Some(3), None), m).weight,
            Some(4)
        );
        // --precision target: the target's, whatever the model says.
        assert_eq!(
            run_bits(
                &t,
                bits(Some(4), Some(4), Some(32)),
                PrecisionSource::Target
            ),
            all8
        );
        assert_eq!("target".parse(), Ok(PrecisionSource::Target));
        assert!("fp8".parse::<PrecisionSource>().is_err());
    }
}
