//! Distractor sets for large-gallery identification (`hoso eval --distractors DIR[,DIR…]`):
//! folders of one person each (`<person>/<photo>`, the first photo taken), embedded on every
//! core, with near-duplicates dropped before anything is measured — the source sets hold the
//! same photo re-encoded or re-cropped under different serials, which would count as
//! "strangers who look alike" when they are the same person. Nothing here is stored: the
//! templates live only for the run.

use std::path::{Path, PathBuf};

use super::EvalError;
use crate::score::dot;
use crate::vision::{decode, primary_face, DecodeLimits, FaceEngine, Segment};

/// Cosine at or above which two distractor photos are taken for the same person. Genuine
/// pairs of the dev set sit mostly above it; among deduplicated East Asian adults an
/// impostor pair reaches it about once in 10⁵ (see the report's tail).
pub const NEAR_DUPLICATE: f32 = 0.62;

/// The usable distractors of one or more folders.
#[derive(Debug, Clone, Default)]
pub struct Distractors {
    /// Photo of each kept person, in a stable order.
    pub photos: Vec<PathBuf>,
    /// The kiosk scorer's template of each kept person (L2-normalised per segment).
    pub templates: Vec<Vec<f32>>,
    /// Person folders seen.
    pub folders: usize,
    /// Photos that could not be read or showed no face.
    pub failed: usize,
    /// Near-duplicates dropped (the later of each pair at or above `NEAR_DUPLICATE`).
    pub near_duplicates: usize,
    /// Pairs of photos (before deduplication) by cosine, in bins of 0.02 from 0.50: where
    /// the impostor tail ends and the near-duplicates begin.
    pub pair_histogram: Vec<(f32, usize)>,
    /// Distractors dropped as the same person as one of the labelled set's identities (the
    /// source set holds some well-known people's photos).
    pub known_people: usize,
}

impl Distractors {
    /// Drops every distractor at or above `NEAR_DUPLICATE` to any of `known` (templates of
    /// the labelled set): they are those people, not strangers. Returns how many.
    pub fn drop_known(&mut self, segments: &[Segment], known: &[&[f32]]) -> usize {
        let keep: Vec<bool> = self
            .templates
            .iter()
            .map(|t| {
                known
                    .iter()
                    .all(|k| cosine(segments, k, t) < NEAR_DUPLICATE)
            })
            .collect();
        let mut i = 0;
        self.photos.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        let mut i = 0;
        self.templates.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        let dropped = keep.iter().filter(|k| !**k).count();
        self.known_people += dropped;
        dropped
    }
}

/// A seeded split of `count` distractors into (strangers, gallery pool): `strangers` held
/// out (at most a quarter), the rest in a shuffled order the gallery fills from.
pub fn split(count: usize, strangers: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut order: Vec<usize> = (0..count).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let pool = order.split_off(strangers.min(count / 4));
    (order, pool)
}

/// Gallery sizes within a pool of `pool` (0 = all of it), ascending, each once.
pub fn sizes(asked: &[usize], pool: usize) -> Vec<usize> {
    let mut v: Vec<usize> = asked
        .iter()
        .map(|&n| if n == 0 { pool } else { n.min(pool) })
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The first image of every person folder under each of `dirs`, sorted.
fn person_photos(dirs: &[PathBuf]) -> Result<(Vec<PathBuf>, usize), EvalError> {
    let mut out = Vec::new();
    let mut folders = 0;
    for dir in dirs {
        let folder = |source| EvalError::Folder {
            path: dir.display().to_string(),
            source,
        };
        let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(folder)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        subs.sort();
        for sub in subs {
            folders += 1;
            let Ok(rd) = std::fs::read_dir(&sub) else {
                continue;
            };
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| super::dataset::is_image(p))
                .collect();
            files.sort();
            out.extend(files.into_iter().next());
        }
    }
    if out.is_empty() {
        return Err(EvalError::Empty(
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(","),
        ));
    }
    Ok((out, folders))
}

/// The main face's template of one photo, if it has one.
pub fn embed_photo(
    engine: &FaceEngine,
    path: &Path,
    min_face: f32,
    limits: &DecodeLimits,
) -> Result<Option<Vec<f32>>, EvalError> {
    let Some(img) = std::fs::read(path)
        .ok()
        .and_then(|b| decode(&b, limits).ok())
    else {
        return Ok(None);
    };
    let faces = engine.detect_framed(&img, min_face)?;
    let Some(face) = primary_face(&faces, img.width(), img.height()) else {
        return Ok(None);
    };
    Ok(engine.embed(&img, std::slice::from_ref(face))?.pop())
}

/// Embeds `paths` on `workers` threads, keeping their order.
pub fn embed_all(
    engine: &FaceEngine,
    paths: &[PathBuf],
    min_face: f32,
    limits: &DecodeLimits,
    workers: usize,
) -> Result<Vec<Option<Vec<f32>>>, EvalError> {
    let workers = workers.clamp(1, 16);
    let chunk = paths.len().div_ceil(workers).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|p| embed_photo(engine, p, min_face, limits))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(paths.len());
        for h in handles {
            let part = h
                .join()
                .map_err(|_| EvalError::Calibrate("an embedding thread panicked".into()))??;
            out.extend(part);
        }
        Ok(out)
    })
}

/// The mean cosine of two templates over their embedder segments (whatever the profile,
/// one scale for `NEAR_DUPLICATE`).
pub fn cosine(segments: &[Segment], a: &[f32], b: &[f32]) -> f32 {
    segments
        .iter()
        .map(|s| {
            dot(
                &a[s.offset..s.offset + s.dims],
                &b[s.offset..s.offset + s.dims],
            )
        })
        .sum::<f32>()
        / segments.len().max(1) as f32
}

/// Indices to keep so that no two kept templates have a cosine of `limit` or more (greedy,
/// in order: the first of a near-duplicate pair stays).
pub fn dedup(segments: &[Segment], templates: &[Vec<f32>], limit: f32) -> Vec<usize> {
    let mut kept: Vec<usize> = Vec::with_capacity(templates.len());
    for (i, t) in templates.iter().enumerate() {
        if kept
            .iter()
            .all(|&k| cosine(segments, &templates[k], t) < limit)
        {
            kept.push(i);
        }
    }
    kept
}

/// Loads, embeds and deduplicates the distractors of `dirs`.
pub fn load(
    engine: &FaceEngine,
    dirs: &[PathBuf],
    min_face: f32,
    limits: &DecodeLimits,
) -> Result<Distractors, EvalError> {
    let (paths, folders) = person_photos(dirs)?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let embedded = embed_all(engine, &paths, min_face, limits, workers)?;
    let mut photos = Vec::new();
    let mut templates = Vec::new();
    let mut failed = 0;
    for (p, t) in paths.into_iter().zip(embedded) {
        match t {
            Some(t) => {
                photos.push(p);
                templates.push(t);
            }
            None => failed += 1,
        }
    }
    let segs = engine.segments();
    let mut bins = vec![0usize; 25];
    for (i, a) in templates.iter().enumerate() {
        for b in &templates[i + 1..] {
            let c = cosine(segs, a, b);
            if c >= 0.5 {
                bins[(((c - 0.5) / 0.02) as usize).min(24)] += 1;
            }
        }
    }
    let keep = dedup(segs, &templates, NEAR_DUPLICATE);
    let near_duplicates = templates.len() - keep.len();
    Ok(Distractors {
        photos: keep.iter().map(|&i| photos[i].clone()).collect(),
        templates: keep.iter().map(|&i| templates[i].clone()).collect(),
        folders,
        failed,
        near_duplicates,
        pair_histogram: bins
            .into_iter()
            .enumerate()
            .map(|(i, n)| (0.5 + 0.02 * i as f32, n))
            .collect(),
        known_people: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn near_duplicates_keep_the_first_of_each_pair() {
        let t = vec![
            unit(&[1.0, 0.0, 0.0]),
            unit(&[0.0, 1.0, 0.0]),
            unit(&[0.99, 0.1, 0.0]), // a re-encoding of the first
            unit(&[0.0, 0.0, 1.0]),
            unit(&[0.5, 0.5, 0.0]), // 0.71 to both first and second
        ];
        let segs = [Segment {
            name: "e".into(),
            offset: 0,
            dims: 3,
        }];
        assert_eq!(dedup(&segs, &t, 0.62), vec![0, 1, 3]);
        assert_eq!(dedup(&segs, &t, 0.999), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn the_split_is_seeded_disjoint_and_the_sizes_fit_the_pool() {
        let (s, p) = split(100, 40, 7);
        assert_eq!((s.len(), p.len()), (25, 75));
        assert_eq!(split(100, 40, 7), (s.clone(), p.clone()));
        let mut all: Vec<usize> = s.iter().chain(&p).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(sizes(&[1000, 10, 0, 75], 75), vec![10, 75]);
    }
}
