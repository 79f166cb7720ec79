//! `hoso eval --distractors DIR[,DIR…]`: open-set identification as the gallery grows.
//! The deduplicated distractors are split once (seeded): a held-out part plays strangers,
//! the rest fills the gallery N at a time beside the dev set's enrolled half. At each N:
//! the share of strangers above fixed thresholds, and what the kiosk's rule at that N
//! decides (`kiosk::scale`: accept by face, ask the ID digits, or "not recognised") —
//! strangers accepted, the second step's expected passes, wrong persons, mated searches
//! recognised by face alone or through the second step. The impostor tail is fitted on the
//! gallery part only (pairs among those distractors), so the strangers test the model.

use std::collections::BTreeMap;

use serde::Serialize;

use super::distractors::Distractors;
use super::Embedded;
use crate::gallery::{Gallery, Query, TopTwo};
use crate::kiosk::scale::{self, Tail, CANDIDATES, DIGITS_ODDS, TAIL_SHARE};
use crate::score::Scorer;
use crate::vision::Segment;

/// Fixed thresholds the report also shows (the shipped visit threshold was 0.49).
const FIXED: [f32; 5] = [0.49, 0.56, 0.60, 0.65, 0.70];
/// Identities of distractors in the gallery start here (dev identities are small numbers).
const DISTRACTOR_BASE: u64 = 1 << 32;

#[derive(Debug, Clone)]
pub struct ScaleOptions {
    /// Gallery sizes in distractors (0 = all that are not strangers).
    pub sizes: Vec<usize>,
    /// Distractors held out as strangers.
    pub strangers: usize,
    pub seed: u64,
    pub target_fpir: f64,
    /// The profile's floors and margin.
    pub floor_accept: f32,
    pub floor_ask: f32,
    pub margin: f32,
    /// Dev enrolment photos per identity.
    pub enrol: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TailCheck {
    pub threshold: f32,
    /// Impostor pairs at or above it, observed among the fit's pairs.
    pub observed: f64,
    pub modelled: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScaleRow {
    /// Distractors enrolled, and people in the gallery in all (with the dev set's half).
    pub distractors: usize,
    pub people: usize,
    /// Strangers (non-mated searches) whose best score is at or above each fixed threshold.
    pub stranger_fpir_at: BTreeMap<String, f64>,
    pub modelled_fpir_at: BTreeMap<String, f64>,
    pub rule: scale::ScalePoint,
    pub non_mated: usize,
    /// Strangers the face alone accepted (a wrong person each).
    pub non_mated_accepted: usize,
    /// Strangers asked for the ID digits, and the expected passes among them (odds 1/100 per
    /// candidate): the second step's share of the FPIR.
    pub non_mated_asked: usize,
    pub second_step_expected_passes: f64,
    /// Measured visit FPIR: (accepted + expected passes) / non-mated.
    pub fpir: f64,
    pub mated: usize,
    pub mated_by_face: usize,
    pub mated_by_second_step: usize,
    /// Mated searches accepted as another person by the face alone.
    pub wrong_person: usize,
    /// Mated searches shown no result (not recognised or asked without their own candidate).
    pub fnir: f64,
    /// The ten strangers closest to somebody: (probe, enrolled, score).
    pub closest_strangers: Vec<(String, String, f32)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    pub folders: usize,
    pub failed: usize,
    pub near_duplicates: usize,
    pub pair_histogram: Vec<(f32, usize)>,
    pub known_people: usize,
    pub kept: usize,
    pub strangers: usize,
    pub tail: Tail,
    pub tail_pairs: usize,
    pub tail_checks: Vec<TailCheck>,
    pub rows: Vec<ScaleRow>,
    /// The rule extrapolated to larger scopes.
    pub extrapolated: Vec<scale::ScalePoint>,
    /// The same rule on T-normalised scores (`tnorm`), for comparison.
    pub tnorm: Vec<super::tnorm::TnormRow>,
}

struct Probe {
    label: String,
    truth: Option<u64>,
    top: TopTwo,
}

/// Runs the protocol on the dev set's embeddings `dev` and the distractors.
pub fn evaluate(
    dev: &[Embedded],
    names: &[String],
    d: &Distractors,
    segs: &[Segment],
    scorer: &Scorer,
    o: &ScaleOptions,
) -> ScaleReport {
    let (strangers, pool) = super::distractors::split(d.templates.len(), o.strangers, o.seed);
    let (tail, tail_pairs, tail_checks) = fit_tail(d, &pool, segs, scorer);
    // The dev set: even identities enrolled (first `enrol` photos), odd ones strangers.
    let mut per_id: Vec<Vec<&Embedded>> = vec![Vec::new(); names.len()];
    for e in dev {
        per_id[e.identity].push(e);
    }
    let sizes = super::distractors::sizes(&o.sizes, pool.len());
    let pool_t: Vec<&[f32]> = pool.iter().map(|&p| d.templates[p].as_slice()).collect();
    let z_tail = super::tnorm::fit_tail(&pool_t, segs, scorer);
    let run = Setup {
        names,
        d,
        segs,
        scorer,
        o,
        strangers: &strangers,
        pool: &pool,
        pool_t: &pool_t,
        per_id: &per_id,
    };
    let mut tnorm = Vec::new();
    let mut rows = Vec::new();
    for &n in &sizes {
        let (g, people) = run.gallery(n);
        if let Some(zt) = &z_tail {
            tnorm.push(run.tnorm_row(zt, n, people));
        }
        let probes = run.probes(&g);
        let mut w = row(n, people, &probes, &tail, o);
        w.closest_strangers = run.closest_strangers(&probes);
        rows.push(w);
    }
    let extrapolated = [10_000usize, 50_000, 100_000]
        .iter()
        .map(|&n| scale::point(&tail, n, o.target_fpir, o.floor_accept, o.floor_ask))
        .collect();
    ScaleReport {
        folders: d.folders,
        failed: d.failed,
        near_duplicates: d.near_duplicates,
        pair_histogram: d.pair_histogram.clone(),
        known_people: d.known_people,
        kept: d.templates.len(),
        strangers: strangers.len(),
        tail,
        tail_pairs,
        tail_checks,
        rows,
        extrapolated,
        tnorm,
    }
}

/// The impostor tail fitted on every pair within the gallery part of the distractors, the
/// number of pairs, and the fit checked against what was observed at a few thresholds.
fn fit_tail(
    d: &Distractors,
    pool: &[usize],
    segs: &[Segment],
    scorer: &Scorer,
) -> (Tail, usize, Vec<TailCheck>) {
    let mut pairs = Vec::with_capacity(pool.len() * pool.len().saturating_sub(1) / 2);
    for (i, &a) in pool.iter().enumerate() {
        for &b in &pool[i + 1..] {
            pairs.push(scorer.score(segs, &d.templates[a], &d.templates[b]));
        }
    }
    let tail_pairs = pairs.len();
    let tail = Tail::fit(&mut pairs, TAIL_SHARE).unwrap_or(Tail {
        from: 0.0,
        exceed: 1.0,
        scale: 0.1,
    });
    // `pairs` is sorted, highest first.
    let checks = [0.45f32, 0.5, 0.55, 0.6, 0.65]
        .iter()
        .map(|&t| TailCheck {
            threshold: t,
            observed: pairs.partition_point(|&s| s >= t) as f64 / tail_pairs.max(1) as f64,
            modelled: tail.fmr(t),
        })
        .collect();
    (tail, tail_pairs, checks)
}

/// What every gallery size of one evaluation shares.
struct Setup<'a> {
    names: &'a [String],
    d: &'a Distractors,
    segs: &'a [Segment],
    scorer: &'a Scorer,
    o: &'a ScaleOptions,
    strangers: &'a [usize],
    pool: &'a [usize],
    pool_t: &'a [&'a [f32]],
    per_id: &'a [Vec<&'a Embedded>],
}

impl Setup<'_> {
    /// The enrolled dev identities' templates (even identities, first `enrol` photos).
    fn enrolled(&self) -> impl Iterator<Item = (u64, usize, &Embedded)> + '_ {
        self.per_id
            .iter()
            .enumerate()
            .filter(|(id, _)| id % 2 == 0)
            .flat_map(move |(id, es)| {
                es.iter()
                    .take(self.o.enrol)
                    .enumerate()
                    .map(move |(k, e)| (id as u64, k, *e))
            })
    }

    /// The dev set's probes: the photos enrolment did not use, with their truth (None for
    /// the odd identities, never enrolled).
    fn dev_probes(&self) -> impl Iterator<Item = (usize, Option<u64>, &Embedded)> + '_ {
        self.per_id.iter().enumerate().flat_map(move |(id, es)| {
            let enrolled = id % 2 == 0;
            let skip = if enrolled { self.o.enrol } else { 0 };
            es.iter()
                .skip(skip)
                .map(move |e| (id, enrolled.then_some(id as u64), *e))
        })
    }

    /// The gallery of the enrolled dev identities and the first `n` distractors, and the
    /// number of people in it.
    fn gallery(&self, n: usize) -> (Gallery, usize) {
        let g = Gallery::new(self.segs);
        for (id, k, e) in self.enrolled() {
            g.add(id, id * 100 + k as u64, &e.template);
        }
        let mut people = self
            .per_id
            .iter()
            .enumerate()
            .filter(|(id, es)| id % 2 == 0 && !es.is_empty())
            .count();
        for (i, &p) in self.pool[..n].iter().enumerate() {
            let key = DISTRACTOR_BASE + i as u64;
            g.add(key, key, &self.d.templates[p]);
        }
        people += n;
        (g, people)
    }

    /// The same gallery scored after T-normalisation.
    fn tnorm_row(&self, zt: &Tail, n: usize, people: usize) -> super::tnorm::TnormRow {
        let mut gal: Vec<(u64, &[f32])> = self
            .enrolled()
            .map(|(id, _, e)| (id, e.template.as_slice()))
            .collect();
        gal.extend(
            self.pool_t[..n]
                .iter()
                .enumerate()
                .map(|(i, t)| (DISTRACTOR_BASE + i as u64, *t)),
        );
        let mut pr: Vec<(&[f32], Option<u64>)> = self
            .strangers
            .iter()
            .map(|&s| (self.d.templates[s].as_slice(), None))
            .collect();
        pr.extend(
            self.dev_probes()
                .map(|(_, truth, e)| (e.template.as_slice(), truth)),
        );
        super::tnorm::row(
            zt,
            &gal,
            people,
            &pr,
            self.segs,
            self.scorer,
            self.o.target_fpir,
            0.4,
        )
    }

    /// Every probe searched in `g`: the held-out strangers, then the dev set's.
    fn probes(&self, g: &Gallery) -> Vec<Probe> {
        let search = |t: &[f32]| g.search(&Query::new(self.segs, self.scorer, t));
        let mut probes: Vec<Probe> = self
            .strangers
            .iter()
            .map(|&s| Probe {
                label: self.d.photos[s].display().to_string(),
                truth: None,
                top: search(&self.d.templates[s]),
            })
            .collect();
        probes.extend(self.dev_probes().map(|(id, truth, e)| Probe {
            label: format!("dev:{}", self.names[id]),
            truth,
            top: search(&e.template),
        }));
        probes
    }

    /// The ten strangers closest to somebody in the gallery: (stranger, who, score).
    fn closest_strangers(&self, probes: &[Probe]) -> Vec<(String, String, f32)> {
        let label = |id: u64| {
            if id >= DISTRACTOR_BASE {
                self.d.photos[self.pool[(id - DISTRACTOR_BASE) as usize]]
                    .display()
                    .to_string()
            } else {
                format!("dev:{}", self.names[id as usize])
            }
        };
        let mut top: Vec<&Probe> = probes.iter().filter(|p| p.truth.is_none()).collect();
        top.sort_by(|a, b| {
            let s = |p: &Probe| p.top.best.map_or(f32::MIN, |h| h.score);
            s(b).total_cmp(&s(a))
        });
        top.iter()
            .take(10)
            .filter_map(|p| {
                let b = p.top.best?;
                Some((p.label.clone(), label(b.identity), b.score))
            })
            .collect()
    }
}

/// What the rule decides for one search: Some(identity) accepted by face, or the grey-zone
/// candidates, or nothing.
pub enum Verdict {
    Accept(u64),
    Ask(Vec<u64>),
    No,
}

pub fn verdict(top: &TopTwo, accept: f32, ask: f32, margin: f32) -> Verdict {
    let Some(best) = top.best else {
        return Verdict::No;
    };
    if best.score >= accept && top.margin() >= margin {
        return Verdict::Accept(best.identity);
    }
    if best.score >= ask {
        let mut c = vec![best.identity];
        c.extend(top.second.filter(|s| s.score >= ask).map(|s| s.identity));
        c.truncate(CANDIDATES);
        return Verdict::Ask(c);
    }
    Verdict::No
}

fn row(n: usize, people: usize, probes: &[Probe], tail: &Tail, o: &ScaleOptions) -> ScaleRow {
    let rule = scale::point(tail, people, o.target_fpir, o.floor_accept, o.floor_ask);
    let non: Vec<&Probe> = probes.iter().filter(|p| p.truth.is_none()).collect();
    let mated: Vec<&Probe> = probes.iter().filter(|p| p.truth.is_some()).collect();
    let best = |p: &Probe| p.top.best.map_or(f32::NEG_INFINITY, |b| b.score);
    let share = |k: usize| k as f64 / non.len().max(1) as f64;
    let key = |t: f32| format!("{t:.2}");
    let stranger_fpir_at = FIXED
        .iter()
        .map(|&t| (key(t), share(non.iter().filter(|p| best(p) >= t).count())))
        .collect();
    let modelled_fpir_at = FIXED
        .iter()
        .map(|&t| (key(t), scale::fpir(tail.fmr(t), people)))
        .collect();
    let (mut accepted, mut asked, mut passes) = (0, 0, 0.0);
    for p in &non {
        match verdict(&p.top, rule.accept, rule.ask, o.margin) {
            Verdict::Accept(_) => accepted += 1,
            Verdict::Ask(c) => {
                asked += 1;
                passes += c.len() as f64 * DIGITS_ODDS;
            }
            Verdict::No => {}
        }
    }
    let (mut by_face, mut by_step, mut wrong) = (0, 0, 0);
    for p in &mated {
        match verdict(&p.top, rule.accept, rule.ask, o.margin) {
            Verdict::Accept(who) if Some(who) == p.truth => by_face += 1,
            Verdict::Accept(_) => wrong += 1,
            Verdict::Ask(c) if p.truth.is_some_and(|t| c.contains(&t)) => by_step += 1,
            _ => {}
        }
    }
    ScaleRow {
        distractors: n,
        people,
        stranger_fpir_at,
        modelled_fpir_at,
        rule,
        non_mated: non.len(),
        non_mated_accepted: accepted,
        non_mated_asked: asked,
        second_step_expected_passes: passes,
        fpir: (accepted as f64 + passes) / non.len().max(1) as f64,
        mated: mated.len(),
        mated_by_face: by_face,
        mated_by_second_step: by_step,
        wrong_person: wrong,
        fnir: 1.0 - (by_face + by_step) as f64 / mated.len().max(1) as f64,
        closest_strangers: Vec::new(),
    }
}

pub fn text(r: &ScaleReport) -> String {
    let mut s = format!(
        "distractors: {} folders, {} without a usable face, {} near-duplicates dropped (cosine ≥ {}), {} the same person as a dev identity, {} kept; {} held out as strangers\n\
         impostor tail (from {} pairs among the gallery's distractors): FMR(t) = {:.2e} · exp(−(t − {:.4}) / {:.4})\n",
        r.folders,
        r.failed,
        r.near_duplicates,
        super::distractors::NEAR_DUPLICATE,
        r.known_people,
        r.kept,
        r.strangers,
        r.tail_pairs,
        r.tail.exceed,
        r.tail.from,
        r.tail.scale
    );
    s += "  pairs of distractor photos by cosine (before deduplication):";
    for (b, n) in &r.pair_histogram {
        s += &format!(" {b:.2}:{n}");
    }
    s += "\n";
    for c in &r.tail_checks {
        s += &format!(
            "  FMR at {:.2}: observed {:.2e}, modelled {:.2e}\n",
            c.threshold, c.observed, c.modelled
        );
    }
    s += "\n  people | strangers ≥ 0.49 / 0.56 / 0.60 / 0.65 / 0.70 (modelled)        | accept  ask    | stranger: accepted asked  FPIR     | mated: face  2nd step  FNIR   wrong\n";
    for w in &r.rows {
        let fixed: Vec<String> = w
            .stranger_fpir_at
            .iter()
            .map(|(k, v)| format!("{:.1}%({:.1}%)", v * 100.0, w.modelled_fpir_at[k] * 100.0))
            .collect();
        s += &format!(
            "  {:>6} | {} | {:.4} {:.4} | {:>5} {:>5} {:.5} | {:>5}/{:<4} {:>4}  {:.3}  {}\n",
            w.people,
            fixed.join(" "),
            w.rule.accept,
            w.rule.ask,
            w.non_mated_accepted,
            w.non_mated_asked,
            w.fpir,
            w.mated_by_face,
            w.mated,
            w.mated_by_second_step,
            w.fnir,
            w.wrong_person
        );
    }
    if !r.tnorm.is_empty() {
        s += "\n  T-normalised scores, same rule (z-space tail fitted the same way):\n";
        for w in &r.tnorm {
            s += &format!(
                "  {:>6} | accept z {:.2} ask z {:.2} | stranger: accepted {:>4} asked {:>4} FPIR {:.5} | mated: face {:>4}/{:<4} 2nd step {:>4} FNIR {:.3} wrong {}\n",
                w.people,
                w.accept,
                w.ask,
                w.non_mated_accepted,
                w.non_mated_asked,
                w.fpir,
                w.mated_by_face,
                w.mated,
                w.mated_by_second_step,
                w.fnir,
                w.wrong_person
            );
        }
    }
    s += "\n  extrapolated (the fitted tail):\n";
    for p in &r.extrapolated {
        s += &format!(
            "  {:>6} people: accept {:.4}, ask {:.4}, expected FPIR {:.1e}\n",
            p.people, p.accept, p.ask, p.expected_fpir
        );
    }
    s
}
