//! Human-readable rendering of an evaluation report.

use std::fmt::Write;

use super::Report;

pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} images, {} identities, {} failed to detect; {} genuine / {} impostor pairs; enrol {} per identity",
        r.images, r.identities, r.failed_to_detect, r.genuine_pairs, r.impostor_pairs, r.enrol
    );
    for f in &r.failed_files {
        let _ = writeln!(s, "  no face: {f}");
    }
    let _ = writeln!(
        s,
        "\n{:<8} {:>9} {:>9} {:>9} {:>7} {:>10} {:>10} {:>10} {:>7} {:>12}",
        "scorer",
        "TAR@1e-2",
        "TAR@1e-3",
        "TAR@1e-4",
        "EER",
        "thr@1e-3",
        "FNIR@1e-2",
        "FNIR@1e-3",
        "rank1",
        "EA FMR@thr"
    );
    scorer_rows(&mut s, r);
    let _ = writeln!(
        s,
        "\nkiosk 1:N thresholds (the stricter of FAR 1e-4 and FPIR 1e-3):"
    );
    for (name, x) in &r.scores {
        let _ = writeln!(
            s,
            "  {:<8} {:.4}; East-Asian FMR there {}",
            name,
            x.kiosk_threshold,
            x.subgroup_fmr_at_kiosk_threshold
                .map_or("-".to_string(), |v| format!("{v:.4}")),
        );
    }
    let _ = writeln!(
        s,
        "\nidentification by template combination (FNIR@FPIR 1e-2 / 1e-3, rank-1):"
    );
    identification_rows(&mut s, r);
    let _ = writeln!(
        s,
        "\nEA FMR@thr: false-match rate over {} impostor pairs of the East-Asian subgroup ({}) at the FAR 1e-3 threshold.",
        r.subgroup_impostor_pairs,
        r.subgroup.join(", ")
    );
    let _ = writeln!(
        s,
        "kiosk scorer: {}, templates combined by {}",
        r.kiosk_scorer, r.combine
    );
    s
}

/// One row per scorer: TAR at three FARs, EER, the FAR 1e-3 threshold, FNIR at two FPIRs,
/// rank-1 and the East-Asian FMR there.
fn scorer_rows(s: &mut String, r: &Report) {
    for (name, x) in &r.scores {
        let g = |m: &std::collections::BTreeMap<String, f64>, k: &str| {
            m.get(k).copied().unwrap_or(f64::NAN)
        };
        let _ = writeln!(
            s,
            "{:<8} {:>9.4} {:>9.4} {:>9.4} {:>7.4} {:>10.4} {:>10.4} {:>10.4} {:>7.4} {:>12}",
            name,
            g(&x.tar_at_far, "0.01"),
            g(&x.tar_at_far, "0.001"),
            g(&x.tar_at_far, "0.0001"),
            x.eer,
            x.threshold_at_far_1e3,
            g(&x.fnir_at_fpir, "0.01"),
            g(&x.fnir_at_fpir, "0.001"),
            x.rank1,
            x.subgroup_fmr_at_threshold
                .map_or("-".to_string(), |v| format!("{:.4}", v)),
        );
    }
}

/// Identification per scorer and template combination.
fn identification_rows(s: &mut String, r: &Report) {
    for (name, x) in &r.scores {
        for (c, i) in &x.identification {
            let _ = writeln!(
                s,
                "  {:<8} {:<5} {:.4} / {:.4}, {:.4}  ({} mated, {} non-mated searches)",
                name,
                c,
                i.fnir_at_fpir.get("0.01").copied().unwrap_or(f64::NAN),
                i.fnir_at_fpir.get("0.001").copied().unwrap_or(f64::NAN),
                i.rank1,
                i.mated_searches,
                i.non_mated_searches
            );
        }
    }
}
