//! The JSON shape of a schedule: serde structs whose field names and declaration order are the
//! published contract. One set serves both directions: the writer fills every field (so
//! `Option`s here mean "may be absent on read", not "may be null on write", except where the
//! format says null), the reader takes defaults for what a hand-written document leaves out.

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

#[derive(Serialize, Deserialize)]
pub struct Document {
    pub schema: SchemaId,
    #[serde(default)]
    pub producer: ProducerDto,
    #[serde(default)]
    pub inputs: InputsDto,
    #[serde(default)]
    pub units: Option<UnitsDto>,
    pub layers: Vec<LayerDto>,
    #[serde(default)]
    pub model: Option<ModelDto>,
    /// 1.1.0; absent in 1.0.0 documents and in schedules built without a plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_plan: Option<PlanDto>,
}

#[derive(Serialize, Deserialize)]
pub struct PlanDto {
    pub units: String,
    pub residency: String,
    pub steps: Vec<StepDto>,
    pub tensors: Vec<TensorDto>,
    pub buffers: Vec<BufferDto>,
    pub layers: Vec<IoDto>,
    #[serde(default)]
    pub baseline: Option<BaselineDto>,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
pub enum StepDto {
    Layer { layer: u64 },
    Op { op: String, name: String },
}

#[derive(Serialize, Deserialize)]
pub struct TensorDto {
    pub id: u64,
    pub name: String,
    pub aliases: Vec<String>,
    pub kind: String,
    pub bits: u64,
    pub home: String,
    pub offset: u64,
    pub live: [u64; 2],
}

#[derive(Serialize, Deserialize)]
pub struct BufferDto {
    pub layer: u64,
    pub level: String,
    pub operand: String,
    pub instances: u64,
    pub offset: u64,
    pub bits: u64,
    pub halves: u64,
}

#[derive(Serialize, Deserialize)]
pub struct IoDto {
    pub layer: u64,
    pub input: u64,
    pub weight: u64,
    pub output: u64,
}

#[derive(Serialize, Deserialize)]
pub struct BaselineDto {
    pub latency_cycles: f64,
    pub energy_nj: f64,
    pub dram_bits: f64,
}

#[derive(Serialize, Deserialize)]
pub struct SchemaId {
    pub name: String,
    pub version: String,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ProducerDto {
    pub tool: String,
    pub version: String,
    pub mapper: String,
    pub objective: String,
    pub solver: Option<String>,
    pub solver_options: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct InputsDto {
    #[serde(default)]
    pub model: ModelFileDto,
    #[serde(default)]
    pub target: Option<TargetRefDto>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ModelFileDto {
    pub file: String,
    pub sha256: String,
}

#[derive(Serialize, Deserialize)]
pub struct TargetRefDto {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    /// A `TargetFile`, deserialised only when no override is given.
    #[serde(default)]
    pub spec: Option<Value>,
}

#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct UnitsDto {
    pub latency: String,
    pub energy: String,
    pub capacity: String,
    pub edp: String,
}

impl Default for UnitsDto {
    fn default() -> Self {
        UnitsDto {
            latency: "cycles".into(),
            energy: "nJ".into(),
            capacity: "bit".into(),
            edp: "cycle·nJ".into(),
        }
    }
}

#[derive(Serialize, Deserialize)]
pub struct LayerDto {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub onnx_nodes: Vec<String>,
    pub op: String,
    #[serde(default)]
    pub weight_kind: Option<String>,
    #[serde(default)]
    pub same_as: Option<u64>,
    #[serde(default)]
    pub has_bias: bool,
    pub dims: DimsDto,
    #[serde(default)]
    pub padded_dims: Option<OrderedMap<u64>>,
    /// 1.2.0: the widths the layer runs at. Absent (1.0.0, 1.1.0): the target's
    /// `macro.precision`.
    #[serde(default)]
    pub precision: Option<PrecisionDto>,
    pub mapping: MappingDto,
    #[serde(default)]
    pub psum_levels: WriteOnly<Vec<String>>,
    #[serde(default)]
    pub resident_bits: WriteOnly<OrderedMap<PerOperand<u64>>>,
    #[serde(default)]
    pub predicted: Option<MetricsDto>,
    #[serde(default)]
    pub simulated: Option<MetricsDto>,
    #[serde(default)]
    pub solve: Option<SolveDto>,
}

#[derive(Serialize, Deserialize)]
pub struct PrecisionDto {
    pub input_bits: u64,
    pub weight_bits: u64,
    pub output_bits: u64,
}

#[derive(Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct DimsDto {
    pub R: u64,
    pub S: u64,
    pub P: u64,
    pub Q: u64,
    pub C: u64,
    pub K: u64,
    #[serde(default = "one")]
    pub G: u64,
    #[serde(default = "one")]
    pub B: u64,
    /// Absent: the unpadded input extent that yields `P` outputs.
    #[serde(default)]
    pub H: Option<u64>,
    #[serde(default)]
    pub W: Option<u64>,
    #[serde(default = "ones2")]
    pub stride: [u64; 2],
    #[serde(default)]
    pub pad: [u64; 4],
    #[serde(default = "ones2")]
    pub dilation: [u64; 2],
}

fn one() -> u64 {
    1
}

fn ones2() -> [u64; 2] {
    [1, 1]
}

#[derive(Serialize, Deserialize)]
pub struct MappingDto {
    #[serde(default)]
    pub spatial: Vec<SpatialDto>,
    pub temporal: Vec<TemporalDto>,
    #[serde(default)]
    pub double_buffer: Vec<DoubleBufferDto>,
    /// Absent: every tensor in the outermost level (1.0.0 documents).
    #[serde(default)]
    pub home: Option<PerOperand<String>>,
}

#[derive(Serialize, Deserialize)]
pub struct SpatialDto {
    pub axis: String,
    pub dim: String,
    pub factor: u64,
}

#[derive(Serialize, Deserialize)]
pub struct TemporalDto {
    pub dim: String,
    pub factor: u64,
    pub level: PerOperand<String>,
}

#[derive(Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct PerOperand<T> {
    pub I: T,
    pub W: T,
    pub O: T,
}

#[derive(Serialize, Deserialize)]
pub struct DoubleBufferDto {
    pub level: String,
    pub operand: String,
}

#[derive(Serialize, Deserialize)]
pub struct MetricsDto {
    pub latency_cycles: f64,
    pub energy_nj: f64,
    /// Absent: latency × energy.
    #[serde(default)]
    pub edp: Option<f64>,
    #[serde(default)]
    pub breakdown: BTreeMap<String, f64>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SolveDto {
    pub mapper: Option<String>,
    pub status: Option<String>,
    pub objective: Option<f64>,
    pub best_bound: Option<f64>,
    pub gap: Option<f64>,
    /// 1.3.0; absent before.
    pub space_bound: Option<f64>,
    pub space_gap: Option<f64>,
    pub wall_s: Option<f64>,
    pub candidates: Option<CandidatesDto>,
    pub warm_start: Option<bool>,
    pub cache_hit: Option<bool>,
    pub stop_reasons: Vec<String>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub struct CandidatesDto {
    pub enumerated: u64,
    pub pruned_by_bound: u64,
    pub solved: u64,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ModelDto {
    pub latency_cycles: Option<f64>,
    pub energy_nj: Option<f64>,
    pub edp: Option<f64>,
    pub lower_bound_cycles: Option<f64>,
    pub simulated_latency_cycles: Option<f64>,
    pub simulated_energy_nj: Option<f64>,
    pub skipped_nodes: Vec<SkippedDto>,
    pub non_cim_ops: Vec<NonCimDto>,
}

#[derive(Serialize, Deserialize)]
pub struct SkippedDto {
    pub name: String,
    #[serde(default)]
    pub op: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub macs: Option<u64>,
}

#[derive(Serialize, Deserialize)]
pub struct NonCimDto {
    pub name: String,
    #[serde(default)]
    pub op: String,
    #[serde(default)]
    pub output_elements: u64,
}

/// A JSON object with keys in a chosen order (level order, dim order), independent of
/// serde_json's `preserve_order` feature. Reading keeps document order and duplicates.
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V_<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V_<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, V>()? {
                    out.push((k, v));
                }
                Ok(OrderedMap(out))
            }
        }
        d.deserialize_map(V_(PhantomData))
    }
}

/// A derived field: written when present, skipped over (whatever it holds) on read.
pub struct WriteOnly<T>(pub Option<T>);

impl<T> Default for WriteOnly<T> {
    fn default() -> Self {
        WriteOnly(None)
    }
}

impl<T: Serialize> Serialize for WriteOnly<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(v) => v.serialize(s),
            None => s.serialize_none(),
        }
    }
}

impl<'de, T> Deserialize<'de> for WriteOnly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d)?;
        Ok(WriteOnly(None))
    }
}
