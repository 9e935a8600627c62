//! The memory plan's part of a report: where the tensors live, how full each on-chip level is
//! over the model's steps, and what the plan saves against every tensor in DRAM (the plan's
//! baseline, `--residency off`). All numbers are the cost model's, like the baseline's, so the
//! comparison is like for like whatever the report's source.

use crate::report::esc;
use cimopt_ir::Mapping;
use cimopt_schedule::Schedule;
use cimopt_schedule::plan::{MemoryPlan, PlanBaseline, PlanStep};
use serde_json::{Value, json};
use std::fmt::Write;

/// One level's use by the plan's tensors (the layers' own buffers come and go within a step).
pub struct LevelUse {
    pub level: usize,
    pub name: String,
    pub capacity_bits: u64,
    pub tensors: usize,
    /// The most bits of tensors live at once, and the step it happens at.
    pub peak_bits: u64,
    pub peak_step: usize,
}

pub struct PlanSummary<'a> {
    pub plan: &'a MemoryPlan,
    /// Bits the layers read from and write to DRAM, cost model.
    pub dram_bits: f64,
    /// Predicted totals of the schedule (cost model), for the comparison with the baseline.
    pub latency_cycles: f64,
    pub energy_nj: f64,
    pub levels: Vec<LevelUse>,
}

impl<'a> PlanSummary<'a> {
    pub fn of(s: &'a Schedule) -> Option<Self> {
        let plan = s.plan.as_ref()?;
        let t = &s.inputs.target;
        let (mut dram_bits, mut latency_cycles, mut energy_nj) = (0.0, 0.0, 0.0);
        // Identical layers (`same_as`) are priced once; a file may pair a `same_as` with a
        // mapping of its own, which is then priced as it is.
        let mut priced: std::collections::BTreeMap<usize, (&Mapping, (f64, f64, f64))> =
            Default::default();
        for l in &s.layers {
            let price = || {
                let c = cimopt_cost::evaluate(t, &l.layer.workload, &l.mapping);
                (
                    c.energy.bits_read[0].iter().sum::<f64>()
                        + c.energy.bits_written[0].iter().sum::<f64>(),
                    c.latency_cycles,
                    c.energy_nj,
                )
            };
            let (bits, latency, energy) = match priced.get(&l.same_as.unwrap_or(l.layer.index)) {
                Some(&(m, p)) if l.same_as.is_some() && *m == l.mapping => p,
                _ => {
                    let p = price();
                    priced.insert(l.layer.index, (&l.mapping, p));
                    p
                }
            };
            dram_bits += bits;
            latency_cycles += latency;
            energy_nj += energy;
        }
        let mut levels = Vec::new();
        for (lv, level) in t.levels.iter().enumerate() {
            let here: Vec<_> = plan.tensors.iter().filter(|x| x.home == lv).collect();
            if here.is_empty() {
                continue;
            }
            let (peak_bits, peak_step) = (0..plan.steps.len().max(1))
                .map(|step| {
                    let live = here
                        .iter()
                        .filter(|x| x.live[0] <= step && step <= x.live[1])
                        .map(|x| x.bits)
                        .sum::<u64>();
                    (live, step)
                })
                .max_by_key(|&(bits, step)| (bits, std::cmp::Reverse(step)))
                .unwrap_or((0, 0));
            levels.push(LevelUse {
                level: lv,
                name: level.name.clone(),
                capacity_bits: level.capacity_bits,
                tensors: here.len(),
                peak_bits,
                peak_step,
            });
        }
        Some(PlanSummary {
            plan,
            dram_bits,
            latency_cycles,
            energy_nj,
            levels,
        })
    }

    fn baseline(&self) -> Option<&PlanBaseline> {
        self.plan.baseline.as_ref()
    }

    fn step_name(&self, s: &Schedule, step: usize) -> String {
        match self.plan.steps.get(step) {
            Some(PlanStep::Layer(id)) => s
                .layers
                .iter()
                .find(|l| l.layer.index == *id)
                .map_or_else(|| format!("layer #{id}"), |l| l.layer.name.clone()),
            Some(PlanStep::Op { name, op }) => format!("{name} ({op})"),
            None => format!("step {step}"),
        }
    }

    pub fn text(&self, s: &Schedule) -> String {
        let mut o = String::new();
        let on_chip = self.plan.tensors.iter().filter(|x| x.home != 0).count();
        let _ = writeln!(
            o,
            "\nmemory plan (residency {}): {} tensors over {} steps, {} on chip",
            if self.plan.residency { "on" } else { "off" },
            self.plan.tensors.len(),
            self.plan.steps.len(),
            on_chip
        );
        for u in &self.levels {
            let _ = writeln!(
                o,
                "  {:<14} {:>4} tensors, peak {:>12} of {:>12} bits ({}) at step {} ({})",
                u.name,
                u.tensors,
                u.peak_bits,
                u.capacity_bits,
                crate::report::percent(u.peak_bits as f64, u.capacity_bits as f64),
                u.peak_step,
                crate::output::printable(&self.step_name(s, u.peak_step))
            );
        }
        match self.baseline() {
            Some(b) => {
                let _ = writeln!(
                    o,
                    "  against every tensor in DRAM (cost model): DRAM traffic {:.0} bits vs {:.0} ({}×), latency {}×, energy {}×, EDP {}×",
                    self.dram_bits,
                    b.dram_bits,
                    crate::report::times(self.dram_bits, b.dram_bits, 3),
                    crate::report::times(self.latency_cycles, b.latency_cycles, 3),
                    crate::report::times(self.energy_nj, b.energy_nj, 3),
                    crate::report::times(
                        self.latency_cycles * self.energy_nj,
                        b.latency_cycles * b.energy_nj,
                        3
                    ),
                );
            }
            None => {
                let _ = writeln!(
                    o,
                    "  DRAM traffic {:.0} bits (cost model); every tensor in DRAM",
                    self.dram_bits
                );
            }
        }
        let resident: Vec<_> = self.plan.tensors.iter().filter(|x| x.home != 0).collect();
        if !resident.is_empty() {
            let _ = writeln!(o, "  on-chip tensors:");
            for x in resident {
                let _ = writeln!(
                    o,
                    "    {:<40} {:<10} {:>10} bits in {} at {}, steps {}–{}",
                    crate::output::tail(&x.name, 40),
                    x.kind.name(),
                    x.bits,
                    s.inputs.target.levels[x.home].name,
                    x.offset,
                    x.live[0],
                    x.live[1]
                );
            }
        }
        o
    }

    pub fn json(&self, s: &Schedule) -> Value {
        let t = &s.inputs.target;
        let b = self.baseline();
        json!({
            "residency": self.plan.residency,
            "steps": self.plan.steps.len(),
            "tensors": self.plan.tensors.len(),
            "on_chip_tensors": self.plan.tensors.iter().filter(|x| x.home != 0).count(),
            "levels": self.levels.iter().map(|u| json!({
                "level": u.name, "tensors": u.tensors, "capacity_bits": u.capacity_bits,
                "peak_bits": u.peak_bits, "peak_step": u.peak_step,
            })).collect::<Vec<_>>(),
            "dram_bits": self.dram_bits,
            "latency_cycles": self.latency_cycles,
            "energy_nj": self.energy_nj,
            "baseline": b.map(|b| json!({
                "dram_bits": b.dram_bits, "latency_cycles": b.latency_cycles, "energy_nj": b.energy_nj,
            })),
            "resident": self.plan.tensors.iter().filter(|x| x.home != 0).map(|x| json!({
                "name": x.name, "kind": x.kind.name(), "bits": x.bits,
                "home": t.levels[x.home].name, "offset": x.offset, "live": x.live,
            })).collect::<Vec<_>>(),
        })
    }

    /// A section with the numbers and, per level holding tensors, their layout over the steps:
    /// x the step, y the address, one rectangle per tensor.
    pub fn html(&self, s: &Schedule) -> String {
        let t = &s.inputs.target;
        let mut o = String::from("<h2>Memory plan</h2>");
        let on_chip = self.plan.tensors.iter().filter(|x| x.home != 0).count();
        let _ = write!(
            o,
            "<p>Residency {}: {} tensors over {} steps, {} on chip. DRAM traffic {:.0} bits (cost model)",
            if self.plan.residency { "on" } else { "off" },
            self.plan.tensors.len(),
            self.plan.steps.len(),
            on_chip,
            self.dram_bits
        );
        if let Some(b) = self.baseline() {
            let _ = write!(
                o,
                "; with every tensor in DRAM it would be {:.0} bits ({}×); latency {}×, energy {}×, EDP {}× of that baseline",
                b.dram_bits,
                crate::report::times(self.dram_bits, b.dram_bits, 3),
                crate::report::times(self.latency_cycles, b.latency_cycles, 3),
                crate::report::times(self.energy_nj, b.energy_nj, 3),
                crate::report::times(
                    self.latency_cycles * self.energy_nj,
                    b.latency_cycles * b.energy_nj,
                    3
                ),
            );
        }
        o.push_str(".</p>");
        let steps = self.plan.steps.len().max(1) as f64;
        for u in &self.levels {
            let (w, h, left) = (1100.0, 220.0, 60.0);
            let sx = (w - left) / steps;
            let top = (u.capacity_bits.max(u.peak_bits).max(1)) as f64;
            let _ = write!(
                o,
                "<h3>{} ({} tensors, peak {} of {} bits)</h3><svg class=\"plan-level\" data-level=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\">",
                esc(&u.name),
                u.tensors,
                u.peak_bits,
                u.capacity_bits,
                esc(&u.name),
                h + 20.0
            );
            for x in self.plan.tensors.iter().filter(|x| x.home == u.level) {
                let y0 = h - (x.offset + x.bits) as f64 / top * h;
                let bh = (x.bits as f64 / top * h).max(0.5);
                let _ = write!(
                    o,
                    "<rect class=\"plan-tensor\" x=\"{:.1}\" y=\"{y0:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"0.3\"><title>{} ({}): {} bits at {}, steps {}–{}</title></rect>",
                    left + x.live[0] as f64 * sx,
                    ((x.live[1] - x.live[0] + 1) as f64 * sx).max(0.5),
                    match x.kind.name() {
                        "weight" => "#956cb4",
                        "input" | "output" => "#d65f5f",
                        _ => "#4878d0",
                    },
                    esc(&x.name),
                    x.kind.name(),
                    x.bits,
                    x.offset,
                    x.live[0],
                    x.live[1]
                );
            }
            let _ = write!(
                o,
                "<line x1=\"{left}\" y1=\"{h}\" x2=\"{w}\" y2=\"{h}\" stroke=\"#333\"/><text x=\"0\" y=\"12\" font-size=\"11\">{} bits</text><text x=\"{left}\" y=\"{}\" font-size=\"11\">steps →</text></svg>",
                u.capacity_bits.max(u.peak_bits),
                h + 15.0
            );
        }
        let resident: Vec<_> = self.plan.tensors.iter().filter(|x| x.home != 0).collect();
        if !resident.is_empty() {
            o.push_str("<table><tr><th class=\"l\">tensor</th><th class=\"l\">kind</th><th>bits</th><th class=\"l\">level</th><th>offset (bits)</th><th>live (steps)</th></tr>");
            for x in resident {
                let _ = write!(
                    o,
                    "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}–{}</td></tr>",
                    esc(&x.name),
                    x.kind.name(),
                    x.bits,
                    esc(&t.levels[x.home].name),
                    x.offset,
                    x.live[0],
                    x.live[1]
                );
            }
            o.push_str("</table>");
        }
        o
    }
}
