//! Certification's random loop nests (`sample_open_candidates`): where a layer's spatial
//! candidates have far too many skeletons to search whole, certification still looks for
//! better mappings in nests the search's local moves do not reach.

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
