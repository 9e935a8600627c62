//! Proves a memory plan with data: moves real integers exactly as a schedule and its plan say
//! and compares every output element with a direct convolution or matrix product on the same
//! data (docs/memory-plan.md, "Proving a plan").
//!
//! ```text
//! random inputs and weights of each layer's widths ─▶ their homes, at the plan's offsets
//! each step of the plan, in order:
//!   a layer ─▶ its loop nest, tile by tile: a tile's elements copied from the level above
//!              into this level's buffer at the plan's offset (the other half on the next load
//!              when double-buffered); partial sums fetched, accumulated at the innermost
//!              output level, written back on the way out
//!            ─▶ its output, read from its home, against the direct computation
//!   ReLU, Add, views ─▶ applied to their tensors where the plan keeps them
//! ```
//!
//! Memory is bit-addressed, one address space per level instance (DRAM and the global buffer
//! one each; a per-core level one per instance the plan counts, numbered by the spatial factors
//! that split it), and each element is stored at the width its level keeps it at (partial sums
//! wider) in two's complement. Arithmetic wraps at those widths, and the reference wraps the
//! same way. Nothing here is shared with the cost model or the simulator. A plan whose buffers
//! overlap, whose offsets point into another live tensor, or whose buffers are too small for
//! the tiles the mapping moves gives wrong outputs or an error naming the layer, level and
//! operand.
//!
//! Within a dim, a mapping's loops and spatial factors are the digits of the index, outer
//! levels the high ones, a spatial factor just above the loops at or below the level it fans
//! out from: every level's input tile is then one contiguous window, as `cimopt_ir` sizes it.

use cimopt_ir::analysis::{
    executed_workload, layer_precision, precision_at, psum_levels, used_levels,
};
use cimopt_ir::{Layer, Mapping, OpKind, Workload};
use cimopt_onnx::flow::{Flow, FlowNodeKind};
use cimopt_schedule::plan::{MemoryPlan, PlanStep, TensorKind};
use cimopt_target::{Dim, Operand, Precision, Replication, Target};
use std::collections::{BTreeMap, HashMap};

/// Why a plan is not proven.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ExecError {
    /// The data came out wrong.
    #[error(
        "layer {layer} `{name}`: {wrong} of {total} output elements differ from the direct computation (first at element {first}: {got}, expected {expected})"
    )]
    Mismatch {
        layer: usize,
        name: String,
        wrong: u64,
        total: u64,
        first: u64,
        got: i64,
        expected: i64,
    },
    /// The plan or the mapping cannot be executed as written.
    #[error("layer {layer} `{name}`: {what}")]
    Layer {
        layer: usize,
        name: String,
        what: String,
    },
    #[error("{0}")]
    Plan(String),
}

/// What was proven.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Proof {
    /// Layers executed and checked element by element.
    pub layers: usize,
    /// Of those, layers whose input was another layer's output, as the plan passed it on.
    pub chained: usize,
    /// Output elements compared.
    pub outputs: u64,
    /// MACs executed.
    pub macs: u64,
    /// Non-CIM operators applied to the data (ReLU, Add, views).
    pub ops: usize,
    /// Operators not executed, by type: the layers after them read fresh random data.
    pub not_executed: BTreeMap<String, usize>,
}

/// Bit-addressed storage: per (level, instance), pages of 64-bit words made on first use
/// (bits never written read as 0).
#[derive(Default)]
pub struct Memory {
    pages: HashMap<(usize, u64, u64), Box<[u64; PAGE]>>,
}

const PAGE: usize = 1024;

impl Memory {
    fn word(&self, lv: usize, inst: u64, w: u64) -> u64 {
        self.pages
            .get(&(lv, inst, w / PAGE as u64))
            .map_or(0, |p| p[(w % PAGE as u64) as usize])
    }

    fn word_mut(&mut self, lv: usize, inst: u64, w: u64) -> &mut u64 {
        &mut self
            .pages
            .entry((lv, inst, w / PAGE as u64))
            .or_insert_with(|| Box::new([0; PAGE]))[(w % PAGE as u64) as usize]
    }

    /// The `bits`-wide (1..=64) two's-complement value at bit `at` of `(lv, inst)`.
    pub fn read(&self, lv: usize, inst: u64, at: u64, bits: u64) -> i64 {
        let (w, off) = (at / 64, at % 64);
        let mut raw = self.word(lv, inst, w) >> off;
        if off + bits > 64 {
            raw |= self.word(lv, inst, w + 1) << (64 - off);
        }
        wrap(raw as i64, bits)
    }

    /// Stores the low `bits` bits (1..=64) of `v` at bit `at` of `(lv, inst)`.
    pub fn write(&mut self, lv: usize, inst: u64, at: u64, bits: u64, v: i64) {
        let mask = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let v = v as u64 & mask;
        let (w, off) = (at / 64, at % 64);
        let word = self.word_mut(lv, inst, w);
        *word = (*word & !(mask << off)) | (v << off);
        if off + bits > 64 {
            let spill = off + bits - 64;
            let word = self.word_mut(lv, inst, w + 1);
            let m2 = (1u64 << spill) - 1;
            *word = (*word & !m2) | (v >> (64 - off));
        }
    }
}

/// Deterministic random int8 values.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Lcg(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// A value in `[-128, 127]`.
    pub fn int8(&mut self) -> i64 {
        self.int(8)
    }

    /// A value of `bits`-bit two's complement, `[-2^(bits−1), 2^(bits−1) − 1]` (at most the
    /// int8 range: wider operands get int8 values, which they hold exactly).
    pub fn int(&mut self, bits: u64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let span = 1u64 << bits.clamp(1, 8);
        ((self.0 >> 33) % span) as i64 - (span / 2) as i64
    }
}

/// `v` in `bits`-bit two's complement.
fn wrap(v: i64, bits: u64) -> i64 {
    if bits >= 64 {
        return v;
    }
    let shift = 64 - bits;
    (v << shift) >> shift
}

/// An operand's coordinate: I `[b, g, c, h, w]`, W `[g, k, c, r, s]`, O `[b, g, k, p, q]`.
type Coord = [u64; 5];

/// The dense layout of an operand's tensor over given extents. Conv tensors are NCHW (a conv's
/// output `[B][G·K][P][Q]` is the next conv's input `[B][G·C][H][W]`); a matrix product's are
/// row-major as ONNX holds them (input `[B][G][P][C]`, weight `[G][C][K]`, output
/// `[B][G][P][K]`).
#[derive(Clone, Copy)]
struct Layout {
    e: [u64; 8],
    h: u64,
    w: u64,
    matmul: bool,
}

impl Layout {
    fn new(w: &Workload) -> Self {
        Layout {
            e: w.extents(),
            h: w.h,
            w: w.w,
            matmul: matches!(w.op, OpKind::Gemm | OpKind::MatMul),
        }
    }

    fn x(&self, d: Dim) -> u64 {
        self.e[d.index()]
    }

    /// Whether the coordinate is inside these extents.
    fn contains(&self, o: Operand, c: &Coord) -> bool {
        let (b, g, cc, k) = (
            self.x(Dim::B),
            self.x(Dim::G),
            self.x(Dim::C),
            self.x(Dim::K),
        );
        let lim = match o {
            Operand::I => [b, g, cc, self.h, self.w],
            Operand::W => [g, k, cc, self.x(Dim::R), self.x(Dim::S)],
            Operand::O => [b, g, k, self.x(Dim::P), self.x(Dim::Q)],
        };
        c.iter().zip(lim).all(|(v, l)| *v < l)
    }

    fn size(&self, o: Operand) -> u64 {
        let (b, g, c, k) = (
            self.x(Dim::B),
            self.x(Dim::G),
            self.x(Dim::C),
            self.x(Dim::K),
        );
        match o {
            Operand::I => b * g * c * self.h * self.w,
            Operand::W => g * k * c * self.x(Dim::R) * self.x(Dim::S),
            Operand::O => b * g * k * self.x(Dim::P) * self.x(Dim::Q),
        }
    }

    fn index(&self, o: Operand, x: &Coord) -> u64 {
        let (g, c, k) = (self.x(Dim::G), self.x(Dim::C), self.x(Dim::K));
        let (p, q, r, s) = (
            self.x(Dim::P),
            self.x(Dim::Q),
            self.x(Dim::R),
            self.x(Dim::S),
        );
        match (o, self.matmul) {
            (Operand::I, false) => (((x[0] * g + x[1]) * c + x[2]) * self.h + x[3]) * self.w + x[4],
            (Operand::I, true) => ((x[0] * g + x[1]) * self.h + x[3]) * c + x[2],
            (Operand::W, false) => (((x[0] * k + x[1]) * c + x[2]) * r + x[3]) * s + x[4],
            (Operand::W, true) => (x[0] * c + x[2]) * k + x[1],
            (Operand::O, false) => (((x[0] * g + x[1]) * k + x[2]) * p + x[3]) * q + x[4],
            (Operand::O, true) => ((x[0] * g + x[1]) * p + x[3]) * k + x[2],
        }
    }
}

/// The coordinate of operand `o` at dim indices `d`; `None` for an input element in the
/// padding or past the input.
fn coord(w: &Workload, o: Operand, d: &[u64; 8]) -> Option<Coord> {
    let v = |x: Dim| d[x.index()];
    match o {
        Operand::I => {
            let h = (v(Dim::P) * w.stride[0] + v(Dim::R) * w.dilation[0]).checked_sub(w.pad[0])?;
            let x = (v(Dim::Q) * w.stride[1] + v(Dim::S) * w.dilation[1]).checked_sub(w.pad[1])?;
            (h < w.h && x < w.w).then_some([v(Dim::B), v(Dim::G), v(Dim::C), h, x])
        }
        Operand::W => Some([v(Dim::G), v(Dim::K), v(Dim::C), v(Dim::R), v(Dim::S)]),
        Operand::O => Some([v(Dim::B), v(Dim::G), v(Dim::K), v(Dim::P), v(Dim::Q)]),
    }
}

/// What one (operand, level, instance) buffer holds.
struct Tile {
    /// The temporal digits of the operand's loops above the level it was loaded for.
    id: Vec<u64>,
    /// The spatial digits that chose this instance (the others 0).
    spatial: Vec<u64>,
    /// Element (its index over the executed extents) → slot in the buffer.
    slots: HashMap<u64, u64>,
    /// Where its half starts, bits.
    base: u64,
}

/// One layer being executed.
struct Run<'a> {
    t: &'a Target,
    layer: &'a Layer,
    m: &'a Mapping,
    /// The workload as executed (padded extents) and the tensors' real layout.
    w: Workload,
    exec: Layout,
    real: Layout,
    /// The precisions the layer runs at.
    precision: Precision,
    psum: Vec<bool>,
    /// Weight of one step of each temporal loop and spatial factor in its dim's index.
    t_weight: Vec<u64>,
    s_weight: Vec<u64>,
    /// Per operand: its home, then the levels below it that hold a tile, outer to inner.
    chain: [Vec<usize>; 3],
    /// (level, operand) → (offset, bits per instance for all halves, halves).
    buffers: HashMap<(usize, usize), (u64, u64, u64)>,
    /// Per operand: the offset of its tensor at its home.
    home_offset: [u64; 3],
    tiles: HashMap<(usize, usize, u64), Tile>,
    loads: HashMap<(usize, usize, u64), u64>,
}

impl Run<'_> {
    fn fail(&self, what: String) -> ExecError {
        ExecError::Layer {
            layer: self.layer.index,
            name: self.layer.name.clone(),
            what,
        }
    }

    fn prec(&self, lv: usize, o: Operand) -> u64 {
        precision_at(self.t, &self.precision, &self.psum, lv, o)
    }

    fn home(&self, o: Operand) -> usize {
        self.chain[o.index()][0]
    }

    fn parent(&self, o: Operand, lv: usize) -> usize {
        let c = &self.chain[o.index()];
        let at = c.iter().position(|&l| l == lv).unwrap_or(0);
        c[at.saturating_sub(1)]
    }

    /// The instance of `lv` spatial digits `s` use for `o`, and the digits that choose it.
    fn instance(&self, o: Operand, lv: usize, s: &[u64]) -> (u64, Vec<u64>) {
        let mut inst = 0;
        let mut kept = vec![0; s.len()];
        if self.t.levels[lv].replication == Replication::Shared {
            return (0, kept);
        }
        for (i, f) in self.m.spatial.iter().enumerate() {
            if self.t.axis(f.axis).source[o.index()] < lv {
                inst = inst * f.factor + s[i];
                kept[i] = s[i];
            }
        }
        (inst, kept)
    }

    /// A tile's identity at `lv`: the digits of `o`'s relevant loops above it.
    fn id(&self, o: Operand, lv: usize, tv: &[u64]) -> Vec<u64> {
        self.m
            .temporal
            .iter()
            .zip(tv)
            .filter(|(l, _)| l.level_of(o) < lv && l.dim.relevant_to(o))
            .map(|(_, &v)| v)
            .collect()
    }

    /// The elements of `o`'s tile at `lv` (indices over the executed extents, sorted, with
    /// their coordinates).
    fn elements(&self, o: Operand, lv: usize, tv: &[u64], s: &[u64]) -> Vec<(u64, Coord)> {
        let mut base = [0u64; 8];
        let mut free: Vec<(usize, u64, u64)> = Vec::new();
        for (i, l) in self.m.temporal.iter().enumerate() {
            if !l.dim.relevant_to(o) {
                continue;
            }
            if l.level_of(o) >= lv {
                free.push((l.dim.index(), self.t_weight[i], l.factor));
            } else {
                base[l.dim.index()] += tv[i] * self.t_weight[i];
            }
        }
        for (i, f) in self.m.spatial.iter().enumerate() {
            if !f.dim.relevant_to(o) {
                continue;
            }
            if self.t.axis(f.axis).source[o.index()] >= lv {
                free.push((f.dim.index(), self.s_weight[i], f.factor));
            } else {
                base[f.dim.index()] += s[i] * self.s_weight[i];
            }
        }
        let mut out: Vec<(u64, Coord)> = Vec::new();
        let mut at = vec![0u64; free.len()];
        loop {
            let mut d = base;
            for (k, &(dim, weight, _)) in free.iter().enumerate() {
                d[dim] += at[k] * weight;
            }
            if let Some(c) = coord(&self.w, o, &d) {
                out.push((self.exec.index(o, &c), c));
            }
            let mut k = free.len();
            loop {
                if k == 0 {
                    out.sort_unstable_by_key(|e| e.0);
                    out.dedup_by_key(|e| e.0);
                    return out;
                }
                k -= 1;
                at[k] += 1;
                if at[k] < free[k].2 {
                    break;
                }
                at[k] = 0;
            }
        }
    }

    /// Reads element `key` (coordinate `c`) of `o` at `lv`; at the home, an element past the
    /// real tensor reads 0.
    fn get(
        &self,
        mem: &Memory,
        o: Operand,
        lv: usize,
        s: &[u64],
        key: u64,
        c: &Coord,
    ) -> Result<i64, ExecError> {
        let bits = self.prec(lv, o);
        if lv == self.home(o) {
            if !self.real.contains(o, c) {
                return Ok(0);
            }
            let at = self.home_offset[o.index()] + self.real.index(o, c) * bits;
            return Ok(mem.read(lv, 0, at, bits));
        }
        let (inst, at) = self.slot(o, lv, s, key)?;
        Ok(mem.read(lv, inst, at, bits))
    }

    /// Writes element `key` of `o` at `lv`; at the home, an element past the real tensor (a
    /// padded dim's) is dropped.
    #[allow(clippy::too_many_arguments)]
    fn put(
        &self,
        mem: &mut Memory,
        o: Operand,
        lv: usize,
        s: &[u64],
        key: u64,
        c: &Coord,
        v: i64,
    ) -> Result<(), ExecError> {
        let bits = self.prec(lv, o);
        if lv == self.home(o) {
            if self.real.contains(o, c) {
                let at = self.home_offset[o.index()] + self.real.index(o, c) * bits;
                mem.write(lv, 0, at, bits, v);
            }
            return Ok(());
        }
        let (inst, at) = self.slot(o, lv, s, key)?;
        mem.write(lv, inst, at, bits, v);
        Ok(())
    }

    fn slot(&self, o: Operand, lv: usize, s: &[u64], key: u64) -> Result<(u64, u64), ExecError> {
        let (inst, _) = self.instance(o, lv, s);
        let name = &self.t.levels[lv].name;
        let tile = self
            .tiles
            .get(&(o.index(), lv, inst))
            .ok_or_else(|| self.fail(format!("{o} is used at `{name}` where no tile is loaded")))?;
        let k = tile.slots.get(&key).ok_or_else(|| {
            self.fail(format!(
                "an element of {o} is used at `{name}` but is not in its tile"
            ))
        })?;
        Ok((inst, tile.base + k * self.prec(lv, o)))
    }

    /// Writes the output tile at `(lv, inst)` back to the level above and forgets it.
    fn write_back(&mut self, mem: &mut Memory, lv: usize, inst: u64) -> Result<(), ExecError> {
        let o = Operand::O;
        let Some(tile) = self.tiles.remove(&(o.index(), lv, inst)) else {
            return Ok(());
        };
        let parent = self.parent(o, lv);
        let bits = self.prec(lv, o);
        let mut slots: Vec<(u64, u64)> = tile.slots.iter().map(|(&k, &v)| (k, v)).collect();
        slots.sort_unstable();
        let coords = self.coords_of(o, &slots);
        for ((key, k), c) in slots.into_iter().zip(coords) {
            let v = mem.read(lv, inst, tile.base + k * bits, bits);
            let up = self.prec(parent, o);
            self.put(mem, o, parent, &tile.spatial, key, &c, wrap(v, up))?;
        }
        Ok(())
    }

    /// The coordinates of output elements by their index over the executed extents.
    fn coords_of(&self, o: Operand, slots: &[(u64, u64)]) -> Vec<Coord> {
        let e = |d: Dim| self.exec.x(d);
        slots
            .iter()
            .map(|&(key, _)| {
                debug_assert_eq!(o, Operand::O);
                let mut r = key;
                let mut take = |n: u64| {
                    let v = r % n;
                    r /= n;
                    v
                };
                if self.exec.matmul {
                    let k = take(e(Dim::K));
                    let p = take(e(Dim::P));
                    let g = take(e(Dim::G));
                    let b = r;
                    [b, g, k, p, 0]
                } else {
                    let q = take(e(Dim::Q));
                    let p = take(e(Dim::P));
                    let k = take(e(Dim::K));
                    let g = take(e(Dim::G));
                    let b = r;
                    [b, g, k, p, q]
                }
            })
            .collect()
    }

    /// Makes sure `o`'s tile at `lv`, instance `inst` (chosen by spatial digits `kept`), is
    /// the one for temporal digits `tv` (identity `id`).
    #[allow(clippy::too_many_arguments)]
    fn ensure(
        &mut self,
        mem: &mut Memory,
        o: Operand,
        lv: usize,
        tv: &[u64],
        inst: u64,
        kept: &[u64],
        id: &[u64],
    ) -> Result<(), ExecError> {
        if self
            .tiles
            .get(&(o.index(), lv, inst))
            .is_some_and(|t| t.id == id)
        {
            return Ok(());
        }
        let (id, kept) = (id.to_vec(), kept.to_vec());
        let name = self.t.levels[lv].name.clone();
        let &(offset, bits, halves) = self
            .buffers
            .get(&(lv, o.index()))
            .ok_or_else(|| self.fail(format!("the plan has no buffer for {o} in `{name}`")))?;
        let loads = self.loads.entry((o.index(), lv, inst)).or_insert(0);
        let half = bits / halves.max(1);
        let base = offset + (*loads % halves.max(1)) * half;
        *loads += 1;
        let cap = self.t.levels[lv].capacity_bits;
        if base + half > cap {
            return Err(self.fail(format!(
                "its {o} buffer in `{name}` (bits {base}..{}) passes the level's {cap} bit",
                base + half
            )));
        }
        let elements = self.elements(o, lv, tv, &kept);
        let prec = self.prec(lv, o);
        if elements.len() as u64 * prec > half {
            return Err(self.fail(format!(
                "its {o} tile at `{name}` holds {} elements of {prec} bit, more than the {half} bit of its buffer",
                elements.len()
            )));
        }
        let parent = self.parent(o, lv);
        let mut slots = HashMap::with_capacity(elements.len());
        for (k, (key, c)) in elements.iter().enumerate() {
            let v = self.get(mem, o, parent, &kept, *key, c)?;
            mem.write(lv, inst, base + k as u64 * prec, prec, wrap(v, prec));
            slots.insert(*key, k as u64);
        }
        self.tiles.insert(
            (o.index(), lv, inst),
            Tile {
                id,
                spatial: kept,
                slots,
                base,
            },
        );
        Ok(())
    }
}

/// The weight of one step of each temporal loop and spatial factor in its dim's index.
fn digit_weights(t: &Target, m: &Mapping) -> (Vec<u64>, Vec<u64>) {
    let mut tw = vec![0; m.temporal.len()];
    let mut sw = vec![0; m.spatial.len()];
    for d in Dim::ALL {
        // The input's windows must stay contiguous: its levels order the digits of its dims.
        let o = [Operand::I, Operand::O, Operand::W]
            .into_iter()
            .find(|&o| d.relevant_to(o))
            .unwrap_or(Operand::O);
        // (level, spatial after temporal, position, is spatial, index, factor)
        let mut ds: Vec<(usize, u8, usize, bool, u64)> = Vec::new();
        for (i, l) in m.temporal.iter().enumerate().filter(|(_, l)| l.dim == d) {
            ds.push((l.level_of(o), 0, i, false, l.factor));
        }
        for (i, f) in m.spatial.iter().enumerate().filter(|(_, f)| f.dim == d) {
            ds.push((t.axis(f.axis).source[o.index()], 1, i, true, f.factor));
        }
        ds.sort_by_key(|x| (x.0, x.1, x.2));
        let mut weight = 1;
        for &(_, _, i, spatial, factor) in ds.iter().rev() {
            if spatial {
                sw[i] = weight;
            } else {
                tw[i] = weight;
            }
            weight *= factor;
        }
    }
    (tw, sw)
}

/// The direct computation of a layer's output over its real extents, wrapped to `bits`.
fn direct(w: &Workload, input: &[i64], weight: &[i64], bits: u64) -> Vec<i64> {
    let l = Layout::new(w);
    let mut out = vec![0i64; l.size(Operand::O) as usize];
    for b in 0..w.b {
        for g in 0..w.g {
            for k in 0..w.k {
                for p in 0..w.p {
                    for q in 0..w.q {
                        let mut acc: i64 = 0;
                        for c in 0..w.c {
                            for r in 0..w.r {
                                for s in 0..w.s {
                                    let mut d = [0u64; 8];
                                    for (dim, v) in [
                                        (Dim::B, b),
                                        (Dim::G, g),
                                        (Dim::K, k),
                                        (Dim::P, p),
                                        (Dim::Q, q),
                                        (Dim::C, c),
                                        (Dim::R, r),
                                        (Dim::S, s),
                                    ] {
                                        d[dim.index()] = v;
                                    }
                                    let Some(ic) = coord(w, Operand::I, &d) else {
                                        continue;
                                    };
                                    let wc = [g, k, c, r, s];
                                    acc += input[l.index(Operand::I, &ic) as usize]
                                        * weight[l.index(Operand::W, &wc) as usize];
                                }
                            }
                        }
                        out[l.index(Operand::O, &[b, g, k, p, q]) as usize] = wrap(acc, bits);
                    }
                }
            }
        }
    }
    out
}

/// Executes one layer with its tensors at the plan's homes and offsets; returns the MACs done.
fn execute_layer(
    t: &Target,
    layer: &Layer,
    m: &Mapping,
    plan: &MemoryPlan,
    tensor_of: [usize; 3],
    mem: &mut Memory,
) -> Result<u64, ExecError> {
    let w = executed_workload(&layer.workload, m);
    let used = used_levels(t, m);
    let fail = |what: String| ExecError::Layer {
        layer: layer.index,
        name: layer.name.clone(),
        what,
    };
    let mut chain: [Vec<usize>; 3] = Default::default();
    let mut home_offset = [0u64; 3];
    for o in Operand::ALL {
        let tensor = &plan.tensors[tensor_of[o.index()]];
        if tensor.home != m.home_of(o) {
            return Err(fail(format!(
                "its mapping keeps {o} in level #{} but the plan keeps tensor `{}` in level #{}",
                m.home_of(o),
                tensor.name,
                tensor.home
            )));
        }
        home_offset[o.index()] = tensor.offset;
        chain[o.index()].push(tensor.home);
        chain[o.index()]
            .extend((tensor.home + 1..t.num_levels()).filter(|&lv| used[lv][o.index()]));
        for &lv in &chain[o.index()][1..] {
            if t.levels[lv].replication == Replication::Shared
                && m.spatial
                    .iter()
                    .any(|f| t.axis(f.axis).source[o.index()] < lv)
            {
                return Err(fail(format!(
                    "{o} fans out above the shared level `{}`: not executed",
                    t.levels[lv].name
                )));
            }
        }
    }
    let buffers = plan
        .buffers
        .iter()
        .filter(|b| b.layer == layer.index)
        .map(|b| ((b.level, b.operand.index()), (b.offset, b.bits, b.halves)))
        .collect();
    let (t_weight, s_weight) = digit_weights(t, m);
    let mut run = Run {
        t,
        layer,
        m,
        exec: Layout::new(&w),
        real: Layout::new(&layer.workload),
        precision: layer_precision(t, &w),
        w,
        psum: psum_levels(t, m),
        t_weight,
        s_weight,
        chain,
        buffers,
        home_offset,
        tiles: HashMap::new(),
        loads: HashMap::new(),
    };
    // Every combination of spatial digits: the parallel MACs of one activation.
    let mut points: Vec<Vec<u64>> = vec![Vec::new()];
    for f in &m.spatial {
        points = points
            .into_iter()
            .flat_map(|p| {
                (0..f.factor).map(move |v| {
                    let mut q = p.clone();
                    q.push(v);
                    q
                })
            })
            .collect();
    }
    // Per operand and level below its home, outer to inner: its distinct instances.
    type Instances = Vec<(u64, Vec<u64>)>;
    let mut instances: Vec<(Operand, usize, Instances)> = Vec::new();
    for o in Operand::ALL {
        for &lv in &run.chain[o.index()][1..] {
            let mut seen: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
            for s in &points {
                let (inst, kept) = run.instance(o, lv, s);
                seen.entry(inst).or_insert(kept);
            }
            instances.push((o, lv, seen.into_iter().collect()));
        }
    }
    let n = m.temporal.len();
    let mut tv = vec![0u64; n];
    let mut macs = 0u64;
    let inner = |run: &Run, o: Operand| *run.chain[o.index()].last().unwrap_or(&0);
    loop {
        // Outputs leaving a level go up first, innermost first, so that a level holds its
        // inner levels' partial sums before it writes back itself.
        let out_levels: Vec<usize> = run.chain[Operand::O.index()][1..].to_vec();
        for &lv in out_levels.iter().rev() {
            let id = run.id(Operand::O, lv, &tv);
            let stale: Vec<u64> = run
                .tiles
                .iter()
                .filter(|((o, l, _), tile)| *o == Operand::O.index() && *l == lv && tile.id != id)
                .map(|((_, _, inst), _)| *inst)
                .collect();
            let mut stale = stale;
            stale.sort_unstable();
            for inst in stale {
                run.write_back(mem, lv, inst)?;
            }
        }
        for (o, lv, insts) in &instances {
            let id = run.id(*o, *lv, &tv);
            for (inst, kept) in insts {
                run.ensure(mem, *o, *lv, &tv, *inst, kept, &id)?;
            }
        }
        for s in &points {
            let mut d = [0u64; 8];
            for (i, l) in m.temporal.iter().enumerate() {
                d[l.dim.index()] += tv[i] * run.t_weight[i];
            }
            for (i, f) in m.spatial.iter().enumerate() {
                d[f.dim.index()] += s[i] * run.s_weight[i];
            }
            let Some(oc) = coord(&run.w, Operand::O, &d) else {
                continue;
            };
            let wc = coord(&run.w, Operand::W, &d).expect("weights have no padding");
            let x = match coord(&run.w, Operand::I, &d) {
                Some(ic) => run.get(
                    mem,
                    Operand::I,
                    inner(&run, Operand::I),
                    s,
                    run.exec.index(Operand::I, &ic),
                    &ic,
                )?,
                None => 0,
            };
            let y = run.get(
                mem,
                Operand::W,
                inner(&run, Operand::W),
                s,
                run.exec.index(Operand::W, &wc),
                &wc,
            )?;
            let lo = inner(&run, Operand::O);
            let key = run.exec.index(Operand::O, &oc);
            let acc = run.get(mem, Operand::O, lo, s, key, &oc)?;
            run.put(
                mem,
                Operand::O,
                lo,
                s,
                key,
                &oc,
                wrap(acc + x * y, run.prec(lo, Operand::O)),
            )?;
            macs += 1;
        }
        // Next temporal iteration (the innermost loop fastest).
        let mut k = n;
        loop {
            if k == 0 {
                let out_levels: Vec<usize> = run.chain[Operand::O.index()][1..].to_vec();
                for &lv in out_levels.iter().rev() {
                    let mut all: Vec<u64> = run
                        .tiles
                        .keys()
                        .filter(|(o, l, _)| *o == Operand::O.index() && *l == lv)
                        .map(|k| k.2)
                        .collect();
                    all.sort_unstable();
                    for inst in all {
                        run.write_back(mem, lv, inst)?;
                    }
                }
                return Ok(macs);
            }
            k -= 1;
            tv[k] += 1;
            if tv[k] < m.temporal[k].factor {
                break;
            }
            tv[k] = 0;
        }
    }
}

/// The values of a tensor at its home, `elements` of `bits`.
fn read_tensor(mem: &Memory, lv: usize, offset: u64, elements: u64, bits: u64) -> Vec<i64> {
    (0..elements)
        .map(|i| mem.read(lv, 0, offset + i * bits, bits))
        .collect()
}

fn write_tensor(mem: &mut Memory, lv: usize, offset: u64, bits: u64, values: &[i64]) {
    for (i, &v) in values.iter().enumerate() {
        mem.write(lv, 0, offset + i as u64 * bits, bits, v);
    }
}

/// Executes a schedule's plan step by step with random data of each layer's widths (from
/// `seed`) and checks
/// every layer's output. `layers` are the schedule's layers with their mappings, in order;
/// `flow` the model's dataflow (its nodes are the plan's steps); `only` restricts execution to
/// some layers (each on fresh data), for models too large to execute whole.
pub fn prove(
    t: &Target,
    layers: &[(&Layer, &Mapping)],
    plan: &MemoryPlan,
    flow: &Flow,
    seed: u64,
    only: Option<&[usize]>,
) -> Result<Proof, ExecError> {
    if plan.steps.len() != flow.nodes.len() {
        return Err(ExecError::Plan(format!(
            "the plan has {} steps, the model {} nodes",
            plan.steps.len(),
            flow.nodes.len()
        )));
    }
    let by_name: HashMap<&str, usize> = plan
        .tensors
        .iter()
        .flat_map(|x| {
            std::iter::once((x.name.as_str(), x.id))
                .chain(x.aliases.iter().map(move |a| (a.as_str(), x.id)))
        })
        .collect();
    let plan_tensor = |flow_tensor: usize| {
        by_name
            .get(flow.tensors[flow_tensor].name.as_str())
            .copied()
    };
    let mut rng = Lcg::new(seed);
    let mut mem = Memory::default();
    // Reference values of the plan tensors that hold known data, in their layout.
    let mut known: HashMap<usize, Vec<i64>> = HashMap::new();
    // The element width each known tensor was written at: a layer reads its input at its own
    // input width, so data chain only where the widths agree.
    let mut width: HashMap<usize, u64> = HashMap::new();
    let mut proof = Proof::default();
    for (step, node) in flow.nodes.iter().enumerate() {
        match (plan.steps[step].clone(), node.kind) {
            (PlanStep::Layer(id), FlowNodeKind::Layer(_)) => {
                let Some(&(layer, m)) = layers.iter().find(|(l, _)| l.index == id) else {
                    return Err(ExecError::Plan(format!(
                        "step {step} names layer {id}, which the schedule does not have"
                    )));
                };
                if only.is_some_and(|o| !o.contains(&id)) {
                    for &out in &node.outputs {
                        if let Some(p) = plan_tensor(out) {
                            known.remove(&p);
                        }
                    }
                    continue;
                }
                let io = plan
                    .layers
                    .iter()
                    .find(|io| io.layer == id)
                    .ok_or_else(|| {
                        ExecError::Plan(format!("the plan lists no tensors for layer {id}"))
                    })?;
                let lay = Layout::new(&layer.workload);
                let precision = layer_precision(t, &layer.workload);
                let tensor_of = [io.input, io.weight, io.output];
                let mut chained = true;
                let mut vals: [Vec<i64>; 2] = Default::default();
                for o in [Operand::I, Operand::W] {
                    let x = &plan.tensors[tensor_of[o.index()]];
                    let n = lay.size(o);
                    let bits = precision.bits(o, false);
                    let v = match known.get(&x.id) {
                        Some(v) if v.len() as u64 >= n && width.get(&x.id) == Some(&bits) => {
                            v[..n as usize].to_vec()
                        }
                        _ => {
                            if o == Operand::I || x.kind != TensorKind::Weight {
                                chained &= x.kind == TensorKind::Weight;
                            }
                            let v: Vec<i64> = (0..n).map(|_| rng.int(bits)).collect();
                            write_tensor(&mut mem, x.home, x.offset, bits, &v);
                            if x.kind == TensorKind::Weight {
                                known.insert(x.id, v.clone());
                                width.insert(x.id, bits);
                            }
                            v
                        }
                    };
                    vals[o.index()] = v;
                }
                if matches!(plan.tensors[io.input].kind, TensorKind::Input) {
                    chained = false;
                }
                // Partial sums start from zero: the output is cleared where it lives, as a
                // code generator clears its accumulators (its region may hold an earlier
                // tensor whose life has ended).
                let out = &plan.tensors[io.output];
                let zeros = vec![0i64; lay.size(Operand::O) as usize];
                write_tensor(&mut mem, out.home, out.offset, precision.output, &zeros);
                proof.macs += execute_layer(t, layer, m, plan, tensor_of, &mut mem)?;
                let out = &plan.tensors[io.output];
                let bits = precision.output;
                let expected = direct(&layer.workload, &vals[0], &vals[1], bits);
                let got = read_tensor(&mem, out.home, out.offset, expected.len() as u64, bits);
                let wrong: Vec<usize> = (0..expected.len())
                    .filter(|&i| got[i] != expected[i])
                    .collect();
                if let Some(&first) = wrong.first() {
                    return Err(ExecError::Mismatch {
                        layer: layer.index,
                        name: layer.name.clone(),
                        wrong: wrong.len() as u64,
                        total: expected.len() as u64,
                        first: first as u64,
                        got: got[first],
                        expected: expected[first],
                    });
                }
                proof.layers += 1;
                proof.outputs += expected.len() as u64;
                if chained {
                    proof.chained += 1;
                }
                known.insert(out.id, expected);
                width.insert(out.id, bits);
            }
            (PlanStep::Op { op, .. }, _) => {
                let op = &op;
                let ins: Vec<Option<usize>> = node.inputs.iter().map(|&i| plan_tensor(i)).collect();
                let outs: Vec<Option<usize>> =
                    node.outputs.iter().map(|&i| plan_tensor(i)).collect();
                let args: Option<Vec<Vec<i64>>> = ins
                    .iter()
                    .map(|i| i.and_then(|i| known.get(&i).cloned()))
                    .collect();
                // The operands' common width, which the result is written at.
                let widths: Vec<Option<u64>> = ins
                    .iter()
                    .map(|i| i.and_then(|i| width.get(&i).copied()))
                    .collect();
                let act_bits = match widths.as_slice() {
                    [Some(first), rest @ ..] if rest.iter().all(|w| *w == Some(*first)) => {
                        Some(*first)
                    }
                    _ => None,
                };
                let f: Option<fn(&[i64]) -> i64> = match op.as_str() {
                    "Relu" => Some(|a| a[0].max(0)),
                    "Add" => Some(|a| a[0] + a[1]),
                    "Identity" | "Dropout" | "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => {
                        Some(|a| a[0])
                    }
                    _ => None,
                };
                let (Some(f), Some(args), Some(act_bits), [Some(out)]) =
                    (f, args, act_bits, outs.as_slice())
                else {
                    *proof.not_executed.entry(op.clone()).or_default() += 1;
                    for o in outs.into_iter().flatten() {
                        known.remove(&o);
                    }
                    continue;
                };
                let n = args.iter().map(|a| a.len()).min().unwrap_or(0);
                let x = &plan.tensors[*out];
                // Read the operands from memory (where the plan keeps them), apply, write back.
                let from_memory: Vec<Vec<i64>> = ins
                    .iter()
                    .flatten()
                    .map(|&i| {
                        let y = &plan.tensors[i];
                        read_tensor(&mem, y.home, y.offset, n as u64, act_bits)
                    })
                    .collect();
                let result: Vec<i64> = (0..n)
                    .map(|e| {
                        wrap(
                            f(&from_memory.iter().map(|a| a[e]).collect::<Vec<_>>()),
                            act_bits,
                        )
                    })
                    .collect();
                write_tensor(&mut mem, x.home, x.offset, act_bits, &result);
                let reference: Vec<i64> = (0..n)
                    .map(|e| wrap(f(&args.iter().map(|a| a[e]).collect::<Vec<_>>()), act_bits))
                    .collect();
                known.insert(*out, reference);
                width.insert(*out, act_bits);
                proof.ops += 1;
            }
            (PlanStep::Layer(id), _) => {
                return Err(ExecError::Plan(format!(
                    "step {step} is layer {id} in the plan but `{}` in the model",
                    node.op_type
                )));
            }
        }
    }
    Ok(proof)
}
