use hoso::eval::dataset::Dataset;
use hoso::vision::*;
fn main() {
    let dir = std::path::Path::new("../shared/faces");
    let cfg = hoso::config::Config::default();
    let e = FaceEngine::load(&cfg.models_dir(), &cfg.engine_options()).unwrap();
    let d = Dataset::load(dir).unwrap();
    let mut embs = vec![];
    for s in d
        .samples
        .iter()
        .filter(|s| d.identities[s.identity].starts_with("nuaa"))
    {
        let img = decode(&std::fs::read(&s.path).unwrap(), &DecodeLimits::default()).unwrap();
        let faces = e.detect(&img, 40.0).unwrap();
        let f = primary_face(&faces, img.width(), img.height()).unwrap();
        println!(
            "{} faces={} main={:?}",
            s.path.display(),
            faces.len(),
            f.bbox
        );
        embs.push((
            s.identity,
            s.path.clone(),
            e.embed(&img, &[*f]).unwrap().remove(0),
        ));
    }
    let segs = e.segments();
    let sc = hoso::score::scorers(&e.manifest, segs, None);
    for i in 0..embs.len() {
        for j in i + 1..embs.len() {
            if embs[i].0 == embs[j].0 {
                continue;
            }
            let v: Vec<f32> = sc
                .iter()
                .map(|s| s.score(segs, &embs[i].2, &embs[j].2))
                .collect();
            if v[0] > 0.95 || v[1] > 0.70 {
                println!("{:?} {} {}", v, embs[i].1.display(), embs[j].1.display());
            }
        }
    }
}
