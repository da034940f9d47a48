//! The few SVG primitives the charts need: a plotting frame with linear scales, axes with
//! tick labels (see [`crate::ticks`]), lines, bands, points, a legend row above the plot and
//! point labels placed clear of each other. Text uses the page's CSS font stack (no font
//! files), so its width here is an estimate (see [`text_width`]).

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
/// Room above the plot for the legend row: the legend never covers data or labels.
const TOP: f64 = 30.0;
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

    /// The plotting area in user units.
    pub(crate) fn area(&self) -> Rect {
        Rect {
            x0: LEFT,
            y0: TOP,
            x1: W - RIGHT,
            y1: H - BOTTOM,
        }
    }
}

/// A rectangle in user units (`x0 <= x1`, `y0 <= y1`, y downwards).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rect {
    pub(crate) x0: f64,
    pub(crate) y0: f64,
    pub(crate) x1: f64,
    pub(crate) y1: f64,
}

impl Rect {
    /// The area two rectangles share (0 when apart or only touching).
    pub(crate) fn overlap(&self, o: &Rect) -> f64 {
        let w = self.x1.min(o.x1) - self.x0.max(o.x0);
        let h = self.y1.min(o.y1) - self.y0.max(o.y0);
        if w > 0.0 && h > 0.0 { w * h } else { 0.0 }
    }

    /// Whether `o` lies wholly inside.
    #[cfg(test)]
    pub(crate) fn holds(&self, o: &Rect) -> bool {
        o.x0 >= self.x0 && o.x1 <= self.x1 && o.y0 >= self.y0 && o.y1 <= self.y1
    }
}

/// Estimated width of `text` at `px` pixels of the page's sans-serif font, bold or not.
/// The widths are at or above those of DejaVu Sans Bold (the widest of the system fonts the
/// page names, and Linux's usual `system-ui`), so estimates err on the side of more room.
pub(crate) fn text_width(text: &str, px: f64) -> f64 {
    text.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | 'I' | '.' | ',' | ':' | ';' | '!' | '|' | '\'' | ' ' => 0.38,
            'm' | 'w' | 'M' | 'W' | '%' => 1.0,
            c if c.is_ascii_uppercase() || c.is_ascii_digit() => 0.78,
            _ => 0.66,
        })
        .sum::<f64>()
        * px
}

/// Opens an `<svg>` labelled by the element with id `title_id` (the figure's caption); its
/// `data-plot` attribute is the plotting area (`left top right bottom`), for tests.
pub(crate) fn open(out: &mut String, title_id: &str) {
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {W} {H}" role="img" aria-labelledby="{title_id}" data-plot="{LEFT} {TOP} {} {}">"#,
        W - RIGHT,
        H - BOTTOM
    );
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
            r#"<line class="grid" x1="{l:.1}" x2="{r:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick y" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            l - 4.0,
            y + 4.0,
            esc(label)
        );
    }
    for (v, label) in xticks {
        let x = f.x(*v);
        // A label centred on a tick near either edge would be cut off: align it to the edge.
        let half = text_width(label, 11.0) / 2.0;
        let anchor = if x + half > W {
            "end"
        } else if x - half < 0.0 {
            "start"
        } else {
            "middle"
        };
        let _ = write!(
            out,
            r#"<line class="axis" x1="{x:.1}" x2="{x:.1}" y1="{b:.1}" y2="{:.1}"/><text class="tick x" x="{x:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
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

/// A horizontal line across the frame at `y`, labelled at the right; returns the label's box.
pub(crate) fn hline(out: &mut String, f: &Frame, class: &str, y: f64, label: &str) -> Rect {
    let (l, r, yy) = (f.x(f.x0), f.x(f.x1), f.y(y));
    let _ = write!(
        out,
        r#"<line class="{class}" x1="{l:.1}" x2="{r:.1}" y1="{yy:.1}" y2="{yy:.1}"/><text class="note" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
        r - 2.0,
        yy - 3.0,
        esc(label)
    );
    Rect {
        x0: r - 2.0 - text_width(label, 10.0),
        y0: yy - 13.0,
        x1: r - 2.0,
        y1: yy - 1.0,
    }
}

/// The legend: one row of (class, label) entries above the plotting area, left to right.
/// `class` styles the sample line; `partial` draws a shaded swatch like [`shade`].
pub(crate) fn legend(out: &mut String, entries: &[(&str, &str)]) {
    let y = TOP / 2.0;
    let mut x = LEFT;
    out.push_str(r#"<g class="legend">"#);
    for (class, label) in entries {
        if *class == "partial" {
            let _ = write!(
                out,
                r#"<rect class="partial" x="{x:.1}" y="{:.1}" width="18" height="10"/>"#,
                y - 5.0
            );
        } else {
            let _ = write!(
                out,
                r#"<line class="{class}" x1="{x:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/>"#,
                x + 18.0
            );
        }
        let _ = write!(
            out,
            r#"<text class="note" x="{:.1}" y="{:.1}">{}</text>"#,
            x + 22.0,
            y + 3.5,
            esc(label)
        );
        x += 22.0 + text_width(label, 10.0) + 18.0;
    }
    out.push_str("</g>");
}

/// A shaded column over `[x0, x1]` in data units, clipped to the frame: a partial window.
pub(crate) fn shade(out: &mut String, f: &Frame, x0: f64, x1: f64, title: &str) {
    let a = f.area();
    let (l, r) = (f.x(x0).max(a.x0), f.x(x1).min(a.x1));
    if r > l {
        let _ = write!(
            out,
            r#"<rect class="partial" x="{l:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>{}</title></rect>"#,
            a.y0,
            r - l,
            a.y1 - a.y0,
            esc(title)
        );
    }
}

/// A label to place beside its point.
#[derive(Debug, Clone)]
pub(crate) struct PointLabel {
    /// The point, in user units.
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) text: String,
}

/// Where a label went: its text's box, the anchor point of its baseline, whether it is
/// right- or left-aligned, and whether it sits away from its point (then a leader line
/// joins them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Placed {
    pub(crate) bbox: Rect,
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) end: bool,
    pub(crate) leader: bool,
}

const LABEL_PX: f64 = 10.0;
/// Points are drawn with this radius.
pub(crate) const DOT_R: f64 = 3.5;

/// Greedy label placement: labels are placed one after another (in the given order), each at
/// the first of a list of positions around its point (right, left, then further up and down
/// and further aside, with a leader line) whose box lies inside `area` and overlaps no point,
/// no placed label and no box in `avoid`. A label with no free position is not placed
/// (`None`): a crowded plot leaves it to the list of names beside the chart rather than draw
/// one name over another.
pub(crate) fn place_labels(
    labels: &[PointLabel],
    area: Rect,
    avoid: &[Rect],
) -> Vec<Option<Placed>> {
    let dots: Vec<Rect> = labels
        .iter()
        .map(|l| Rect {
            x0: l.x - DOT_R,
            y0: l.y - DOT_R,
            x1: l.x + DOT_R,
            y1: l.y + DOT_R,
        })
        .collect();
    let mut placed: Vec<Option<Placed>> = Vec::new();
    // Vertical offsets by one line at a time, alternately up and down; then further aside.
    // At most three lines away: a longer leader line crosses too much of the plot to read.
    let dys: Vec<f64> = (0..=3)
        .flat_map(|k| {
            let d = f64::from(k) * 13.0;
            if k == 0 { vec![0.0] } else { vec![-d, d] }
        })
        .collect();
    for l in labels {
        let w = text_width(&l.text, LABEL_PX);
        let h = LABEL_PX + 2.0;
        let mut found: Option<Placed> = None;
        'search: for dx in [0.0, 24.0] {
            for &dy in &dys {
                for (end, up) in [(false, true), (false, false), (true, true), (true, false)] {
                    if dy != 0.0 && up != (dy < 0.0) {
                        continue;
                    }
                    // Baseline just above (or below) the point, beside it.
                    let base = if up { l.y - 5.0 } else { l.y + 5.0 + LABEL_PX };
                    let y = base + dy;
                    let x = if end { l.x - 6.0 - dx } else { l.x + 6.0 + dx };
                    let bbox = Rect {
                        x0: if end { x - w } else { x },
                        y0: y - LABEL_PX,
                        x1: if end { x } else { x + w },
                        y1: y - LABEL_PX + h,
                    };
                    if !(bbox.x0 >= area.x0
                        && bbox.x1 <= area.x1
                        && bbox.y0 >= area.y0
                        && bbox.y1 <= area.y1)
                    {
                        continue;
                    }
                    // Its own point counts too: a label on its dot hides it.
                    let clash = dots.iter().any(|d| d.overlap(&bbox) > 0.0)
                        || placed.iter().flatten().any(|p| p.bbox.overlap(&bbox) > 0.0)
                        || avoid.iter().any(|a| a.overlap(&bbox) > 0.0);
                    if !clash {
                        found = Some(Placed {
                            bbox,
                            x,
                            y,
                            end,
                            leader: dy != 0.0 || dx != 0.0,
                        });
                        break 'search;
                    }
                }
            }
        }
        placed.push(found);
    }
    placed
}

/// Draws placed labels (class `label`), with a leader line to the point when moved away; the
/// lines first, so that no line is drawn over a label.
pub(crate) fn draw_labels(out: &mut String, labels: &[PointLabel], placed: &[Option<Placed>]) {
    for (l, p) in labels.iter().zip(placed) {
        let Some(p) = p else {
            continue;
        };
        if p.leader {
            let lx = if p.end { p.bbox.x1 } else { p.bbox.x0 };
            let ly = (p.bbox.y0 + p.bbox.y1) / 2.0;
            let _ = write!(
                out,
                r#"<line class="leader" x1="{:.1}" y1="{:.1}" x2="{lx:.1}" y2="{ly:.1}"/>"#,
                l.x, l.y
            );
        }
    }
    for (l, p) in labels.iter().zip(placed) {
        let Some(p) = p else {
            continue;
        };
        let _ = write!(
            out,
            r#"<text class="label" x="{:.1}" y="{:.1}"{}>{}</text>"#,
            p.x,
            p.y,
            if p.end { r#" text-anchor="end""# } else { "" },
            esc(&l.text)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area() -> Rect {
        Rect {
            x0: LEFT,
            y0: TOP,
            x1: W - RIGHT,
            y1: H - BOTTOM,
        }
    }

    #[test]
    fn labels_of_points_that_would_collide_are_placed_apart_and_inside() {
        // Five outliers at nearly the same place, one at the plot's top right corner, one at
        // its left edge: every label inside the area, none over another or over a point.
        let mut labels: Vec<PointLabel> = (0..5)
            .map(|i| PointLabel {
                x: 300.0 + i as f64,
                y: 100.0 + i as f64 * 2.0,
                text: format!("BOROUGH {i}"),
            })
            .collect();
        labels.push(PointLabel {
            x: W - RIGHT,
            y: TOP,
            text: "CORNER".into(),
        });
        labels.push(PointLabel {
            x: LEFT,
            y: 150.0,
            text: "LEFT EDGE GROUP".into(),
        });
        let centre = Rect {
            x0: 500.0,
            y0: 120.0,
            x1: 600.0,
            y1: 132.0,
        };
        let placed: Vec<Placed> = place_labels(&labels, area(), &[centre])
            .into_iter()
            .map(|p| p.expect("room for every label"))
            .collect();
        assert_eq!(placed.len(), labels.len());
        for (i, p) in placed.iter().enumerate() {
            assert!(area().holds(&p.bbox), "{i} outside: {p:?}");
            assert_eq!(p.bbox.overlap(&centre), 0.0, "{i} over the avoided box");
            for (j, q) in placed.iter().enumerate().skip(i + 1) {
                assert_eq!(p.bbox.overlap(&q.bbox), 0.0, "{i} and {j} overlap");
            }
            for l in &labels {
                let dot = Rect {
                    x0: l.x - DOT_R,
                    y0: l.y - DOT_R,
                    x1: l.x + DOT_R,
                    y1: l.y + DOT_R,
                };
                assert_eq!(p.bbox.overlap(&dot), 0.0, "{i} over a point");
            }
        }
        // The crowd needed leader lines; a lone point did not.
        assert!(placed[..5].iter().any(|p| p.leader));
        assert!(!placed[6].leader);
    }

    #[test]
    fn a_label_with_no_free_place_is_left_out() {
        // Wider than the plot; and a crowd of 40 points in a column with long names: the
        // labels that find no room are left out, the others placed apart.
        let wide = vec![PointLabel {
            x: 300.0,
            y: 100.0,
            text: "X".repeat(200),
        }];
        assert_eq!(place_labels(&wide, area(), &[]), vec![None]);
        let crowd: Vec<PointLabel> = (0..40)
            .map(|i| PointLabel {
                x: 330.0,
                y: 40.0 + i as f64 * 4.0,
                text: format!("Kingston upon Thames {i}"),
            })
            .collect();
        let placed = place_labels(&crowd, area(), &[]);
        let drawn: Vec<Placed> = placed.iter().flatten().copied().collect();
        assert!(
            !drawn.is_empty() && drawn.len() < crowd.len(),
            "{}",
            drawn.len()
        );
        for (i, p) in drawn.iter().enumerate() {
            assert!(area().holds(&p.bbox));
            for q in &drawn[i + 1..] {
                assert_eq!(p.bbox.overlap(&q.bbox), 0.0);
            }
        }
    }
}
