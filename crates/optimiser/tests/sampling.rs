//! Certification on layers whose spatial candidates have far too many skeletons to search
//! whole: its random loop nests (`sample_open_candidates`) look for better mappings in nests
//! the search's local moves do not reach, and its bounds per case of loop nest
//! (`spatial_bound_by_case`) settle what they can.

mod common;
use common::target;

use cimopt_cost::{Objective, evaluate};
use cimopt_ir::{Workload, check};
use cimopt_optimiser::{Options, certify_from, optimise};

/// ResNet-50 `layer4.0.conv3` (1×1, 512 → 2048 channels, 7×7 outputs) on `default`, every
/// tensor in DRAM, on `E + λ·L` with the latency weight ResNet-50's compile gives it. Its
/// candidates below the search's result have 10⁵–10⁶ skeletons each, so none is searched
/// whole: what certification finds there, it finds in random nests. It must find a mapping at
/// least 2 % better than the search's (7 % when measured), valid, the same on every run, and
/// leave the layer's bound where the search left it (random nests prove nothing).
#[test]
fn certification_finds_better_nests_at_random_where_no_candidate_fits() {
    let t = target("default", &[]);
    let w = Workload::square_conv(1, 7, 512, 2048, 1, 1);
    let objective = Objective::Weighted {
        nj_per_cycle: 0.3196,
    };
    let opts = Options {
        objective,
        ..Options::default()
    };
    let searched = optimise(&t, &w, &opts).unwrap();
    let certify = Options {
        certify_skeletons: 2000,
        ..opts.clone()
    };
    let a = certify_from(&t, &w, &certify, &searched.mapping).unwrap();
    let b = certify_from(&t, &w, &certify, &searched.mapping).unwrap();
    assert_eq!(a.mapping, b.mapping, "the same draws on every run");
    assert!(check(&t, &w, &a.mapping).is_empty(), "{:?}", a.mapping);
    let before = objective.of(&evaluate(&t, &w, &searched.mapping));
    let after = objective.of(&evaluate(&t, &w, &a.mapping));
    assert!(
        after < before * 0.98,
        "certification found {after:.1} against the search's {before:.1}"
    );
    assert_eq!(a.stats.objective, after);
    assert!(
        a.stats.bound <= after && a.stats.bound <= searched.stats.bound * (1.0 + 1e-9),
        "bound {} (search {}), objective {after}",
        a.stats.bound,
        searched.stats.bound
    );
}

/// Searches `w` on `target` at `home` (inputs and outputs in the global buffer, as the memory
/// plan keeps them), on `E + λ·L` with latency weight `lambda`, certifies the result with the
/// default budget, and asserts that it is proven within 1 % and that the search's bound lies
/// below it too (without a budget, certification settles nothing by cases it did not compute).
fn assert_certified_within_one_percent(target_name: &str, w: &Workload, lambda: f64) {
    assert_certified_within(target_name, w, lambda, 0.01);
}

/// [`assert_certified_within_one_percent`], proven within `most` instead.
fn assert_certified_within(target_name: &str, w: &Workload, lambda: f64, most: f64) {
    let t = target(target_name, &[]);
    let opts = Options {
        objective: Objective::Weighted {
            nj_per_cycle: lambda,
        },
        home: [1, 0, 1],
        ..Options::default()
    };
    let searched = optimise(&t, w, &opts).unwrap();
    let certify = Options {
        certify_skeletons: 2000,
        ..opts.clone()
    };
    let certified = certify_from(&t, w, &certify, &searched.mapping).unwrap();
    assert!(
        searched.stats.bound <= certified.stats.objective,
        "the search's bound {} above a mapping's {}",
        searched.stats.bound,
        certified.stats.objective
    );
    let gap = certified.stats.objective / certified.stats.bound - 1.0;
    assert!(
        gap <= most,
        "gap {:.2} %: objective {}, bound {} (search's bound {})",
        100.0 * gap,
        certified.stats.objective,
        certified.stats.bound,
        searched.stats.bound
    );
}

/// ResNet-18 `layer3.0.downsample` (1×1, stride 2, 128 → 256 channels, 14×14 outputs from
/// 28×28) on `default`, inputs and outputs kept in the global buffer as the memory plan keeps
/// them, on `E + λ·L` with the latency weight ResNet-18's compile gives it. Its best
/// candidates' analytical bounds take their latency from nests that load the weights once and
/// their energy from nests whose outermost loop, over P or Q, loads them again: certification
/// pairs each case's latency with its energy (`spatial_bound_by_case`), which lifts those
/// candidates to the result, and proves it within 1 % (5.0 % with the bounds unpaired).
#[test]
fn certification_pairs_each_outermost_case_s_latency_with_its_energy() {
    let w = Workload {
        h: 28,
        w: 28,
        ..Workload::square_conv(1, 14, 128, 256, 1, 2)
    };
    assert_certified_within_one_percent("default", &w, 0.2529);
}

/// ResNet-18 `layer4.0.downsample` (1×1, stride 2, 256 → 512 channels, 7×7 outputs from
/// 14×14) on `default`, as above. Its best candidates have thousands of skeletons, most of
/// whose loop orders put a loop over P or Q outside the weights' loops above the macros and
/// so load every weight several times (`skeleton_weight_passes`): the latency bound of those
/// loads settles them, the rest fit in the budget, and the layer is proven within 1 % (2.1 %
/// with every skeleton bounded as if it loaded the weights once).
#[test]
fn certification_settles_the_skeletons_that_load_the_weights_again() {
    let w = Workload {
        h: 14,
        w: 14,
        ..Workload::square_conv(1, 7, 256, 512, 1, 2)
    };
    assert_certified_within_one_percent("default", &w, 0.2529);
}

/// ResNet-50 `layer1.1.conv1` (1×1, 256 → 64 channels, 56×56) on `transformer`, inputs and
/// outputs in the global buffer, on `E + λ·L` with ResNet-50's latency weight there. A
/// skeleton's loop order fixes which boundaries can spare the outputs a change (its innermost
/// run over C) and how many of them its macros can hold (`nest_shape`): bounded by those runs,
/// the skeletons whose order leaves few cheap boundaries settle, and the layer is proven within
/// 1 % (3.8 % with every skeleton bounded as its case's best nest).
#[test]
fn certification_bounds_each_skeleton_by_the_runs_its_order_allows() {
    let w = Workload::square_conv(1, 56, 256, 64, 1, 1);
    assert_certified_within_one_percent("transformer", &w, 1.9539);
}

/// ResNet-18 `layer4.0.conv1` (3×3, stride 2, padded, 256 → 512 channels, 7×7 outputs) on
/// `default`, as above. The search alone leaves greedy's mapping (objective 158 768);
/// certification's first pass finds one 4.8 % better (151 081, the golden schedule's), and a
/// second pass from it settles what the first could not. The candidate below that result has
/// 65 400 skeletons, more than certification listed until the eighteenth session (50 000):
/// counted whole, it did not fit, and the layer stayed 0.93 % from its bound. Streamed, its
/// cases and shapes leave 624, and the layer is proven optimal (within the default gap,
/// 0.1 %). Fails with the old listing limit, and without the second pass.
#[test]
fn certification_lists_every_skeleton_of_a_large_candidate() {
    let w = Workload {
        h: 14,
        w: 14,
        pad: [1; 4],
        ..Workload::square_conv(3, 7, 256, 512, 1, 2)
    };
    assert_certified_within("default", &w, 0.252885, 1e-3);
}
