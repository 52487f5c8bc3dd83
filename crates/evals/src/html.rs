//! The eval report as one self-contained HTML page: inline CSS and inline SVG charts drawn here,
//! no scripts and nothing fetched, so it opens in any browser offline and can be attached to a
//! ticket or served by the console as is.
//!
//! Rendered with plain `write!` and one [`escape`] function rather than a template crate (askama,
//! maud): the page is a handful of tables and three charts, the chart geometry is computed in Rust
//! either way, and a template engine would add a proc-macro build to a workspace that already
//! compiles slowly on small machines. Every string that comes from the data (questions, ids, tags,
//! article ids, reasons, the set name) goes through [`escape`]; numbers are formatted by us.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::compare::Comparison;
use crate::decisions::{CaseRow, CurvePoint, Rate, Report, Summary};

/// Escape text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

fn pct(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

fn interval(rate: &Rate) -> String {
    if rate.total == 0 {
        return "—".into();
    }
    format!("{}–{}", pct(rate.low), pct(rate.high))
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;color:#1d232b;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d8dde3;padding-bottom:.3rem}
.meta{color:#5b6673}table{border-collapse:collapse;width:100%;margin:.6rem 0}
th,td{border-bottom:1px solid #e4e8ec;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6f8;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem}.chart{flex:1 1 320px}
.chart h3{font-size:1rem;margin:.4rem 0}svg{max-width:100%;height:auto;font:11px sans-serif}
.good{color:#1a7f37}.bad{color:#c62828}.muted{color:#8a94a0}
td.q{max-width:380px;word-wrap:break-word}code{font-size:12px}
";

/// The whole page.
pub fn render(report: &Report) -> String {
    let mut page = String::new();
    let s = &report.summary;
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Fathom eval: {set}</title><style>{STYLE}</style></head><body>\
         <h1>Fathom eval: {set}</h1>\
         <p class=\"meta\">{mode} mode · confidence threshold {threshold:.3} · {cases} cases · \
         report version {version}</p>",
        set = escape(&report.set),
        mode = escape(&report.mode),
        threshold = report.threshold,
        cases = s.cases,
        version = report.report_version,
    );

    page.push_str("<h2>Summary</h2>");
    page.push_str(&summary_table(s));

    page.push_str("<h2>Charts</h2><div class=\"charts\">");
    let _ = write!(
        page,
        "<div class=\"chart\"><h3>Operating curve</h3>{}</div>\
         <div class=\"chart\"><h3>Resolution by tag</h3>{}</div>\
         <div class=\"chart\"><h3>Latency</h3>{}</div></div>",
        operating_curve_svg(
            &report.curve,
            &report.operating_point,
            s.false_resolution_rate_ci.total > 0
        ),
        tag_bars_svg(report),
        latency_histogram_svg(&report.rows, s),
    );

    if let Some(turns) = report.turns_apart() {
        page.push_str("<h2>By turn</h2>");
        page.push_str(&group_table("turn", turns));
    }
    if !report.by_tag.is_empty() {
        page.push_str("<h2>By tag</h2>");
        page.push_str(&group_table("tag", &report.by_tag));
    }
    if let Some(comparison) = &report.comparison {
        page.push_str(&comparison_section(comparison));
    }
    page.push_str(&failures_table(&report.rows));
    page.push_str(
        "<p class=\"meta\">Rates carry 95% Wilson intervals. Definitions: evals/README.md, \
         section “Eval report”.</p></body></html>\n",
    );
    page
}

fn summary_table(s: &Summary) -> String {
    let mut out = String::from(
        "<table><tr><th>metric</th><th class=\"n\">value</th><th class=\"n\">95% interval</th>\
         <th class=\"n\">cases</th></tr>",
    );
    let rates: [(&str, &Rate); 7] = [
        (
            "resolution (answer cases answered citing gold)",
            &s.resolution_rate_ci,
        ),
        (
            "false resolution (handoff cases answered)",
            &s.false_resolution_rate_ci,
        ),
        ("clarify (clarify cases clarified)", &s.clarify_rate_ci),
        ("partial cases answered", &s.partial_answered_rate_ci),
        (
            "partial cases answered citing gold",
            &s.partial_resolved_rate_ci,
        ),
        ("handoff precision", &s.handoff_precision_ci),
        ("handoff recall", &s.handoff_recall_ci),
    ];
    for (name, rate) in rates {
        let value = if rate.total == 0 {
            "—".to_string()
        } else {
            pct(rate.value)
        };
        let _ = write!(
            out,
            "<tr><td>{name}</td><td class=\"n\">{value}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}/{}</td></tr>",
            interval(rate),
            rate.successes,
            rate.total
        );
    }
    let plain: [(&str, String, usize); 9] = [
        (
            "retrieval hit@1",
            format!("{:.3}", s.hit_at_1),
            s.retrieval_cases,
        ),
        (
            "retrieval hit@5",
            format!("{:.3}", s.hit_at_5),
            s.retrieval_cases,
        ),
        ("retrieval MRR", format!("{:.3}", s.mrr), s.retrieval_cases),
        (
            "answer token F1 vs reference",
            format!("{:.3}", s.answer_token_f1),
            s.answer_overlap_cases,
        ),
        (
            "answer ROUGE-L vs reference",
            format!("{:.3}", s.answer_rouge_l),
            s.answer_overlap_cases,
        ),
        (
            "latency p50 / p95 / p99",
            format!(
                "{:.1} / {:.1} / {:.1} ms",
                s.latency_ms.p50, s.latency_ms.p95, s.latency_ms.p99
            ),
            s.cases,
        ),
        (
            "prompt tokens per conversation",
            format!("{:.1}", s.prompt_tokens_per_conversation),
            s.cases,
        ),
        (
            "completion tokens per conversation",
            format!("{:.1}", s.completion_tokens_per_conversation),
            s.cases,
        ),
        (
            "estimated cost per conversation (total)",
            format!("{:.5} ({:.4})", s.cost_per_conversation, s.cost_total),
            s.cases,
        ),
    ];
    for (name, value, n) in plain {
        let _ = write!(
            out,
            "<tr><td>{name}</td><td class=\"n\">{value}</td><td class=\"n\"></td>\
             <td class=\"n\">{n}</td></tr>"
        );
    }
    let reasons: Vec<String> = s
        .reasons
        .iter()
        .map(|(reason, n)| format!("{} {n}", escape(reason.as_str())))
        .collect();
    let partial: Vec<String> = s
        .partial_handling
        .iter()
        .map(|(decision, n)| format!("{} {n}", escape(&format!("{decision:?}").to_lowercase())))
        .collect();
    let _ = write!(
        out,
        "<tr><td>decision reasons</td><td colspan=\"3\">{}</td></tr>\
         <tr><td>partial cases handled as</td><td colspan=\"3\">{}</td></tr></table>",
        reasons.join(", "),
        if partial.is_empty() {
            "—".to_string()
        } else {
            partial.join(", ")
        }
    );
    out
}

/// The summary of each group of cases (`by_tag`, `by_turn`), one row each; `kind` heads the
/// first column.
fn group_table(kind: &str, groups: &BTreeMap<String, Summary>) -> String {
    let mut out = format!(
        "<table><tr><th>{kind}</th><th class=\"n\">cases</th><th class=\"n\">resolution</th>\
         <th class=\"n\">false resolution</th><th class=\"n\">clarify</th>\
         <th class=\"n\">hit@5</th><th class=\"n\">MRR</th><th class=\"n\">token F1</th>\
         <th class=\"n\">p95 ms</th></tr>",
    );
    let cell = |rate: &Rate| {
        if rate.total == 0 {
            "<td class=\"n muted\">—</td>".to_string()
        } else {
            format!(
                "<td class=\"n\" title=\"95% interval {}\">{} <span class=\"muted\">({}/{})</span></td>",
                interval(rate),
                pct(rate.value),
                rate.successes,
                rate.total
            )
        }
    };
    for (group, s) in groups {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td>{}{}{}<td class=\"n\">{:.3}</td>\
             <td class=\"n\">{:.3}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.1}</td></tr>",
            escape(group),
            s.cases,
            cell(&s.resolution_rate_ci),
            cell(&s.false_resolution_rate_ci),
            cell(&s.clarify_rate_ci),
            s.hit_at_5,
            s.mrr,
            s.answer_token_f1,
            s.latency_ms.p95
        );
    }
    out.push_str("</table>");
    out
}

fn comparison_section(comparison: &Comparison) -> String {
    let mut out = format!(
        "<h2>Compared with baseline</h2><p class=\"meta\">baseline {}{}</p>\
         <table><tr><th>metric</th><th class=\"n\">baseline</th><th class=\"n\">now</th>\
         <th class=\"n\">delta</th><th>note</th></tr>",
        escape(&comparison.baseline),
        comparison
            .baseline_set
            .as_deref()
            .map(|s| format!(" (set {})", escape(s)))
            .unwrap_or_default()
    );
    for d in &comparison.deltas {
        let (class, delta) = match d.delta {
            Some(delta) if delta.abs() < 1e-12 => ("muted", "0".to_string()),
            Some(delta) => {
                let better = (delta > 0.0) == d.higher_is_better;
                (if better { "good" } else { "bad" }, format!("{delta:+.4}"))
            }
            None => ("muted", "—".to_string()),
        };
        let note = match d.within_interval {
            Some(true) if d.delta.is_some_and(|x| x.abs() > 1e-12) => "within today's 95% interval",
            _ => "",
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.4}</td>\
             <td class=\"n {class}\">{delta}</td><td class=\"muted\">{note}</td></tr>",
            escape(&d.metric),
            d.baseline.map_or("—".to_string(), |b| format!("{b:.4}")),
            d.current,
        );
    }
    out.push_str("</table>");
    let _ = write!(
        out,
        "<h3>Flipped cases</h3><p>{} resolved → not resolved, {} not resolved → resolved, \
         {} flips in all{}.</p>",
        comparison.resolved_to_unresolved.len(),
        comparison.unresolved_to_resolved.len(),
        comparison.flips.len(),
        if comparison.new_cases > 0 {
            format!("; {} cases not in the baseline", comparison.new_cases)
        } else {
            String::new()
        }
    );
    for paired in comparison.paired.iter().filter(|p| p.lost + p.gained > 0) {
        let _ = write!(
            out,
            "<p>{}: {} cases dropped out of it, {} came in; exact McNemar p = {:.3}{}.</p>",
            escape(&paired.metric),
            paired.lost,
            paired.gained,
            paired.p_value,
            if paired.p_value < 0.05 {
                ""
            } else {
                " (could be chance)"
            }
        );
    }
    if !comparison.flips.is_empty() {
        out.push_str(
            "<table><tr><th>case</th><th>question</th><th>expected</th><th>baseline</th>\
             <th>now</th></tr>",
        );
        for flip in &comparison.flips {
            let class = if flip.current.correct { "good" } else { "bad" };
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td class=\"q\">{}</td><td>{}</td><td>{}</td>\
                 <td class=\"{class}\">{}</td></tr>",
                escape(&flip.id),
                escape(&flip.question),
                expected_name(flip.expected),
                escape(&flip.baseline.to_string()),
                escape(&flip.current.to_string())
            );
        }
        out.push_str("</table>");
    }
    out
}

fn expected_name(expected: crate::set::Expected) -> &'static str {
    match expected {
        crate::set::Expected::Answer => "answer",
        crate::set::Expected::Partial => "partial",
        crate::set::Expected::Clarify => "clarify",
        crate::set::Expected::Handoff => "handoff",
    }
}

fn failures_table(rows: &[CaseRow]) -> String {
    let failures: Vec<&CaseRow> = rows.iter().filter(|r| !r.correct).collect();
    let mut out = format!(
        "<h2>Failures</h2><p class=\"meta\">{} of {} cases not handled as expected.</p>",
        failures.len(),
        rows.len()
    );
    if failures.is_empty() {
        return out;
    }
    out.push_str(
        "<table><tr><th>case</th><th>question</th><th>expected</th><th>decision</th>\
         <th>reason</th><th class=\"n\">confidence</th><th>cited</th><th>gold</th></tr>",
    );
    let list = |ids: &[String]| {
        if ids.is_empty() {
            "<span class=\"muted\">—</span>".to_string()
        } else {
            ids.iter()
                .map(|id| format!("<code>{}</code>", escape(id)))
                .collect::<Vec<_>>()
                .join("<br>")
        }
    };
    for r in failures {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td class=\"q\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"n\">{:.3}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.id),
            escape(&r.question),
            expected_name(r.expected),
            escape(&format!("{:?}", r.decision).to_lowercase()),
            escape(r.reason.as_str()),
            r.confidence,
            list(&r.cited),
            list(&r.gold),
        );
    }
    out.push_str("</table>");
    out
}

// Chart geometry shared by the three SVGs: a plot area inside fixed margins.
const WIDTH: f64 = 360.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 40.0;

fn plot_x(fraction: f64) -> f64 {
    LEFT + fraction.clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT)
}

fn plot_y(fraction: f64) -> f64 {
    HEIGHT - BOTTOM - fraction.clamp(0.0, 1.0) * (HEIGHT - TOP - BOTTOM)
}

fn svg_open(height: f64, label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"{}\">",
        escape(label)
    )
}

/// Resolution (y) against false resolution (x), one point per threshold, the configured
/// operating point marked.
pub fn operating_curve_svg(
    curve: &[CurvePoint],
    operating_point: &CurvePoint,
    has_handoff_cases: bool,
) -> String {
    let mut svg = svg_open(
        HEIGHT,
        "operating curve: resolution against false resolution",
    );
    if !has_handoff_cases {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#8a94a0\">no handoff cases in this set</text>",
            plot_x(0.04),
            plot_y(0.96)
        );
    }
    for i in 0..=4 {
        let f = f64::from(i) / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{x0:.1}\" y1=\"{y:.1}\" x2=\"{x1:.1}\" y2=\"{y:.1}\" stroke=\"#e4e8ec\"/>\
             <line x1=\"{x:.1}\" y1=\"{yt:.1}\" x2=\"{x:.1}\" y2=\"{yb:.1}\" stroke=\"#e4e8ec\"/>\
             <text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"end\">{p}</text>\
             <text x=\"{x:.1}\" y=\"{bx:.1}\" text-anchor=\"middle\">{p}</text>",
            x0 = plot_x(0.0),
            x1 = plot_x(1.0),
            y = plot_y(f),
            x = plot_x(f),
            yt = plot_y(1.0),
            yb = plot_y(0.0),
            lx = LEFT - 4.0,
            ly = plot_y(f) + 4.0,
            bx = HEIGHT - BOTTOM + 14.0,
            p = format_args!("{:.0}%", f * 100.0),
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">false resolution</text>\
         <text x=\"12\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 12 {:.1})\">resolution</text>",
        plot_x(0.5),
        HEIGHT - 6.0,
        plot_y(0.5),
        plot_y(0.5)
    );
    let mut points: Vec<&CurvePoint> = curve.iter().collect();
    points.sort_by(|a, b| b.threshold.total_cmp(&a.threshold));
    let path: Vec<String> = points
        .iter()
        .map(|p| {
            format!(
                "{:.1},{:.1}",
                plot_x(p.false_resolution),
                plot_y(p.resolution)
            )
        })
        .collect();
    let _ = write!(
        svg,
        "<polyline fill=\"none\" stroke=\"#2f6fb3\" stroke-width=\"2\" points=\"{}\"/>",
        path.join(" ")
    );
    for p in &points {
        let _ = write!(
            svg,
            "<circle class=\"curve-point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#2f6fb3\">\
             <title>threshold {:.3}: resolution {}, false resolution {}</title></circle>",
            plot_x(p.false_resolution),
            plot_y(p.resolution),
            p.threshold,
            pct(p.resolution),
            pct(p.false_resolution)
        );
    }
    let (ox, oy) = (
        plot_x(operating_point.false_resolution),
        plot_y(operating_point.resolution),
    );
    // The legend sits in the lower right, where a useful curve never goes.
    let (lx, ly) = (plot_x(0.4), plot_y(0.22));
    let _ = write!(
        svg,
        "<circle class=\"operating-point\" cx=\"{ox:.1}\" cy=\"{oy:.1}\" r=\"6\" fill=\"none\" \
         stroke=\"#c62828\" stroke-width=\"2.5\"><title>operating point: threshold {:.3}, \
         resolution {}, false resolution {} (measured)</title></circle>\
         <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#c62828\" text-anchor=\"{}\">threshold {:.2}</text>\
         <circle cx=\"{lx:.1}\" cy=\"{ly:.1}\" r=\"5\" fill=\"none\" stroke=\"#c62828\" stroke-width=\"2\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\">operating point (measured)</text>\
         <line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#2f6fb3\" stroke-width=\"2\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\">replayed at each threshold</text></svg>",
        operating_point.threshold,
        pct(operating_point.resolution),
        pct(operating_point.false_resolution),
        if ox > WIDTH / 2.0 { ox - 9.0 } else { ox + 9.0 },
        if oy > plot_y(0.85) { oy - 9.0 } else { oy + 18.0 },
        if ox > WIDTH / 2.0 { "end" } else { "start" },
        operating_point.threshold,
        lx + 10.0,
        ly + 4.0,
        lx - 6.0,
        ly + 18.0,
        lx + 6.0,
        ly + 18.0,
        lx + 10.0,
        ly + 22.0,
    );
    svg
}

/// One horizontal bar per tag with `answer` cases: resolution rate with its interval as a
/// whisker.
pub fn tag_bars_svg(report: &Report) -> String {
    let tags: Vec<(&String, &Summary)> = report
        .by_tag
        .iter()
        .filter(|(_, s)| s.resolution_rate_ci.total > 0)
        .collect();
    const ROW: f64 = 22.0;
    const LABEL: f64 = 130.0;
    let height = (tags.len() as f64 * ROW + TOP + BOTTOM).max(80.0);
    let mut svg = svg_open(height, "resolution rate by tag");
    if tags.is_empty() {
        svg.push_str("<text x=\"10\" y=\"30\">no tagged answer cases</text></svg>");
        return svg;
    }
    let span = WIDTH - LABEL - RIGHT - 40.0;
    let x_of = |f: f64| LABEL + f.clamp(0.0, 1.0) * span;
    let axis_y = TOP + tags.len() as f64 * ROW;
    for i in 0..=4 {
        let f = f64::from(i) / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{axis_y:.1}\" stroke=\"#e4e8ec\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.0}%</text>",
            axis_y + 14.0,
            f * 100.0,
            x = x_of(f),
        );
    }
    for (i, (tag, s)) in tags.iter().enumerate() {
        let rate = &s.resolution_rate_ci;
        let y = TOP + i as f64 * ROW;
        let mut label: String = tag.chars().take(18).collect();
        if tag.chars().count() > 18 {
            label.push('…');
        }
        let _ = write!(
            svg,
            "<g class=\"tag-bar\"><title>{tag}: resolution {value} (95% interval {ci}), {ok}/{n}</title>\
             <text x=\"{lx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{label} ({n})</text>\
             <rect x=\"{LABEL}\" y=\"{ry:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"#5b9bd5\"/>\
             <line x1=\"{lo:.1}\" y1=\"{my:.1}\" x2=\"{hi:.1}\" y2=\"{my:.1}\" stroke=\"#1d232b\"/>\
             <text x=\"{vx:.1}\" y=\"{ty:.1}\">{value}</text></g>",
            tag = escape(tag),
            label = escape(&label),
            value = pct(rate.value),
            ci = interval(rate),
            ok = rate.successes,
            n = rate.total,
            lx = LABEL - 6.0,
            ty = y + ROW / 2.0 + 4.0,
            ry = y + 3.0,
            w = x_of(rate.value) - LABEL,
            h = ROW - 6.0,
            lo = x_of(rate.low),
            hi = x_of(rate.high),
            my = y + ROW / 2.0,
            vx = x_of(rate.high) + 4.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Histogram of per-case latency in 20 equal bins up to a little past p99 (slower cases fall in
/// the last bin, so one cold start does not squash the rest), with p50, p95 and p99 marked.
pub fn latency_histogram_svg(rows: &[CaseRow], summary: &Summary) -> String {
    const BINS: usize = 20;
    let mut svg = svg_open(HEIGHT, "latency histogram");
    let max = rows.iter().map(|r| r.latency_ms).fold(0.0, f64::max);
    if rows.is_empty() || max <= 0.0 {
        svg.push_str("<text x=\"10\" y=\"30\">no cases</text></svg>");
        return svg;
    }
    let range = max.min(summary.latency_ms.p99 * 1.25).max(f64::EPSILON);
    let width = range / BINS as f64;
    let mut counts = [0usize; BINS];
    for r in rows {
        let bin = ((r.latency_ms / width) as usize).min(BINS - 1);
        counts[bin] += 1;
    }
    let tallest = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bar = (WIDTH - LEFT - RIGHT) / BINS as f64;
    for (i, count) in counts.iter().enumerate() {
        let top = plot_y(*count as f64 / tallest);
        let upper = if i == BINS - 1 && max > range {
            format!("{max:.1}")
        } else {
            format!("{:.1}", (i + 1) as f64 * width)
        };
        let _ = write!(
            svg,
            "<rect class=\"latency-bin\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
             fill=\"#7fb77e\"><title>{:.1}–{upper} ms: {count} cases</title></rect>",
            LEFT + i as f64 * bar + 1.0,
            bar - 2.0,
            plot_y(0.0) - top,
            i as f64 * width,
        );
    }
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#1d232b\"/>\
         <line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{LEFT}\" y2=\"{:.1}\" stroke=\"#1d232b\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{tallest}</text>\
         <text x=\"{:.1}\" y=\"{y:.1}\" text-anchor=\"end\">0</text>\
         <text x=\"12\" y=\"{mid:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 12 {mid:.1})\">cases</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">latency per case (ms){}</text>",
        plot_x(1.0),
        plot_y(1.0),
        LEFT - 4.0,
        plot_y(1.0) + 4.0,
        LEFT - 4.0,
        plot_x(0.5),
        HEIGHT - 6.0,
        if max > range {
            format!(", last bin up to {max:.0}")
        } else {
            String::new()
        },
        y = plot_y(0.0),
        mid = plot_y(0.5),
    );
    for i in 0..=4 {
        let f = f64::from(i) / 4.0;
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.0}</text>",
            plot_x(f),
            plot_y(0.0) + 14.0,
            f * range
        );
    }
    let marks = [
        ("p50", summary.latency_ms.p50),
        ("p95", summary.latency_ms.p95),
        ("p99", summary.latency_ms.p99),
    ];
    for (i, (name, value)) in marks.iter().enumerate() {
        let x = plot_x(value / range);
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#c62828\" \
             stroke-dasharray=\"3,2\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" \
             fill=\"#c62828\">{name} {value:.1} ms</text>",
            plot_y(1.0),
            plot_y(0.0),
            plot_x(1.0),
            plot_y(1.0) + 12.0 + i as f64 * 13.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decisions::tests::row_of;
    use crate::decisions::{summarise, Pricing};
    use crate::set::Expected;
    use fathom_core::DecisionKind;

    #[test]
    fn escape_neutralises_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn the_page_has_three_charts_and_escapes_questions_in_the_failures_table() {
        let mut planted = row_of("x1", Expected::Answer, DecisionKind::Handoff);
        planted.question = "<script>alert(1)</script> why?".into();
        planted.tags = vec!["<b>tag</b>".into()];
        let mut ok = row_of("x2", Expected::Answer, DecisionKind::Answer);
        ok.latency_ms = 30.0;
        ok.tags = vec!["plain".into()];
        let report = summarise(
            "set <i>",
            "extractive",
            0.45,
            Pricing::default(),
            vec![planted, ok],
        );

        let page = render(&report);

        assert!(page.starts_with("<!DOCTYPE html>"));
        assert_eq!(page.matches("<svg").count(), 3);
        assert!(page.contains("class=\"operating-point\""));
        assert!(page.contains("class=\"tag-bar\""));
        assert!(page.contains("class=\"latency-bin\""));
        assert!(!page.contains("<script"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; why?"));
        assert!(!page.contains("<b>tag</b>") && !page.contains("<i>"));
        // Self-contained: nothing to fetch.
        assert!(!page.contains("src=") && !page.contains("<link") && !page.contains("@import"));
        // Every case is a first message: no turn table.
        assert!(!page.contains("<h2>By turn</h2>"));
    }

    #[test]
    fn a_set_with_first_messages_and_follow_ups_shows_both_apart() {
        let page = render(&crate::decisions::tests::first_message_and_follow_up());
        let turns = &page[page.find("<h2>By turn</h2>").expect("a turn table")..];
        let table = &turns[..turns.find("</table>").unwrap()];
        assert!(table.contains("<th>turn</th>"));
        assert!(table.contains("<td>first message</td>") && table.contains("<td>follow-up</td>"));
    }

    #[test]
    fn the_operating_point_is_drawn_where_its_rates_are() {
        let curve = [CurvePoint {
            threshold: 0.5,
            resolution: 0.5,
            false_resolution: 0.0,
        }];
        let svg = operating_curve_svg(&curve, &curve[0], true);
        let expected = format!(
            "class=\"operating-point\" cx=\"{:.1}\" cy=\"{:.1}\"",
            plot_x(0.0),
            plot_y(0.5)
        );
        assert!(svg.contains(&expected), "{svg}");
    }
}
