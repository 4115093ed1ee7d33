"""The collapse section: each dimension's score against its threshold, and why."""

from __future__ import annotations

from html import escape

_CSS = """
.dim{display:grid;grid-template-columns:13rem 1fr 6rem;gap:.6rem;align-items:center;
margin:.25rem 0}.track{position:relative;background:#eef0f4;height:1rem;border-radius:.2rem}
.fill{height:100%;border-radius:.2rem}.fill.ok{background:#2da44e}.fill.warn{background:#d4a72c}
.fill.bad{background:#cf222e}.mark{position:absolute;top:-.2rem;bottom:-.2rem;width:2px;
background:#1d2330}.why{margin:.1rem 0 .8rem 13.6rem;color:#3b4252;font-size:.92em}
"""


def render_collapse(doc: dict, warn_margin: float = 5.0) -> str:
    """HTML for a collapse result document (``CollapseResult.to_dict()``)."""
    verdict = doc["verdict"]
    cls = {"pass": "ok", "warn": "warn", "collapse": "bad"}[verdict]
    failed = [d["name"] for d in doc["dimensions"] if not d["passed"]]
    lead = (f"<p>Verdict: <strong class='{cls}'>{escape(verdict)}</strong>"
            + (f" — failed: {', '.join(escape(f) for f in failed)}" if failed else "")
            + f". Scores are 0–100 (100: no further from the reference than two halves of the "
            f"reference are from each other); the black mark is each dimension's threshold, "
            f"{escape(doc.get('thresholds_source') or 'uncalibrated')}.</p>")
    rows = []
    for d in doc["dimensions"]:
        state = "bad" if not d["passed"] else (
            "warn" if d["score"] < d["threshold"] + warn_margin else "ok")
        rows.append(
            f"<div class='dim'><code>{escape(d['name'])}</code><div class='track'>"
            f"<div class='fill {state}' style='width:{max(d['score'], 1):.1f}%'></div>"
            f"<div class='mark' style='left:{d['threshold']:.1f}%'></div></div>"
            f"<span class='{state}'>{d['score']:.1f} / {d['threshold']:.0f}</span></div>")
        why = _why(d)
        if why:
            rows.append(f"<div class='why'>{why}</div>")
    shapes = doc.get("column_shapes")
    tail = (f"<p class='muted'>For comparison, SDMetrics' Column Shapes score of these samples "
            f"is {shapes:.3f} (it compares marginals only).</p>" if shapes is not None else "")
    return f"<style>{_CSS}</style>" + lead + "".join(rows) + tail


def _why(dim: dict) -> str:
    """The statistics that cost points, in words, with the parts that cost the most."""
    lines = []
    for stat in dim["details"]["statistics"]:
        if stat["score"] >= 99.5:
            continue
        help_text = dim["details"]["help"].get(stat["name"], stat["name"])
        line = (f"{escape(help_text)}: {stat['observed']:.3g} against {stat['null_mean']:.3g} "
                f"between real halves ({stat['z']:.1f} null spreads; score {stat['score']:.0f})")
        parts = [f"<code>{escape(p['part'])}</code> {p['observed']:.3g} vs {p['null_mean']:.3g}"
                 for p in stat.get("worst", [])[:3]]
        if parts:
            line += "; most: " + ", ".join(parts)
        lines.append(line)
    return "<br>".join(lines)
