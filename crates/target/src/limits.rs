//! The largest values a target may give. Real accelerators are far inside them; larger values
//! come only from mistakes or hostile input, and refusing them keeps every size, bit count and
//! cycle count the later stages compute inside 64-bit arithmetic (with the IR's workload
//! limits, `cimopt_ir::workload::MAX_MACS`).

/// Cores, macro rows, macro columns: each at most 2^16.
pub const MAX_AXIS_SIZE: u64 = 1 << 16;
/// Bits of an input, weight, partial sum or output: at most 64.
pub const MAX_PRECISION_BITS: u64 = 64;
/// Weights stored per macro cell: at most 2^16.
pub const MAX_COMPARTMENT_DEPTH: u64 = 1 << 16;
/// A level's capacity: at most 2^62 bits (512 PiB).
pub const MAX_CAPACITY_BITS: u64 = 1 << 62;
/// A level's read or write bandwidth: at most 2^32 bits per cycle.
pub const MAX_BANDWIDTH: u64 = 1 << 32;
/// Memory levels: at most 32.
pub const MAX_LEVELS: usize = 32;
/// An energy, in its key's unit (pJ per bit, nJ per cycle or per activation): at most 10^9, so
/// that energies summed over every bit and cycle of a layer stay finite.
pub const MAX_ENERGY: f64 = 1e9;
/// Vector-unit lanes per core: at most 2^16.
pub const MAX_VECTOR_LANES: u64 = 1 << 16;
