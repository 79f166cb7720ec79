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

/// Hamming distances of `query` to every code, written into `out` (cleared first), with
/// their histogram (index = distance).
pub fn distances(codes: &[Code], query: &Code, out: &mut Vec<u16>) -> [u32; BITS + 1] {
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
unsafe fn distances_avx512(codes: &[Code], query: &Code, out: &mut Vec<u16>) -> [u32; BITS + 1] {
    distances_portable(codes, query, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn distances_popcnt(codes: &[Code], query: &Code, out: &mut Vec<u16>) -> [u32; BITS + 1] {
    distances_portable(codes, query, out)
}

#[inline(always)]
fn distances_portable(codes: &[Code], query: &Code, out: &mut Vec<u16>) -> [u32; BITS + 1] {
    let mut hist = [0u32; BITS + 1];
    out.clear();
    out.reserve(codes.len());
    for c in codes {
        let d: u32 = c.iter().zip(query).map(|(a, b)| (a ^ b).count_ones()).sum();
        hist[d as usize] += 1;
        out.push(d as u16);
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
        let hist = distances(&codes, &q, &mut out);
        for (c, d) in codes.iter().zip(&out) {
            assert_eq!(u32::from(*d), hamming(c, &q));
        }
        let cut = cutoff(&hist, 50);
        let under = out.iter().filter(|&&d| d <= cut).count();
        assert!(under >= 50 && out.iter().filter(|&&d| d < cut).count() < 50);
        assert_eq!(cutoff(&hist, 10_000), BITS as u16);
    }
}
