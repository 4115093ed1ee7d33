"""The recommendations section: actions ranked by measured gain over cost."""

from __future__ import annotations

from html import escape


def render_recommendations(doc: dict) -> str:
    """HTML for a recommendation document (:func:`synthos.recommend.recommend`)."""
    if not doc["recommendations"]:
        return f"<p class='muted'>{escape(doc.get('note', 'No recommendation.'))}</p>"
    sa = doc["scored_against"]
    rows = []
    for r in doc["recommendations"]:
        if r["measured"]:
            moves = ", ".join(f"{escape(d)} {r['before'][d]:.1f} → {r['after'][d]:.1f}"
                              for d in r["targets"])
            gain = f"{r['gain']:+.1f}"
            ratio = f"{r['gain_per_cost']:.2f}"
        else:
            moves, gain, ratio = escape(r["basis"]), "estimate", "—"
        cost = r["cost"]
        cost_text = (f"{cost['rows_removed']:,} rows removed" if cost["rows_removed"] else
                     f"{cost['real_rows_needed']:,} real rows" if cost["real_rows_needed"]
                     else "a new generation")
        rows.append(f"<tr><td class='num'>{r['rank']}</td><td>{escape(r['title'])}</td>"
                    f"<td>{moves}</td><td class='num'>{gain}</td><td>{cost_text}</td>"
                    f"<td class='num'>{ratio}</td></tr>")
    return (f"<p class='muted'>Each measured action was applied to the synthetic sample and "
            f"the dimensions re-scored: removals against all {sa['reference_rows']:,} real "
            f"rows, additions of real rows against {sa['evaluation_rows']:,} of them (the "
            f"{sa['donor_rows']:,} others being the rows mixed in), their change carried over "
            "to the collapse stage's scores. Gain: "
            "points recovered "
            "toward every dimension's threshold plus the warn margin, side effects included; "
            "actions that clear every threshold first, then by gain per 1% of rows changed (at"
            " least 10%)."
            "</p><table><tr><th>#</th><th>action</th>"
            "<th>target dimensions, before → after</th><th>gain</th><th>cost</th>"
            "<th>gain / 1% rows</th></tr>" + "".join(rows) + "</table>")
