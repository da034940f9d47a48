//! The few SVG primitives the charts need: a plotting frame with linear scales, axes with
//! tick labels, lines, bands, points. Text uses the page's CSS font stack (no font files).

use std::fmt::Write;

use crate::html::esc;

/// A plotting area of `W` x `H` user units with margins, mapping data to pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    pub(crate) x0: f64,
    pub(crate) x1: f64,
    pub(crate) y0: f64,
    pub(crate) y1: f64,
}

pub(crate) const W: f64 = 640.0;
pub(crate) const H: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 32.0;

impl Frame {
    /// A frame over `[x0, x1] x [y0, y1]`; degenerate ranges are widened so nothing divides
    /// by zero.
    pub(crate) fn new(x0: f64, x1: f64, y0: f64, y1: f64) -> Self {
        let widen = |a: f64, b: f64| if b > a { (a, b) } else { (a - 0.5, a + 0.5) };
        let (x0, x1) = widen(x0, x1);
        let (y0, y1) = widen(y0, y1);
        Frame { x0, x1, y0, y1 }
    }

    pub(crate) fn x(&self, v: f64) -> f64 {
        LEFT + (v - self.x0) / (self.x1 - self.x0) * (W - LEFT - RIGHT)
    }

    pub(crate) fn y(&self, v: f64) -> f64 {
        H - BOTTOM - (v - self.y0) / (self.y1 - self.y0) * (H - TOP - BOTTOM)
    }
}

/// Opens an `<svg>` labelled by the element with id `title_id` (the figure's caption).
pub(crate) fn open(out: &mut String, title_id: &str) {
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {W} {H}" role="img" aria-labelledby="{title_id}">"#
    );
}

/// About five round tick values covering `[lo, hi]`.
pub(crate) fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// Gridlines and labels: `yticks` along the left, `xticks` along the bottom.
pub(crate) fn axes(
    out: &mut String,
    f: &Frame,
    yticks: &[(f64, String)],
    xticks: &[(f64, String)],
) {
    let (l, r) = (f.x(f.x0), f.x(f.x1));
    let (b, t) = (f.y(f.y0), f.y(f.y1));
    for (v, label) in yticks {
        let y = f.y(*v);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{l:.1}" x2="{r:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            l - 4.0,
            y + 4.0,
            esc(label)
        );
    }
    for (v, label) in xticks {
        let x = f.x(*v);
        let _ = write!(
            out,
            r#"<line class="axis" x1="{x:.1}" x2="{x:.1}" y1="{b:.1}" y2="{:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            b + 4.0,
            b + 16.0,
            esc(label)
        );
    }
    let _ = write!(
        out,
        r#"<polyline class="axis" points="{l:.1},{t:.1} {l:.1},{b:.1} {r:.1},{b:.1}"/>"#
    );
}

/// Points as an SVG `points` attribute.
fn points(f: &Frame, pts: impl IntoIterator<Item = (f64, f64)>) -> String {
    let mut s = String::new();
    for (x, y) in pts {
        let _ = write!(s, "{:.1},{:.1} ", f.x(x), f.y(y));
    }
    s.trim_end().to_string()
}

/// A polyline through the points, broken at gaps (runs are separate lists).
pub(crate) fn line(out: &mut String, f: &Frame, class: &str, pts: &[(f64, f64)]) {
    if !pts.is_empty() {
        let _ = write!(
            out,
            r#"<polyline class="{class}" points="{}"/>"#,
            points(f, pts.iter().copied())
        );
    }
}

/// A band between `(x, lo, hi)` triples.
pub(crate) fn band(out: &mut String, f: &Frame, class: &str, pts: &[(f64, f64, f64)]) {
    if pts.is_empty() {
        return;
    }
    let upper = pts.iter().map(|p| (p.0, p.2));
    let lower = pts.iter().rev().map(|p| (p.0, p.1));
    let _ = write!(
        out,
        r#"<polygon class="{class}" points="{}"/>"#,
        points(f, upper.chain(lower))
    );
}

/// A horizontal line across the frame at `y`, labelled at the right.
pub(crate) fn hline(out: &mut String, f: &Frame, class: &str, y: f64, label: &str) {
    let (l, r, yy) = (f.x(f.x0), f.x(f.x1), f.y(y));
    let _ = write!(
        out,
        r#"<line class="{class}" x1="{l:.1}" x2="{r:.1}" y1="{yy:.1}" y2="{yy:.1}"/><text class="note" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
        r - 2.0,
        yy - 3.0,
        esc(label)
    );
}

/// A legend entry at the top left, `i`-th from the left.
pub(crate) fn legend(out: &mut String, i: usize, class: &str, label: &str) {
    let x = LEFT + 8.0 + i as f64 * 150.0;
    let _ = write!(
        out,
        r#"<line class="{class}" x1="{x:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/><text class="note" x="{:.1}" y="{:.1}">{}</text>"#,
        x + 18.0,
        TOP + 6.0,
        TOP + 6.0,
        x + 22.0,
        TOP + 10.0,
        esc(label)
    );
}
