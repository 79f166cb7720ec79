//! The gallery's first pass at city scale: a 256-bit sketch of each template, the signs of
//! a fixed random rotation of it (two rounds of random sign flips and a Walsh–Hadamard
//! transform, then 256 of the outputs). The Hamming distance between two sketches
//! estimates the angle between the templates, so the rows nearest in sketch hold the
//! highest scores; the exact int8 score is then computed on that shortlist only.
//! 32 bytes a template, 1 M of them scanned in a few milliseconds on one core.

/// Bits in a sketch.
pub const BITS: usize = 256;
/// 64-bit words in a sketch.
pub const WORDS: usize = BITS / 64;

// `distances_portable` adds the four words of a sketch.
const _: () = assert!(WORDS == 4);

/// One template's sketch.
pub type Code = [u64; WORDS];

/// A fixed ±1 for position `i` of round `round` (a hash; the same in every process, so
/// sketches of stored templates never need to be recomputed for a new start).
fn flip(round: u64, i: usize) -> bool {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ round;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    x & 1 == 1
}

/// In-place unnormalised Walsh–Hadamard transform (length a power of two).
fn hadamard(x: &mut [f32]) {
    let mut h = 1;
    while h < x.len() {
        for block in x.chunks_exact_mut(2 * h) {
            let (a, b) = block.split_at_mut(h);
            for (p, q) in a.iter_mut().zip(b.iter_mut()) {
                let (s, d) = (*p + *q, *p - *q);
                *p = s;
                *q = d;
            }
        }
        h *= 2;
    }
}

/// Whether templates of `dims` values are sketched (enough dimensions to be worth it).
pub fn applies(dims: usize) -> bool {
    dims >= 64
}

/// The sketch of `v` (any positive scale gives the same sketch).
pub fn sketch(v: &[f32]) -> Code {
    let n = v.len().next_power_of_two().max(BITS);
    let mut x = vec![0.0f32; n];
    for (i, (o, a)) in x.iter_mut().zip(v).enumerate() {
        *o = if flip(1, i) { -a } else { *a };
    }
    hadamard(&mut x);
    for (i, o) in x.iter_mut().enumerate() {
        if flip(2, i) {
            *o = -*o;
        }
    }
    hadamard(&mut x);
    let step = n / BITS;
    let mut code = [0u64; WORDS];
    for b in 0..BITS {
        if x[b * step] > 0.0 {
            code[b / 64] |= 1 << (b % 64);
        }
    }
    code
}

/// A Hamming distance as stored by `distances` (255 stands for 255 and over: rows that far
/// are opposite the probe and never near a decision).
pub type Distance = u8;

/// Hamming distances of `query` to every code, written into `out` (resized to match; every
/// element is overwritten, so the buffer is not cleared first). One streaming pass that only
/// reads the codes and writes a byte a row: at 1 M rows it runs at the memory's speed.
pub fn distances(codes: &[Code], query: &Code, out: &mut Vec<Distance>) {
    out.resize(codes.len(), 0);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512vpopcntdq") {
            // SAFETY: the CPU has AVX-512 VPOPCNTDQ (and so AVX-512F), checked just above.
            return unsafe { distances_avx512(codes, query, out) };
        }
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has POPCNT, checked just above.
            return unsafe { distances_popcnt(codes, query, out) };
        }
    }
    distances_portable(codes, query, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq,popcnt")]
unsafe fn distances_avx512(codes: &[Code], query: &Code, out: &mut [Distance]) {
    distances_portable(codes, query, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn distances_popcnt(codes: &[Code], query: &Code, out: &mut [Distance]) {
    distances_portable(codes, query, out)
}

#[inline(always)]
fn distances_portable(codes: &[Code], query: &Code, out: &mut [Distance]) {
    for (c, o) in codes.iter().zip(out.iter_mut()) {
        let d = (c[0] ^ query[0]).count_ones()
            + (c[1] ^ query[1]).count_ones()
            + (c[2] ^ query[2]).count_ones()
            + (c[3] ^ query[3]).count_ones();
        *o = d.min(255) as Distance;
    }
}

/// The indices of the rows whose distance lies in `lo..=hi`, in order, into `out` (cleared
/// first). Scans 32 distances at a time; few blocks hold one.
pub fn within(dist: &[Distance], lo: u16, hi: u16, out: &mut Vec<u32>) {
    out.clear();
    if lo > hi {
        return;
    }
    let (base, span) = (lo.min(255) as u8, (hi.min(255) - lo.min(255)) as u8);
    let hit = |d: u8| d.wrapping_sub(base) <= span;
    let mut blocks = dist.chunks_exact(32);
    let mut at = 0u32;
    for block in &mut blocks {
        if block.iter().fold(false, |m, &d| m | hit(d)) {
            out.extend((at..).zip(block).filter(|&(_, &d)| hit(d)).map(|(i, _)| i));
        }
        at += 32;
    }
    out.extend(
        (at..)
            .zip(blocks.remainder())
            .filter(|&(_, &d)| hit(d))
            .map(|(i, _)| i),
    );
}

/// The histogram of every `step`-th distance (index = distance): a sample that places a
/// cut-off within a few per cent of where the full count would, at a fraction of its cost.
pub fn histogram(dist: &[Distance], step: usize) -> [u32; BITS + 1] {
    let mut hist = [0u32; BITS + 1];
    for &d in dist.iter().step_by(step.max(1)) {
        hist[usize::from(d)] += 1;
    }
    hist
}

/// The distance under which a row of cosine `cos` to the probe falls but with a chance of
/// a normal tail beyond `z` σ (the sketch's distance is binomial in the angle).
pub fn bound(cos: f32, z: f32) -> u16 {
    let p = f64::from(cos.clamp(-1.0, 1.0)).acos() / std::f64::consts::PI;
    let n = BITS as f64;
    let d = n * p + f64::from(z) * (n * p * (1.0 - p)).sqrt();
    d.ceil().clamp(0.0, n) as u16
}

/// The smallest distance at or under which at least `k` rows lie (all rows if fewer).
pub fn cutoff(hist: &[u32; BITS + 1], k: usize) -> u16 {
    let mut seen = 0usize;
    for (d, &n) in hist.iter().enumerate() {
        seen += n as usize;
        if seen >= k {
            return d as u16;
        }
    }
    BITS as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, n: usize) -> Vec<f32> {
        let mut x = seed | 1;
        let mut v: Vec<f32> = (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        v.iter_mut().for_each(|a| *a /= n);
        v
    }

    fn hamming(a: &Code, b: &Code) -> u32 {
        a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
    }

    #[test]
    fn distance_follows_the_angle() {
        let a = unit(1, 512);
        let b = unit(2, 512);
        // Mixtures of a and b: the closer to a, the nearer its sketch.
        let mix = |w: f32| -> Vec<f32> {
            a.iter()
                .zip(&b)
                .map(|(x, y)| w * x + (1.0 - w) * y)
                .collect()
        };
        let d: Vec<u32> = [1.0, 0.9, 0.7, 0.5, 0.0]
            .iter()
            .map(|&w| hamming(&sketch(&a), &sketch(&mix(w))))
            .collect();
        assert_eq!(d[0], 0);
        assert!(d.windows(2).all(|w| w[0] < w[1]), "{d:?}");
        // Unrelated templates differ in about half the bits.
        assert!((100..=156).contains(&d[4]), "{d:?}");
        // Scale does not matter.
        let scaled: Vec<f32> = a.iter().map(|x| x * 3.5).collect();
        assert_eq!(sketch(&scaled), sketch(&a));
    }

    #[test]
    fn the_bound_covers_what_the_angle_allows() {
        // Identical: 0 expected, a little allowed; orthogonal: half the bits and more.
        assert!(bound(1.0, 3.0) == 0);
        assert!((128..=160).contains(&bound(0.0, 3.0)));
        assert!(bound(0.6, 3.0) < bound(0.4, 3.0));
        // Measured: 200 noisy copies at cosine ~0.5 all fall within the 3 σ bound.
        let a = unit(11, 512);
        for k in 0..200 {
            let n = unit(k + 100, 512);
            let mut v: Vec<f32> = a.iter().zip(&n).map(|(x, y)| x + 1.7 * y).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            let cos: f32 = a.iter().zip(&v).map(|(x, y)| x * y).sum();
            assert!(hamming(&sketch(&a), &sketch(&v)) <= u32::from(bound(cos, 3.5)));
        }
    }

    #[test]
    fn distances_and_cutoff_agree_with_a_plain_count() {
        let codes: Vec<Code> = (0..500).map(|s| sketch(&unit(s + 10, 512))).collect();
        let q = sketch(&unit(7, 512));
        let mut out = Vec::new();
        distances(&codes, &q, &mut out);
        let hist = histogram(&out, 1);
        for (c, d) in codes.iter().zip(&out) {
            assert_eq!(u32::from(*d), hamming(c, &q));
        }
        let cut = cutoff(&hist, 50);
        let under = out.iter().filter(|&&d| u16::from(d) <= cut).count();
        assert!(under >= 50 && out.iter().filter(|&&d| u16::from(d) < cut).count() < 50);
        assert_eq!(cutoff(&hist, 10_000), BITS as u16);
        // `within` lists exactly the rows in the range, in order.
        let mut rows = Vec::new();
        within(&out, 0, cut, &mut rows);
        let plain: Vec<u32> = (0..)
            .zip(&out)
            .filter(|(_, &d)| u16::from(d) <= cut)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(rows, plain);
        within(&out, cut + 1, cut + 3, &mut rows);
        assert!(rows
            .iter()
            .all(|&i| (cut + 1..=cut + 3).contains(&u16::from(out[i as usize]))));
        within(&out, 5, 4, &mut rows);
        assert!(rows.is_empty());
        // A sample of every 4th row puts the cut near the full count's.
        let sample = histogram(&out, 4);
        assert_eq!(sample.iter().sum::<u32>(), 125);
        let near = cutoff(&sample, 50 / 4);
        assert!(near.abs_diff(cut) <= 4, "{near} vs {cut}");
    }
}
