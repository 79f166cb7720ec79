//! The in-memory gallery: every enrolled template as one contiguous row of 8-bit values
//! (one scale per embedder segment), searched with integer dot products: exhaustively in
//! an office's gallery, and at city scale on a shortlist the templates' sketches give
//! (`sketch`), which holds every row that could score near the top.
//! A search returns the best identity and the best *other* identity, which the kiosk's
//! margin rule needs. Thread-safe: many searches at once, adds and removals in between.

mod pages;
pub mod sketch;

use std::cell::RefCell;
use std::sync::RwLock;

use sketch::Code;

use crate::score::Scorer;
use crate::vision::Segment;

/// Rows at which a search is split across threads.
const PARALLEL_ROWS: usize = 32 * 1024;

/// Rows from which a single-embedder gallery is searched through its sketches.
const SHORTLIST_ROWS: usize = 50_000;

/// Allowed rows scored exactly after the sketch pass, at least: the nearest in sketch (at
/// 1 M random rows the cut falls ~2.65 σ below a stranger's distance, where a row scoring
/// 0.6 still lies ~3.5 σ of its own noise inside):
/// most rows that can decide a kiosk match are scored; the guard below scores the rest.
const SHORTLIST: usize = 4096;

/// Every how many rows' sketch distance the cut-off is estimated from.
const SAMPLE_STEP: usize = 8;

/// How many shortlisted rows ahead of the one scored are fetched from memory.
const PREFETCH_AHEAD: usize = 6;

/// When the shortlist's best reaches this cosine (below every kiosk threshold less its
/// margin), every row whose sketch allows a cosine within `GUARD_BAND` of it is scored
/// too, at `GUARD_Z` σ: the second identity the margin rule compares with is exact.
const GUARD_FROM: f32 = 0.40;
const GUARD_BAND: f32 = 0.08;
const GUARD_Z: f32 = 3.0;

/// A scored identity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub identity: u64,
    pub score: f32,
}

/// The two best distinct identities.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TopTwo {
    pub best: Option<Hit>,
    pub second: Option<Hit>,
}

impl TopTwo {
    #[inline]
    fn offer(&mut self, identity: u64, score: f32) {
        match self.best {
            None => self.best = Some(Hit { identity, score }),
            Some(b) if b.identity == identity => {
                if score > b.score {
                    self.best = Some(Hit { identity, score });
                }
            }
            Some(b) if score > b.score => {
                self.second = Some(b);
                self.best = Some(Hit { identity, score });
            }
            Some(_) => match self.second {
                Some(s) if s.identity == identity || score <= s.score => {
                    if s.identity == identity && score > s.score {
                        self.second = Some(Hit { identity, score });
                    }
                }
                _ => self.second = Some(Hit { identity, score }),
            },
        }
    }

    fn merge(mut self, other: TopTwo) -> TopTwo {
        for h in [other.best, other.second].into_iter().flatten() {
            self.offer(h.identity, h.score);
        }
        self
    }

    /// Lead of the best identity over the second (infinite when there is no second).
    pub fn margin(&self) -> f32 {
        match (self.best, self.second) {
            (Some(b), Some(s)) => b.score - s.score,
            _ => f32::INFINITY,
        }
    }
}

/// A probe prepared for one scorer: quantised once, searched many times.
#[derive(Debug, Clone)]
pub struct Query {
    q: Vec<i8>,
    /// The probe's sketch (single-embedder templates only).
    code: Option<Code>,
    /// The scorer's weight of that one segment (score = weight × cosine + bias).
    weight: f32,
    /// Per segment: scorer weight × query scale (0 = segment unused).
    factors: Vec<f32>,
    bias: f32,
}

impl Query {
    pub fn new(segments: &[Segment], scorer: &Scorer, template: &[f32]) -> Self {
        let mut q = vec![0i8; template.len()];
        let mut factors = Vec::with_capacity(segments.len());
        for (s, w) in segments.iter().zip(&scorer.weights) {
            let scale = quantise(
                &template[s.offset..s.offset + s.dims],
                &mut q[s.offset..s.offset + s.dims],
            );
            factors.push(w * scale);
        }
        let code = match segments {
            [one] if sketch::applies(one.dims) => Some(sketch::sketch(template)),
            _ => None,
        };
        Self {
            q,
            code,
            weight: scorer.weights.first().copied().unwrap_or(1.0),
            factors,
            bias: scorer.bias,
        }
    }
}

/// Writes `v` as i8 with one scale; returns the scale (value ≈ q × scale).
fn quantise(v: &[f32], out: &mut [i8]) -> f32 {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max == 0.0 {
        out.fill(0);
        return 0.0;
    }
    let scale = max / 127.0;
    for (o, x) in out.iter_mut().zip(v) {
        *o = (x / scale).round().clamp(-127.0, 127.0) as i8;
    }
    scale
}

/// A quantised row: values, one scale per segment, and its sketch when sketched.
type Quantised = (Vec<i8>, Vec<f32>, Option<Code>);

#[derive(Default)]
struct Rows {
    data: Vec<i8>,
    scales: Vec<f32>,
    identities: Vec<u64>,
    templates: Vec<u64>,
    /// One sketch a row, when the gallery is sketched (else empty).
    codes: Vec<Code>,
}

pub struct Gallery {
    segments: Vec<Segment>,
    dims: usize,
    /// One embedder with enough dimensions: rows carry sketches.
    sketched: bool,
    rows: RwLock<Rows>,
}

impl Gallery {
    pub fn new(segments: &[Segment]) -> Self {
        Self {
            dims: segments.iter().map(|s| s.dims).sum(),
            sketched: segments.len() == 1 && sketch::applies(segments[0].dims),
            segments: segments.to_vec(),
            rows: RwLock::new(Rows::default()),
        }
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Rows> {
        self.rows.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Rows> {
        self.rows.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes room for `more` templates at once (a bulk load grows the rows once, not by
    /// repeated doubling).
    pub fn reserve(&self, more: usize) {
        let mut r = self.write();
        r.data.reserve_exact(more * self.dims);
        r.scales.reserve_exact(more * self.segments.len());
        r.identities.reserve_exact(more);
        r.templates.reserve_exact(more);
        if self.sketched {
            r.codes.reserve_exact(more);
        }
        Self::advise(&r);
    }

    /// Huge pages for the arrays a search streams through.
    fn advise(r: &Rows) {
        pages::advise(&r.data);
        pages::advise(&r.codes);
    }

    /// One template quantised per segment: (values, scales, sketch), or None for a wrong
    /// length.
    fn quantised(&self, template: &[f32]) -> Option<Quantised> {
        if template.len() != self.dims {
            return None;
        }
        let mut q = vec![0i8; self.dims];
        let scales: Vec<f32> = self
            .segments
            .iter()
            .map(|s| {
                quantise(
                    &template[s.offset..s.offset + s.dims],
                    &mut q[s.offset..s.offset + s.dims],
                )
            })
            .collect();
        let code = self.sketched.then(|| sketch::sketch(template));
        Some((q, scales, code))
    }

    /// Adds one template of `identity`. Returns false if the template has the wrong length.
    pub fn add(&self, identity: u64, template_id: u64, template: &[f32]) -> bool {
        let Some(row) = self.quantised(template) else {
            return false;
        };
        Self::push(&mut self.write(), identity, template_id, &row);
        true
    }

    /// Makes `identity`'s templates exactly `templates` (template id, vector) in one step:
    /// a search never sees the person half-updated. Templates of the wrong length are left
    /// out; returns how many are in.
    pub fn replace_identity(&self, identity: u64, templates: &[(u64, Vec<f32>)]) -> usize {
        let ready: Vec<_> = templates
            .iter()
            .filter_map(|(id, t)| Some((*id, self.quantised(t)?)))
            .collect();
        let mut r = self.write();
        Self::remove_rows(&mut r, self.dims, self.segments.len(), |id, _| {
            id == identity
        });
        for (id, row) in &ready {
            Self::push(&mut r, identity, *id, row);
        }
        ready.len()
    }

    fn push(r: &mut Rows, identity: u64, template_id: u64, (q, scales, code): &Quantised) {
        let capacity = (r.data.capacity(), r.codes.capacity());
        r.data.extend_from_slice(q);
        r.scales.extend_from_slice(scales);
        r.identities.push(identity);
        r.templates.push(template_id);
        if let Some(c) = code {
            r.codes.push(*c);
        }
        // Grown (so moved): the new allocation is advised too.
        if capacity != (r.data.capacity(), r.codes.capacity()) {
            Self::advise(r);
        }
    }

    /// Removes every template of `identity`; returns how many.
    pub fn remove_identity(&self, identity: u64) -> usize {
        self.remove_where(|id, _| id == identity)
    }

    /// Removes one template; returns whether it was there.
    pub fn remove_template(&self, template_id: u64) -> bool {
        self.remove_where(|_, t| t == template_id) > 0
    }

    fn remove_where(&self, pred: impl Fn(u64, u64) -> bool) -> usize {
        let mut r = self.write();
        Self::remove_rows(&mut r, self.dims, self.segments.len(), pred)
    }

    fn remove_rows(r: &mut Rows, d: usize, ns: usize, pred: impl Fn(u64, u64) -> bool) -> usize {
        let mut removed = 0;
        let mut i = 0;
        while i < r.identities.len() {
            if pred(r.identities[i], r.templates[i]) {
                let last = r.identities.len() - 1;
                if i != last {
                    r.data.copy_within(last * d..(last + 1) * d, i * d);
                    r.scales.copy_within(last * ns..(last + 1) * ns, i * ns);
                    r.identities[i] = r.identities[last];
                    r.templates[i] = r.templates[last];
                    if !r.codes.is_empty() {
                        r.codes[i] = r.codes[last];
                    }
                }
                r.codes.truncate(last.min(r.codes.len()));
                r.data.truncate(last * d);
                r.scales.truncate(last * ns);
                r.identities.truncate(last);
                r.templates.truncate(last);
                removed += 1;
            } else {
                i += 1;
            }
        }
        removed
    }

    /// Number of templates.
    pub fn len(&self) -> usize {
        self.read().identities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of distinct identities.
    pub fn identities(&self) -> usize {
        let mut ids = self.read().identities.clone();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    /// Best and second-best identity for the probe.
    pub fn search(&self, query: &Query) -> TopTwo {
        self.search_filtered(query, |_| true)
    }

    /// Every row scored, whatever the gallery's size (the reference the shortlist is
    /// checked against).
    pub fn search_exhaustive(&self, query: &Query, allow: impl Fn(u64) -> bool) -> TopTwo {
        let r = self.read();
        self.scan(&r, query, 0..r.identities.len(), &allow)
    }

    /// Like `search`, over the identities `allow` accepts only.
    pub fn search_filtered(&self, query: &Query, allow: impl Fn(u64) -> bool + Sync) -> TopTwo {
        let r = self.read();
        let n = r.identities.len();
        if let (Some(code), true) = (&query.code, self.sketched && n >= SHORTLIST_ROWS) {
            return self.shortlisted(&r, query, code, &allow);
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .min(4);
        if n < PARALLEL_ROWS || threads < 2 {
            return self.scan(&r, query, 0..n, &allow);
        }
        let chunk = n.div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let range = t * chunk..((t + 1) * chunk).min(n);
                    let (r, allow) = (&*r, &allow);
                    s.spawn(move || self.scan(r, query, range, allow))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .fold(TopTwo::default(), TopTwo::merge)
        })
    }

    fn scan(
        &self,
        r: &Rows,
        query: &Query,
        range: std::ops::Range<usize>,
        allow: &impl Fn(u64) -> bool,
    ) -> TopTwo {
        let mut top = TopTwo::default();
        for i in range {
            let id = r.identities[i];
            if allow(id) {
                top.offer(id, self.score_row(r, query, i));
            }
        }
        top
    }

    /// The scorer's value for row `i`.
    #[inline]
    fn score_row(&self, r: &Rows, query: &Query, i: usize) -> f32 {
        let (d, ns) = (self.dims, self.segments.len());
        let row = &r.data[i * d..(i + 1) * d];
        let mut score = query.bias;
        for (k, s) in self.segments.iter().enumerate() {
            let f = query.factors[k];
            if f == 0.0 {
                continue;
            }
            let span = s.offset..s.offset + s.dims;
            score += f * r.scales[i * ns + k] * dot_i8(&query.q[span.clone()], &row[span]) as f32;
        }
        score
    }

    /// Near a decision, every row that could score within `GUARD_BAND` of the best is
    /// scored as well (rows at or past `from`, the distance under which every row was
    /// scored, up to the guard's bound).
    fn guarded(
        &self,
        r: &Rows,
        query: &Query,
        (dist, from): (&[sketch::Distance], u16),
        mut top: TopTwo,
        allow: &impl Fn(u64) -> bool,
    ) -> TopTwo {
        let Some(best) = top.best else { return top };
        if query.weight <= 0.0 {
            return top;
        }
        let cos = (best.score - query.bias) / query.weight;
        if cos < GUARD_FROM {
            return top;
        }
        let bound = sketch::bound(cos - GUARD_BAND, GUARD_Z);
        if bound < from {
            return top;
        }
        for (i, &d) in dist.iter().enumerate() {
            let d = u16::from(d);
            if d >= from && d <= bound && allow(r.identities[i]) {
                top.offer(r.identities[i], self.score_row(r, query, i));
            }
        }
        top
    }

    /// City scale, on one core: the sketches' Hamming distances to the probe's, then the
    /// exact score of the nearest rows until `SHORTLIST` allowed ones are scored (further
    /// out when the filter refuses many of the nearest).
    fn shortlisted(
        &self,
        r: &Rows,
        query: &Query,
        code: &Code,
        allow: &impl Fn(u64) -> bool,
    ) -> TopTwo {
        thread_local! {
            static SCRATCH: RefCell<(Vec<sketch::Distance>, Vec<u32>)> =
                const { RefCell::new((Vec::new(), Vec::new())) };
        }
        SCRATCH.with(|cell| {
            let (dist, rows) = &mut *cell.borrow_mut();
            sketch::distances(&r.codes, code, dist);
            // Where the nearest `want` rows end, from a sample of the distances (a little
            // generous: the sample errs by a few per cent either way).
            let hist = sketch::histogram(dist, SAMPLE_STEP);
            let cut = |want: usize| sketch::cutoff(&hist, (want + want / 8) / SAMPLE_STEP + 1);
            let mut top = TopTwo::default();
            let (mut lo, mut want, mut scored) = (None::<u16>, SHORTLIST, 0usize);
            loop {
                let hi = cut(want);
                sketch::within(dist, lo.map_or(0, |lo| lo + 1), hi, rows);
                // The rows under the cut first, then those at it until the shortlist is
                // full: the rest of that last distance is left to the guard.
                rows.sort_by_key(|&i| u16::from(dist[i as usize]) == hi);
                let mut scored_under = hi + 1;
                for (k, &i) in rows.iter().enumerate() {
                    let i = i as usize;
                    if scored >= SHORTLIST && u16::from(dist[i]) == hi {
                        scored_under = hi;
                        break;
                    }
                    if let Some(&ahead) = rows.get(k + PREFETCH_AHEAD) {
                        self.prefetch(r, ahead as usize);
                    }
                    let id = r.identities[i];
                    if allow(id) {
                        scored += 1;
                        top.offer(id, self.score_row(r, query, i));
                    }
                }
                if scored >= SHORTLIST || usize::from(hi) >= sketch::BITS {
                    return self.guarded(r, query, (dist, scored_under), top, allow);
                }
                (lo, want) = (Some(hi), want.saturating_mul(4));
            }
        })
    }

    /// Asks for row `i`'s values ahead of scoring it (shortlisted rows are scattered over
    /// the gallery: each would otherwise wait for memory in turn).
    #[inline(always)]
    fn prefetch(&self, r: &Rows, i: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let row = &r.data[i * self.dims..(i + 1) * self.dims];
            for line in row.chunks(64) {
                // SAFETY: SSE is part of x86-64; a prefetch only hints the cache and never
                // faults, and the address lies inside the row slice anyway.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (r, i);
    }
}

/// Integer dot product; uses AVX2 when the CPU has it.
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { dot_i8_avx2(a, b) };
        }
    }
    dot_i8_portable(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    dot_i8_portable(a, b)
}

#[inline(always)]
fn dot_i8_portable(a: &[i8], b: &[i8]) -> i32 {
    const L: usize = 32;
    let mut acc = [0i32; L];
    let (ac, bc) = (a.chunks_exact(L), b.chunks_exact(L));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for k in 0..L {
            acc[k] += i32::from(x[k] as i16 * y[k] as i16);
        }
    }
    let mut s: i32 = acc.iter().sum();
    for (x, y) in ar.iter().zip(br) {
        s += i32::from(*x) * i32::from(*y);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::Scorer;

    fn segs() -> Vec<Segment> {
        vec![
            Segment {
                name: "a".into(),
                offset: 0,
                dims: 64,
            },
            Segment {
                name: "b".into(),
                offset: 64,
                dims: 96,
            },
        ]
    }

    fn unit(seed: u64, n: usize) -> Vec<f32> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut v: Vec<f32> = (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        let nrm = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        v.iter_mut().for_each(|a| *a /= nrm);
        v
    }

    fn template(seed: u64) -> Vec<f32> {
        let mut t = unit(seed, 64);
        t.extend(unit(seed + 1000, 96));
        t
    }

    fn fused() -> Scorer {
        Scorer {
            name: "fused".into(),
            weights: vec![0.5, 0.5],
            bias: 0.0,
            threshold: None,
            threshold_far_1e3: None,
            margin: None,
        }
    }

    #[test]
    fn finds_best_and_second_distinct_identities() {
        let g = Gallery::new(&segs());
        for id in 0..50u64 {
            assert!(g.add(id, id * 10, &template(id)));
            assert!(g.add(id, id * 10 + 1, &template(id + 500)));
        }
        let q = Query::new(&segs(), &fused(), &template(7));
        let top = g.search(&q);
        assert_eq!(top.best.unwrap().identity, 7);
        assert!((top.best.unwrap().score - 1.0).abs() < 0.01);
        assert_ne!(top.second.unwrap().identity, 7);
        assert!(top.margin() > 0.5);
    }

    #[test]
    fn replacing_an_identity_swaps_all_its_templates_at_once() {
        let g = Gallery::new(&segs());
        for id in 0..10u64 {
            g.add(id, id * 10, &template(id));
            g.add(id, id * 10 + 1, &template(id + 500));
        }
        // Person 4 now has one new template; a wrong-length one is left out.
        let n = g.replace_identity(4, &[(99, template(900)), (98, vec![0.0; 3])]);
        assert_eq!((n, g.len(), g.identities()), (1, 19, 10));
        let top = g.search(&Query::new(&segs(), &fused(), &template(900)));
        assert_eq!(top.best.unwrap().identity, 4);
        let old = g.search(&Query::new(&segs(), &fused(), &template(4)));
        assert_ne!(old.best.unwrap().identity, 4);
        // Replacing with nothing removes the person.
        assert_eq!(g.replace_identity(4, &[]), 0);
        assert_eq!((g.len(), g.identities()), (18, 9));
    }

    #[test]
    fn quantised_scores_match_float_scores() {
        let g = Gallery::new(&segs());
        let s = fused();
        for id in 0..200u64 {
            g.add(id, id, &template(id));
        }
        let probe = template(3);
        let top = g.search(&Query::new(&segs(), &s, &probe));
        let exact = s.score(&segs(), &probe, &template(3));
        assert!((top.best.unwrap().score - exact).abs() < 0.005);
        // Second best against the exact float scores of everybody else.
        let want = (0..200u64)
            .filter(|&i| i != 3)
            .map(|i| s.score(&segs(), &probe, &template(i)))
            .fold(f32::MIN, f32::max);
        assert!((top.second.unwrap().score - want).abs() < 0.005);
    }

    #[test]
    fn removal_and_filter() {
        let g = Gallery::new(&segs());
        for id in 0..5u64 {
            g.add(id, 100 + id, &template(id));
        }
        assert_eq!(g.remove_identity(2), 1);
        assert!(!g.remove_template(102));
        assert!(g.remove_template(104));
        assert_eq!(g.len(), 3);
        let q = Query::new(&segs(), &fused(), &template(2));
        assert_ne!(g.search(&q).best.unwrap().identity, 2);
        let only3 = g.search_filtered(&Query::new(&segs(), &fused(), &template(1)), |id| id == 3);
        assert_eq!(only3.best.unwrap().identity, 3);
        assert!(only3.second.is_none());
        assert!(!g.add(9, 9, &[0.0; 3]));
    }

    #[test]
    fn parallel_search_equals_serial() {
        let g = Gallery::new(&segs());
        for id in 0..(PARALLEL_ROWS as u64 + 100) {
            g.add(id % 9000, id, &template(id));
        }
        let q = Query::new(&segs(), &fused(), &template(12345));
        let par = g.search(&q);
        let serial = g.scan(&g.read(), &q, 0..g.len(), &|_| true);
        assert_eq!(par, serial);
    }

    #[test]
    fn top_two_offer_rules() {
        let mut t = TopTwo::default();
        for (id, s) in [(1, 0.5), (2, 0.7), (1, 0.9), (2, 0.8), (3, 0.1)] {
            t.offer(id, s);
        }
        assert_eq!(
            t.best,
            Some(Hit {
                identity: 1,
                score: 0.9
            })
        );
        assert_eq!(
            t.second,
            Some(Hit {
                identity: 2,
                score: 0.8
            })
        );
    }

    #[test]
    fn a_large_gallery_searched_by_sketch_finds_what_the_full_scan_finds() {
        let seg = vec![Segment {
            name: "a".into(),
            offset: 0,
            dims: 128,
        }];
        let one = Scorer {
            weights: vec![1.0],
            ..fused()
        };
        let g = Gallery::new(&seg);
        let n = SHORTLIST_ROWS + 1000;
        g.reserve(n);
        for i in 0..n as u64 {
            g.add(i, i, &unit(i, 128));
        }
        // Probes near planted rows, and strangers; with a filter that refuses even rows.
        for k in 0..40u64 {
            let base = unit(k * 997, 128);
            let noise = unit(k + 5_000_000, 128);
            let mut p: Vec<f32> = base.iter().zip(&noise).map(|(a, b)| a + 0.8 * b).collect();
            crate::vision::embed::normalise(&mut p);
            let probe = if k % 2 == 0 { p } else { noise };
            let q = Query::new(&seg, &one, &probe);
            assert!(q.code.is_some());
            assert_eq!(g.search(&q), g.search_exhaustive(&q, |_| true), "probe {k}");
            let odd = |id: u64| id % 2 == 1;
            assert_eq!(g.search_filtered(&q, odd), g.search_exhaustive(&q, odd));
        }
        // Removal keeps each row's sketch with it.
        let q = Query::new(&seg, &one, &unit(997, 128));
        assert_eq!(g.search(&q).best.unwrap().identity, 997);
        g.remove_identity(3);
        assert_eq!(g.search(&q).best.unwrap().identity, 997);
        g.remove_identity(997);
        assert_ne!(g.search(&q).best.unwrap().identity, 997);
        assert_eq!(g.search(&q), g.search_exhaustive(&q, |_| true));
    }

    #[test]
    fn dot_matches_naive() {
        let a: Vec<i8> = (0..1000).map(|i| ((i * 37) % 255 - 127) as i8).collect();
        let b: Vec<i8> = (0..1000).map(|i| ((i * 91) % 255 - 127) as i8).collect();
        let naive: i32 = a
            .iter()
            .zip(&b)
            .map(|(x, y)| i32::from(*x) * i32::from(*y))
            .sum();
        assert_eq!(dot_i8(&a, &b), naive);
    }
}
