"""The diversity section: what the synthetic data covers beside the reference."""

from __future__ import annotations

from html import escape

_CSS = """
.ent{display:grid;grid-template-columns:13rem 1fr 7rem;gap:.5rem;align-items:center;
margin:.15rem 0}.pair{display:flex;flex-direction:column;gap:2px}
.b{height:.45rem;border-radius:.15rem}.b.syn{background:#4f7cff}.b.ref{background:#9aa4b2}
.key span{display:inline-block;width:.8rem;height:.5rem;margin:0 .3rem 0 .8rem}
"""


def render_diversity(doc: dict, listed: int = 8) -> str:
    """HTML for a diversity document (``DiversityResult.to_dict()``): the key numbers, the
    normalized entropy of each column beside the reference's, strata coverage and the rarest
    missing patterns."""
    return (f"<style>{_CSS}</style>" + _numbers(doc) + _entropy_chart(doc)
            + _strata(doc, listed) + _text(doc))


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _numbers(doc: dict) -> str:
    dup, near, vendi, strata = (doc["duplicates"], doc["near_duplicates"], doc["vendi"],
                                doc["strata"])
    rows = [
        ("exact duplicate rows (whole table)", _pct(dup["synthetic"]["value"]),
         _pct(dup["reference"]["value"])),
        (f"near duplicates (another row within {near.get('radius', 0):g} std, "
         f"{near.get('rows', 0):,} sampled rows)", _pct(near.get("synthetic")),
         _pct(near.get("reference"))),
        (f"Vendi score (effective distinct rows of {vendi.get('rows', 0):,})",
         _num(vendi.get("synthetic")), _num(vendi.get("reference"))),
        ("reference strata covered", _pct(strata["strata_coverage"]),
         f"{_pct(strata['expected_strata_coverage'])} expected by chance"),
        ("reference mass in covered strata", _pct(strata["mass_coverage"]),
         f"{_pct(strata['expected_mass_coverage'])} expected by chance"),
    ]
    body = "".join(f"<tr><td>{escape(a)}</td><td class='num'>{b}</td><td class='num'>{c}</td>"
                   "</tr>" for a, b, c in rows)
    shards = doc.get("shards") or {}
    note = (f"<p class='muted'>Whole-table figures come from one streaming pass per input "
            f"({shards.get('synthetic', 1)} + {shards.get('reference', 1)} shards merged); "
            f"the others from equal-size samples of {doc['compared_rows']:,} rows.</p>")
    return ("<table><tr><th>figure</th><th>synthetic</th><th>reference</th></tr>" + body
            + "</table>" + note)


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


def _entropy_chart(doc: dict) -> str:
    cols = [c for c in doc["columns"] if c.get("normalized_entropy")]
    if not cols:
        return ""
    cols.sort(key=lambda c: (c["normalized_entropy"]["synthetic"] or 0)
              - (c["normalized_entropy"]["reference"] or 0))
    rows = []
    for c in cols:
        s = c["normalized_entropy"]["synthetic"] or 0.0
        r = c["normalized_entropy"]["reference"] or 0.0
        cls = "bad" if s < r - 0.1 else ""
        rows.append(
            f"<div class='ent'><code>{escape(c['column'])}</code><div class='pair'>"
            f"<div class='b syn' style='width:{100 * s:.1f}%'></div>"
            f"<div class='b ref' style='width:{100 * r:.1f}%'></div></div>"
            f"<span class='{cls}'>{s:.2f} / {r:.2f}</span></div>")
    return ("<h3>Normalized entropy per column</h3><p class='key muted'>"
            "<span style='background:#4f7cff'></span>synthetic"
            "<span style='background:#9aa4b2'></span>reference · largest losses first</p>"
            + "".join(rows))


def _strata(doc: dict, listed: int) -> str:
    strata = doc["strata"]
    grid = ", ".join(f"<code>{escape(g['column'])}</code>" for g in strata.get("grid", []))
    lead = (f"<h3>Strata</h3><p>{strata['reference_strata']} reference strata over {grid}; "
            f"{strata['empty_count']} empty in the synthetic data "
            f"({_pct(strata['empty_mass'])} of the reference's rows), "
            f"{strata['starved_count']} starved, {strata['novel_count']} never seen in the "
            f"reference ({_pct(strata['novel_mass'])} of the synthetic rows).</p>")
    table = []
    for title, key in (("rarest missing patterns: reference strata with no synthetic row",
                        "empty"), ("starved: far below their reference share", "starved"),
                       ("new: strata the reference never shows", "novel")):
        items = strata.get(key, [])[:listed]
        if not items:
            continue
        table.append(f"<p><strong>{escape(title)}</strong></p><table><tr><th>stratum</th>"
                     "<th>reference share</th><th>synthetic share</th></tr>")
        table.extend(f"<tr><td>{escape(i['label'])}</td><td class='num'>"
                     f"{_pct(i['reference_share'])}</td><td class='num'>"
                     f"{_pct(i['synthetic_share'])}</td></tr>" for i in items)
        table.append("</table>")
    return lead + "".join(table)


def _text(doc: dict) -> str:
    if not doc.get("text"):
        return ""
    rows = "".join(
        f"<tr><td><code>{escape(t['column'])}</code></td>"
        f"<td class='num'>{t['distinct_1']['synthetic']:.3f} / {t['distinct_1']['reference']:.3f}"
        f"</td><td class='num'>{t['distinct_2']['synthetic']:.3f} / "
        f"{t['distinct_2']['reference']:.3f}</td><td class='num'>"
        f"{_num3(t.get('embedding_diversity', {}).get('synthetic'))} / "
        f"{_num3(t.get('embedding_diversity', {}).get('reference'))}</td></tr>"
        for t in doc["text"])
    return (f"<h3>Free text</h3><p class='muted'>embedding: {escape(str(doc['embedding']))}"
            "</p><table><tr><th>column</th><th>distinct-1 (syn / ref)</th><th>distinct-2</th>"
            "<th>embedding diversity</th></tr>" + rows + "</table>")


def _num3(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"
