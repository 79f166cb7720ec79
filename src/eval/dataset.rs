//! A labelled face folder: `<identity>/<image>`; folders starting with `_` are not
//! identities (attacks, multi-face, no-face) and are skipped. Order is stable (sorted).

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Sample {
    pub identity: usize,
    pub path: PathBuf,
}

#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub root: PathBuf,
    pub identities: Vec<String>,
    pub samples: Vec<Sample>,
}

pub(crate) fn is_image(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        matches!(
            e.to_ascii_lowercase().as_str(),
            "jpg" | "jpeg" | "png" | "webp"
        )
    })
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.sort();
    Ok(v)
}

impl Dataset {
    pub fn load(dir: &Path) -> std::io::Result<Self> {
        let mut d = Dataset {
            root: dir.to_path_buf(),
            ..Dataset::default()
        };
        for sub in sorted_entries(dir)? {
            let Some(name) = sub.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
                continue;
            };
            if !sub.is_dir() || name.starts_with('_') || name.starts_with('.') {
                continue;
            }
            let files: Vec<PathBuf> = sorted_entries(&sub)?
                .into_iter()
                .filter(|p| is_image(p))
                .collect();
            if files.is_empty() {
                continue;
            }
            let id = d.identities.len();
            d.identities.push(name);
            d.samples
                .extend(files.into_iter().map(|path| Sample { identity: id, path }));
        }
        Ok(d)
    }

    /// Images of one special folder such as `_multi`, sorted.
    pub fn special(dir: &Path, folder: &str) -> std::io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let root = dir.join(folder);
        for p in sorted_entries(&root)? {
            if p.is_dir() {
                out.extend(sorted_entries(&p)?.into_iter().filter(|p| is_image(p)));
            } else if is_image(&p) {
                out.push(p);
            }
        }
        Ok(out)
    }
}
