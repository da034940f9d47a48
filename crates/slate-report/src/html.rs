//! Escaping, number formats and the page's frame (head, CSS, Content-Security-Policy).

use slate_core::card::day_text;

/// Escapes text for HTML and SVG content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A proportion as a percentage with one decimal: `0.8734` -> `87.3%`.
pub(crate) fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// An optional proportion, or an en dash.
pub(crate) fn opct(v: Option<f64>) -> String {
    v.map_or_else(|| "\u{2013}".to_string(), pct)
}

/// A change in percentage points with its sign: `+1.2 pts`.
pub(crate) fn pts(v: f64) -> String {
    format!("{:+.1} pts", v * 100.0)
}

/// A count with thousands separators: `1234567` -> `1,234,567`.
pub(crate) fn count(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Seconds for people: `45 s`, `12.5 min`, `3.2 h`.
pub(crate) fn dur(s: f64) -> String {
    // Lateness after a deadline is negative when early: the same units, with the sign.
    if s < 0.0 {
        return format!("-{}", dur(-s));
    }
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// A window for people, by family: `2024-03`, `2024 Q1`, `FY 2024/25`, `12 months to 2024-03`.
pub(crate) fn window_label(family: &str, start: i32, end: i32) -> String {
    let s = day_text(start);
    match family {
        "month" => s[..7].to_string(),
        "year" => s[..4].to_string(),
        "quarter" => {
            let m: u32 = s[5..7].parse().unwrap_or(1);
            format!("{} Q{}", &s[..4], (m - 1) / 3 + 1)
        }
        "fiscal-year" => {
            let y: i32 = s[..4].parse().unwrap_or(0);
            format!("FY {y}/{:02}", (y + 1).rem_euclid(100))
        }
        "rolling-12m" => format!("12 months to {}", &day_text(end - 1)[..7]),
        "week" => format!("week of {s}"),
        _ => s,
    }
}

/// Shortest text that reads back as the same f64 (for `data-value` attributes that tests and
/// scripts compare with the Parquet figures).
pub(crate) fn exact(v: f64) -> String {
    format!("{v:?}")
}

/// The Content-Security-Policy: nothing may be fetched, run or submitted. Inline styles are
/// the only thing allowed, and images only as `data:` (there are none; inline SVG is part of
/// the document, not a fetch).
pub(crate) const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     base-uri 'none'; form-action 'none'";

/// Screen and A4 print styles. System fonts only: no web fonts to fetch.
const CSS: &str = r#"
:root{--ink:#1d2433;--muted:#5b6475;--line:#d6dae2;--band:#9ec5e8;--accent:#1f5fa8;--met:#1b7a3d;--not:#b3261e;--unsure:#8a5a00;}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid var(--ink);padding-bottom:4px}h3{font-size:15px;margin:20px 0 4px}
.sub{color:var(--muted);margin:0 0 12px}.lede{font-size:15px;margin:0 0 8px}
code,dd{overflow-wrap:anywhere}.scroll{overflow-x:auto;max-width:100%}
nav a{margin-right:14px;color:var(--accent)}
table{border-collapse:collapse;margin:6px 0 12px;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}thead th{border-bottom:2px solid var(--ink);font-weight:600}
.met{color:var(--met);font-weight:600}.not-met{color:var(--not);font-weight:600}.unsure{color:var(--unsure);font-weight:600}.none{color:var(--muted)}
figure{margin:12px 0 20px;break-inside:avoid}figcaption{font-weight:600;margin-bottom:4px}
figure p.note,p.note{color:var(--muted);font-size:12px;margin:2px 0}
svg{width:100%;height:auto;max-width:760px;display:block}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:var(--ink)}
svg .tick{fill:var(--muted)}svg .note{font-size:10px;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
svg .grid{stroke:#eceef2}svg .axis{stroke:#8a93a3;fill:none}
svg .band{fill:var(--band);opacity:.55;stroke:none}svg .value{stroke:var(--accent);stroke-width:2;fill:none}
svg .p90{stroke:#c2410c;stroke-width:2;fill:none}svg .p50{stroke:var(--accent);stroke-width:2;fill:none}
svg .target{stroke:var(--not);stroke-dasharray:6 4;stroke-width:1.5}svg .centre{stroke:var(--ink);stroke-width:1.5}
svg .l95{stroke:#6b7a90;stroke-dasharray:4 3;fill:none}svg .l998{stroke:#6b7a90;fill:none}
svg .dot{fill:var(--accent);opacity:.8}svg .dot.hi{fill:var(--met);opacity:1}svg .dot.lo{fill:var(--not);opacity:1}
svg .label{font-size:10px;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
svg .partial{fill:#8a93a3;opacity:.16;stroke:none}svg .leader{stroke:var(--muted);stroke-width:.8}
.partial-note{color:var(--unsure);font-size:12px}.coverage strong{color:var(--ink)}
svg .roster{stroke:var(--met);stroke-width:2;stroke-dasharray:5 3;fill:none}
details{margin:4px 0 8px}summary{color:var(--accent);cursor:pointer}
.heat td{text-align:center;min-width:56px}.heat td.h-met{background:#d3ecd9}.heat td.h-not{background:#f6d4d1}.heat td.h-unsure{background:#f7e7c1}.heat td.h-none{background:#eef0f4}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px}dt{font-weight:600}dd{margin:0}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f5f6f8;padding:8px;font-size:12px;max-height:320px;overflow:auto}
.empty{border:2px dashed var(--line);padding:24px;font-size:16px}
@page{size:A4;margin:14mm}
@media print{body{max-width:none;padding:0;font-size:11px}nav,details{display:none}h2{break-before:page;break-after:avoid}
 section:first-of-type h2{break-before:auto}figure,table{break-inside:avoid}pre{max-height:none}a{color:inherit;text-decoration:none}}
"#;

/// The document's head and opening body.
pub(crate) fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"slate-report\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(title)
    )
}

/// Closes the document.
pub(crate) const TAIL: &str = "</body>\n</html>\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(pct(0.87345), "87.3%");
        assert_eq!(pts(-0.0123), "-1.2 pts");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(dur(45.0), "45 s");
        assert_eq!(dur(750.0), "12.5 min");
        assert_eq!(exact(0.1 + 0.2), "0.30000000000000004");
        // 2024-03-01 is day 19783.
        assert_eq!(window_label("month", 19783, 19814), "2024-03");
        assert_eq!(window_label("quarter", 19783, 19814), "2024 Q1");
        assert_eq!(window_label("fiscal-year", 19783, 19814), "FY 2024/25");
    }
}
