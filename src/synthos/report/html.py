"""``report.html``: one self-contained page (inline CSS, no scripts, no external files)."""

from __future__ import annotations

from html import escape
from typing import Any

from synthos.report.collapse_html import render_collapse
from synthos.report.diversity_html import render_diversity
from synthos.report.localize_html import render_localization
from synthos.report.recommend_html import render_recommendations

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#1d2330;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;
border-bottom:1px solid #d8dce3;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #eceef2;vertical-align:top}
th{background:#f5f6f8;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#667085}.ok{color:#1a7f37}.warn{color:#9a6700}.bad{color:#cf222e}
.pill{display:inline-block;padding:.05rem .5rem;border-radius:1rem;font-size:.85em;
background:#eef0f4}.bar{background:#4f7cff;height:.8rem;border-radius:.2rem}
code{background:#f5f6f8;padding:0 .25rem;border-radius:.2rem}
"""

# A change in missing share above this many percentage points is worth a reader's eye.
_MISSINGNESS_FLAG = 5.0


def page(title: str, body: str) -> str:
    """A self-contained HTML page with the report's style."""
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{escape(title)}</h1>{body}</body></html>")


def render_report(summary: dict[str, Any], synthetic: dict, reference: dict,
                  collapse: dict, diversity: dict, localization: dict,
                  recommendations: dict) -> str:
    """The HTML report for ``summary``, the schema documents and the stage results."""
    parts = [
        f"<p class='muted'>synthos {escape(summary['synthos_version'])} · profile "
        f"<code>{escape(summary['profile'])}</code>"
        + (f" · target <code>{escape(summary['target'])}</code>" if summary["target"] else "")
        + "</p>",
        "<h2>Collapse</h2>" + render_collapse(collapse),
        "<h2>Recommendations</h2>" + render_recommendations(recommendations),
        "<h2>Bad rows</h2>" + render_localization(localization),
        _prescreen(summary["prescreen"]),
        "<h2>Diversity</h2>" + render_diversity(diversity),
        _pending(summary),
        _inputs(summary),
        _alignment(summary["alignment"], synthetic, reference),
        _timings(summary["timings_s"]),
        _tracking(summary["mlflow"]),
    ]
    return page("Synthos validation report", "\n".join(parts))


def _prescreen(doc: dict) -> str:
    """Risk from the signature library, and the known cases this dataset sits nearest."""
    kinds = ", ".join(f"<code>{escape(k)}</code>" for k in doc["matched_kinds"]) or "none"
    rows = "".join(f"<tr><td><code>{escape(n['kind'])}</code></td><td>{escape(n['source'])}"
                   f"</td><td class='num'>{n['distance']:.2f}</td></tr>"
                   for n in doc["neighbours"])
    return (f"<h2>Pre-screen</h2><p>Risk of collapse <strong>{doc['risk_score']:.0f}</strong>"
            f"/100 from the {doc['library']['entries']:,} signatures of "
            f"<code>{escape(doc['library']['uri'])}</code> (calibration: "
            f"{escape(doc['calibration'])}); collapse kinds among the nearest: {kinds}.</p>"
            "<table><tr><th>kind</th><th>known case</th><th>distance</th></tr>" + rows
            + "</table>")


def _pending(summary: dict) -> str:
    pending = [k for k in ("risk_score", "predicted_accuracy", "diversity", "localization",
                           "recommendations") if summary.get(k) is None]
    if not pending:
        return ""
    return ("<p class='muted'>Not in this version yet (null in <code>summary.json</code>): "
            + ", ".join(f"<code>{escape(p)}</code>" for p in pending) + ".</p>")


def _inputs(summary: dict) -> str:
    rows = []
    for role in ("synthetic", "reference"):
        info = summary["inputs"][role]
        sample = info["sample_rows"]
        sampled = (f"{sample:,} sampled" if sample < info["rows"] else "all rows")
        rows.append(f"<tr><td>{role}</td><td><code>{escape(info['uri'])}</code></td>"
                    f"<td>{escape(info['format'])}</td><td class='num'>{info['rows']:,}</td>"
                    f"<td class='num'>{info['columns']}</td>"
                    f"<td class='num'>{_bytes(info['bytes'])}</td><td>{sampled}</td></tr>")
    return ("<h2>Inputs</h2><table><tr><th>role</th><th>location</th><th>format</th>"
            "<th>rows</th><th>columns</th><th>size</th><th>analysed</th></tr>"
            + "".join(rows) + "</table>")


def _alignment(alignment: dict, synthetic: dict, reference: dict) -> str:
    syn = {c["name"]: c for c in synthetic["columns"]}
    ref = {c["name"]: c for c in reference["columns"]}
    mism = {m["column"]: m for m in alignment["mismatched"]}
    counts = (f"{len(alignment['common'])} columns in common, {len(alignment['missing'])} "
              f"missing from the synthetic data, {len(alignment['extra'])} extra, "
              f"{len(alignment['mismatched'])} with another kind.")
    rows = []
    for name in list(ref) + [n for n in syn if n not in ref]:
        r, s = ref.get(name), syn.get(name)
        status, cls = _status(name, r, s, mism)
        rows.append(
            f"<tr><td><code>{escape(name)}</code>"
            + (" <span class='pill'>target</span>" if name == alignment.get("target") else "")
            + f"</td><td>{_kind(r)}</td><td>{_kind(s)}</td>"
            f"<td class='num'>{_pct(r)}</td><td class='num'>{_pct(s)}</td>"
            f"<td class='{cls}'>{escape(status)}</td></tr>")
    return ("<h2>Schema alignment</h2>"
            f"<p>{counts} Later stages compare the common columns, each as the kind the "
            "reference gives it.</p>"
            "<table><tr><th>column</th><th>reference kind</th><th>synthetic kind</th>"
            "<th>reference missing</th><th>synthetic missing</th><th>status</th></tr>"
            + "".join(rows) + "</table>")


def _status(name: str, r: dict | None, s: dict | None, mism: dict) -> tuple[str, str]:
    if s is None:
        return "missing from the synthetic data", "bad"
    if r is None:
        return "extra: not in the reference (ignored)", "warn"
    if name in mism:
        m = mism[name]
        if m["compatible"]:
            return f"kind differs ({m['synthetic_kind']}), compared as {m['reference_kind']}", \
                "warn"
        return f"kind differs ({m['synthetic_kind']} vs {m['reference_kind']})", "bad"
    delta = 100 * (s["missing_rate"] - r["missing_rate"])
    if abs(delta) > _MISSINGNESS_FLAG:
        return f"missing share changed by {delta:+.1f} points", "warn"
    return "ok", "ok"


def _timings(timings: dict[str, float]) -> str:
    top = max(timings.values(), default=0.0) or 1.0
    rows = "".join(
        f"<tr><td>{escape(k)}</td><td class='num'>{v:.2f} s</td>"
        f"<td style='width:60%'><div class='bar' style='width:{100 * v / top:.1f}%'></div></td>"
        "</tr>" for k, v in timings.items())
    return ("<h2>Timings</h2><table><tr><th>stage</th><th>wall time</th><th></th></tr>"
            + rows + "</table>")


def _tracking(mlflow: dict) -> str:
    return ("<h2>Tracking</h2><p>MLflow run <code>" + escape(str(mlflow.get("run_id")))
            + "</code> in experiment <code>" + escape(str(mlflow.get("experiment")))
            + "</code> at <code>" + escape(str(mlflow.get("tracking_uri"))) + "</code>.</p>")


def _kind(col: dict | None) -> str:
    return escape(col["kind"]) if col else "<span class='muted'>—</span>"


def _pct(col: dict | None) -> str:
    return f"{100 * col['missing_rate']:.1f}%" if col else "<span class='muted'>—</span>"


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
