//! A mapping: the schedule of one layer on one target (domain §3).

use cimopt_target::{Axis, Dim, Operand};

/// `factor` iterations of `dim` unrolled on spatial axis `axis`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpatialFactor {
    pub axis: Axis,
    pub dim: Dim,
    pub factor: u64,
}

/// One temporal loop, and for each operand the memory level it sits at for that operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TemporalLoop {
    pub dim: Dim,
    pub factor: u64,
    /// Level index per operand, by [`Operand::index`].
    pub level: [usize; 3],
}

impl TemporalLoop {
    pub fn level_of(&self, o: Operand) -> usize {
        self.level[o.index()]
    }
}

/// The mapping of one layer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mapping {
    pub spatial: Vec<SpatialFactor>,
    /// Outer to inner.
    pub temporal: Vec<TemporalLoop>,
    /// `(level, operand)` pairs that are double-buffered, sorted.
    pub double_buffer: Vec<(usize, Operand)>,
    /// The extent each dimension is executed to, by [`Dim::index`]: the workload's extent, or
    /// more when the mapping pads (e.g. 7 iterations of 16 columns cover K = 100 as 112).
    pub padded_dims: [u64; 8],
    /// The level each operand's whole tensor lives in during the layer, by [`Operand::index`]:
    /// 0 (DRAM) unless the model's memory plan keeps it on chip (an activation another layer
    /// produced there, or an output a later layer reads from there). The operand's loops sit
    /// at this level or deeper; levels above it hold nothing of it.
    pub home: [usize; 3],
}

impl Mapping {
    /// The level operand `o`'s tensor lives in (see [`Mapping::home`]).
    pub fn home_of(&self, o: Operand) -> usize {
        self.home[o.index()]
    }

    pub fn is_double_buffered(&self, level: usize, o: Operand) -> bool {
        self.double_buffer.contains(&(level, o))
    }

    /// Product of the spatial and temporal factors of `d`.
    pub fn coverage(&self, d: Dim) -> u64 {
        let s: u64 = self
            .spatial
            .iter()
            .filter(|f| f.dim == d)
            .map(|f| f.factor)
            .product();
        let t: u64 = self
            .temporal
            .iter()
            .filter(|l| l.dim == d)
            .map(|l| l.factor)
            .product();
        s * t
    }

    /// The unrolling on one axis: the product of its spatial factors.
    pub fn unrolling_on(&self, axis: Axis) -> u64 {
        self.spatial
            .iter()
            .filter(|f| f.axis == axis)
            .map(|f| f.factor)
            .product()
    }

    /// Number of macro activations (the product of all temporal trip counts).
    pub fn activations(&self) -> u64 {
        self.temporal.iter().map(|l| l.factor).product()
    }

    /// The same loop nest with the operands' tensors at `home`: every loop that kept an operand
    /// above its new home keeps it at the home instead, and double buffers above a home go.
    /// What a mapping of a layer with its tensors in DRAM becomes when the memory plan keeps
    /// some on chip; it may not be valid (`crate::check`), e.g. when the home cannot also hold
    /// the tiles the loops kept above it.
    pub fn rehomed(&self, home: [usize; 3]) -> Mapping {
        let mut m = self.clone();
        m.home = home;
        for l in &mut m.temporal {
            for (level, h) in l.level.iter_mut().zip(home) {
                *level = (*level).max(h);
            }
        }
        m.double_buffer.retain(|&(lv, o)| lv >= home[o.index()]);
        m
    }

    /// Sorts the double-buffer list so equal mappings compare equal.
    pub fn normalise(&mut self) {
        self.double_buffer.sort();
        self.double_buffer.dedup();
    }
}
