//! Box arithmetic of the MTCNN cascade: candidates, non-maximum suppression, squaring,
//! regression and the padding of boxes that cross the image border. All in f64 and with
//! the reference implementation's conventions (inclusive pixel boxes, 1-based padding).

/// A face candidate in image pixels.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cand {
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
    pub score: f64,
    /// Box regression (dx1, dy1, dx2, dy2) from the network that scored it.
    pub reg: [f64; 4],
    /// Landmarks x1..x5 then y1..y5 (filled by the last stage).
    pub lm: [f64; 10],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    Union,
    Min,
}

/// Keeps the best-scoring candidates whose overlap with every kept one is <= `threshold`.
/// Returns the survivors best first.
pub fn nms(cands: &[Cand], threshold: f64, mode: Overlap) -> Vec<Cand> {
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by(|&a, &b| cands[b].score.total_cmp(&cands[a].score));
    let area = |c: &Cand| (c.x2 - c.x1 + 1.0) * (c.y2 - c.y1 + 1.0);
    let mut keep: Vec<Cand> = Vec::new();
    let mut alive = vec![true; order.len()];
    for i in 0..order.len() {
        if !alive[i] {
            continue;
        }
        let a = &cands[order[i]];
        keep.push(*a);
        let aa = area(a);
        for j in i + 1..order.len() {
            if !alive[j] {
                continue;
            }
            let b = &cands[order[j]];
            let w = (a.x2.min(b.x2) - a.x1.max(b.x1) + 1.0).max(0.0);
            let h = (a.y2.min(b.y2) - a.y1.max(b.y1) + 1.0).max(0.0);
            let inter = w * h;
            let o = match mode {
                Overlap::Union => inter / (aa + area(b) - inter),
                Overlap::Min => inter / aa.min(area(b)),
            };
            if o > threshold {
                alive[j] = false;
            }
        }
    }
    keep
}

/// Makes each box square around its centre, on its longer side.
pub fn square(c: &mut Cand) {
    let w = c.x2 - c.x1;
    let h = c.y2 - c.y1;
    let l = w.max(h);
    c.x1 += w * 0.5 - l * 0.5;
    c.y1 += h * 0.5 - l * 0.5;
    c.x2 = c.x1 + l;
    c.y2 = c.y1 + l;
}

/// Applies the regression of a refinement stage (box size counted inclusively).
pub fn regress(c: &mut Cand) {
    let w = c.x2 - c.x1 + 1.0;
    let h = c.y2 - c.y1 + 1.0;
    c.x1 += c.reg[0] * w;
    c.y1 += c.reg[1] * h;
    c.x2 += c.reg[2] * w;
    c.y2 += c.reg[3] * h;
}

/// Truncates the box corners toward zero, as the reference does between stages.
pub fn fix(c: &mut Cand) {
    c.x1 = c.x1.trunc();
    c.y1 = c.y1.trunc();
    c.x2 = c.x2.trunc();
    c.y2 = c.y2.trunc();
}

/// How to copy a (possibly out-of-image) box into a zero-padded patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patch {
    /// Patch size (the box size, inclusive).
    pub w: usize,
    pub h: usize,
    /// Source rectangle inside the image, half-open.
    pub sx: usize,
    pub sy: usize,
    pub sw: usize,
    pub sh: usize,
    /// Where that rectangle goes in the patch.
    pub dx: usize,
    pub dy: usize,
}

/// The reference `pad`: clips a fixed box to the image and says where the visible part goes.
/// Returns None for a box with no visible part or a degenerate size.
pub fn patch(c: &Cand, img_w: usize, img_h: usize) -> Option<Patch> {
    let (x1, y1, x2, y2) = (c.x1 as i64, c.y1 as i64, c.x2 as i64, c.y2 as i64);
    let tw = x2 - x1 + 1;
    let th = y2 - y1 + 1;
    if tw < 1 || th < 1 || tw > 16384 || th > 16384 {
        return None;
    }
    // 1-based coordinates as in the reference: the box column x maps to image column x-1.
    let (w, h) = (img_w as i64, img_h as i64);
    let (mut dx, mut dy, mut edx, mut edy) = (1i64, 1i64, tw, th);
    let (mut x, mut y, mut ex, mut ey) = (x1, y1, x2, y2);
    if ex > w {
        edx = -ex + w + tw;
        ex = w;
    }
    if ey > h {
        edy = -ey + h + th;
        ey = h;
    }
    if x < 1 {
        dx = 2 - x;
        x = 1;
    }
    if y < 1 {
        dy = 2 - y;
        y = 1;
    }
    let sw = ex - x + 1;
    let sh = ey - y + 1;
    if sw < 1 || sh < 1 || edx - dx + 1 != sw || edy - dy + 1 != sh {
        return None;
    }
    Some(Patch {
        w: tw as usize,
        h: th as usize,
        sx: (x - 1) as usize,
        sy: (y - 1) as usize,
        sw: sw as usize,
        sh: sh as usize,
        dx: (dx - 1) as usize,
        dy: (dy - 1) as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(x1: f64, y1: f64, x2: f64, y2: f64, s: f64) -> Cand {
        Cand {
            x1,
            y1,
            x2,
            y2,
            score: s,
            ..Cand::default()
        }
    }

    #[test]
    fn nms_drops_overlaps_keeps_disjoint() {
        let v = [
            c(0., 0., 10., 10., 0.9),
            c(1., 1., 11., 11., 0.8),
            c(50., 50., 60., 60., 0.7),
        ];
        let k = nms(&v, 0.5, Overlap::Union);
        assert_eq!(k.len(), 2);
        assert_eq!(k[0].score, 0.9);
        assert_eq!(k[1].score, 0.7);
    }

    #[test]
    fn nms_min_mode_removes_contained_box() {
        let v = [c(0., 0., 100., 100., 0.9), c(10., 10., 30., 30., 0.95)];
        assert_eq!(nms(&v, 0.7, Overlap::Min).len(), 1);
        assert_eq!(nms(&v, 0.7, Overlap::Union).len(), 2);
    }

    #[test]
    fn square_keeps_centre() {
        let mut b = c(10., 20., 30., 60., 1.);
        square(&mut b);
        assert_eq!((b.x2 - b.x1, b.y2 - b.y1), (40., 40.));
        assert_eq!(((b.x1 + b.x2) / 2., (b.y1 + b.y2) / 2.), (20., 40.));
    }

    #[test]
    fn patch_clips_border_boxes() {
        // Box from -5 to 14 in a 10-px image: 20 px wide, visible columns 0..10.
        let p = patch(&c(-5., -5., 14., 14., 1.), 10, 10).unwrap();
        assert_eq!((p.w, p.h), (20, 20));
        assert_eq!((p.sx, p.sy, p.sw, p.sh), (0, 0, 10, 10));
        assert_eq!((p.dx, p.dy), (6, 6));
        let inside = patch(&c(2., 3., 5., 7., 1.), 10, 10).unwrap();
        assert_eq!((inside.sx, inside.sy, inside.sw, inside.sh), (1, 2, 4, 5));
        assert!(patch(&c(20., 20., 30., 30., 1.), 10, 10).is_none());
    }
}
