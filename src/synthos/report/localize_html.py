"""The localization section: the worst synthetic rows beside their nearest real rows."""

from __future__ import annotations

from html import escape

_CSS = """
.rowpair td.diff{background:#fff1e5}.rowpair{font-size:.9em}.rowpair th{white-space:nowrap}
"""


def _cell(v: object) -> str:
    return "—" if v is None else escape(f"{v:.4g}" if isinstance(v, float) else str(v))


def render_localization(doc: dict, listed: int = 10) -> str:
    """HTML for a localization document (``LocalizationResult.to_dict()``)."""
    per = doc["flagged_per_reason"]
    reasons = ", ".join(f"{escape(k)} {v:,}" for k, v in per.items() if v) or "none"
    absent = "".join(f"<li><code>{escape(k)}</code>: {escape(v)}</li>"
                     for k, v in doc["absent"].items())
    s = doc["sampled"]
    head = (f"<style>{_CSS}</style><p><strong>{doc['flagged']:,}</strong> of "
            f"{doc['rows_scored']:,} synthetic rows flagged ({100 * doc['flagged_share']:.2f}%, "
            f"at a false discovery rate of {doc['fdr']:.0%}); by detector: {reasons}.</p>"
            f"{_floor(doc)}"
            f"<p class='muted'>Scored: {s['synthetic_rows']:,} synthetic rows against "
            f"{s['reference_rows_in_index']:,} of {s['reference_rows']:,} real rows (k-NN "
            f"index and null); classifiers trained on {s['classifier_train_rows_per_side']:,}"
            f" rows a side. Detectors absent:</p><ul class='muted'>{absent}</ul>")
    return head + _worst(doc["top"][:listed]) + _missing(doc["missing_mass"])


def _floor(doc: dict) -> str:
    """What the flags cannot name: fewer rows than the null allows."""
    floor = doc.get("flag_floor")
    if not floor or floor["rows_needed"] <= 1:
        return ""
    real = doc["sampled"]["reference_rows_in_index"]
    return (f"<p class='muted'>With {real:,} real rows in the null no row's p-value is below "
            f"1/{real + 1:,}: fewer than {floor['rows_needed']:,} rows that extreme are ranked "
            "first by score but cannot be flagged at this false discovery rate.</p>")


def _worst(top: list[dict]) -> str:
    if not top:
        return ""
    out = ["<h3>Worst rows, beside their nearest real rows</h3>"]
    for r in top:
        values, near = r.get("values", {}), r.get("nearest_values")
        cols = list(values)
        head = "".join(f"<th>{escape(c)}</th>" for c in cols)
        syn = "".join(
            f"<td class='{'diff' if near is not None and near.get(c) != values[c] else ''}'>"
            f"{_cell(values[c])}</td>" for c in cols)
        ref = "" if near is None else (
            f"<tr><td>real row {r['nearest_reference_row']}</td>"
            + "".join(f"<td>{_cell(near.get(c))}</td>" for c in cols) + "</tr>")
        out.append(
            f"<p><strong>row {r['row']}</strong> · score {r['score']:.3f} · confidence "
            f"{r['confidence']:.2f} · {escape(r['fired'] or 'no detector fired')}<br>"
            f"{escape(r['reasons'])}</p><div style='overflow-x:auto'><table class='rowpair'>"
            f"<tr><th></th>{head}</tr><tr><td>synthetic row {r['row']}</td>{syn}</tr>{ref}"
            "</table></div>")
    return "".join(out)


def _missing(mass: dict) -> str:
    rows = [(f"{c['column']}={c['value']}", c["reference_share"], c["synthetic_share"])
            for c in mass["categories"]]
    rows += [(f"{t['column']} {t['side']} tail (beyond {t['bound']})", t["reference_share"],
              t["synthetic_share"]) for t in mass["tails"]]
    unc = mass["uncovered_real_rows"]
    text = ("" if unc.get("share") is None else
            f"<p>{100 * unc['share']:.1f}% of {unc['rows']:,} real rows have no synthetic row "
            "within their k-NN ball.</p>")
    if not rows:
        return "<h3>Missing mass</h3>" + text + "<p class='muted'>No real category or tail is " \
            "under-represented by half or more.</p>"
    body = "".join(f"<tr><td>{escape(n)}</td><td class='num'>{100 * a:.2f}%</td>"
                   f"<td class='num'>{100 * b:.2f}%</td></tr>" for n, a, b in rows)
    return ("<h3>Missing mass: what real rows hold that synthetic rows do not</h3>" + text
            + "<table><tr><th>where</th><th>real rows</th><th>synthetic rows</th></tr>"
            + body + "</table>")
