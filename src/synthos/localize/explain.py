"""Reasons a person can act on: what makes a row unusual, in the units of its columns.

Feature reasons compare a value with the range of the real rows, overall and within the
real rows that share one of its categories ("carat 4.1 where real rows with cut=Fair stop at
2.0"); when every value is within range, the row is compared with its nearest real row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthos.localize.detectors import NEAR_SD, Detection
from synthos.localize.space import Space

#: Real rows a category must hold before its own range is quoted.
MIN_STRATUM = 20
_NAMED = 4  # columns a reason names before it counts the rest


@dataclass
class _Stratum:
    column: str
    label: str
    lo: np.ndarray  # per numeric column, NaN where the stratum has no value
    hi: np.ndarray


def fmt(value: float, kind: str) -> str:
    """A value in its column's units."""
    if np.isnan(value):
        return "missing"
    if kind == "datetime":
        return pd.Timestamp(value, unit="s").isoformat()
    if kind in ("integer", "boolean") or (float(value).is_integer() and abs(value) < 1e15):
        return str(round(value))
    return f"{value:.4g}"


def _ordinal(k: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _labels(codes: list[np.ndarray], values: list[pd.Series]) -> dict[int, str]:
    """Code -> the label it stands for, from the rows that hold it."""
    out: dict[int, str] = {}
    for c, v in zip(codes, values, strict=True):
        uniq, first = np.unique(c, return_index=True)
        for code, i in zip(uniq, first, strict=True):
            if code >= 0 and int(code) not in out:
                out[int(code)] = str(v.iloc[i])
    return out


class Explainer:
    """Precomputed ranges of the real rows, and the text of each detector's reason."""

    def __init__(self, space: Space, synthetic: pd.DataFrame, reference: pd.DataFrame,
                 kinds: dict[str, str], detections: dict[str, Detection]) -> None:
        self.space, self.kinds, self.det = space, kinds, detections
        prep = space.prep
        self.syn_raw, ref_raw = prep.numeric_as_given
        self.ref_raw = ref_raw
        with np.errstate(all="ignore"):
            self.lo, self.hi = np.nanmin(ref_raw, axis=0), np.nanmax(ref_raw, axis=0)
        self.std = space.embedding.std
        self.columns = prep.compared_names
        self.labels = [_labels([prep.synthetic.codes[:, j], prep.reference.codes[:, j]],
                               [synthetic[n], reference[n]])
                       for j, n in enumerate(prep.categorical_names)]
        self.ref_counts = [np.bincount(c[c >= 0], minlength=lv)
                           for c, lv in zip(prep.reference.codes.T, prep.levels, strict=True)]
        self.strata: dict[tuple[int, int], _Stratum] = {}
        if ref_raw.shape[1]:
            for j in np.flatnonzero(prep.narrow):
                codes = prep.reference.codes[:, j]
                for code in np.flatnonzero(self.ref_counts[j] >= MIN_STRATUM):
                    rows = ref_raw[codes == code]
                    with np.errstate(all="ignore"):
                        self.strata[(j, int(code))] = _Stratum(
                            prep.categorical_names[j], self.labels[j].get(int(code), "?"),
                            np.nanmin(rows, axis=0), np.nanmax(rows, axis=0))
        self.ref_hash_row = pd.Series(np.arange(prep.reference.n),
                                      index=space.reference_records).groupby(level=0).first()

    # --- features -------------------------------------------------------------------------

    def feature_reasons(self, r: int, limit: int = 2) -> list[str]:
        """The row's most unusual values against the real rows' ranges, most unusual first."""
        prep = self.space.prep
        found: list[tuple[float, str]] = []
        values = self.syn_raw[r]
        codes = prep.synthetic.codes[r]
        for j, name in enumerate(prep.categorical_names):
            code = codes[j]
            if code >= 0 and (code >= len(self.ref_counts[j]) or self.ref_counts[j][code] == 0):
                found.append((3.0, f"{name}={self.labels[j].get(int(code), '?')!r} never "
                                   "appears in real rows"))
        for i, name in enumerate(prep.numeric_names):
            v, kind = values[i], self.kinds.get(name, "numeric")
            if np.isnan(v):
                continue
            if v > self.hi[i]:
                found.append((1 + (v - self.hi[i]) / self.std[i],
                              f"{name} {fmt(v, kind)} where real rows stop at "
                              f"{fmt(self.hi[i], kind)}"))
                continue
            if v < self.lo[i]:
                found.append((1 + (self.lo[i] - v) / self.std[i],
                              f"{name} {fmt(v, kind)} where real rows start at "
                              f"{fmt(self.lo[i], kind)}"))
                continue
            best: tuple[float, str] | None = None
            for j in np.flatnonzero(prep.narrow):
                st = self.strata.get((j, int(codes[j])))
                if st is None or st.column == name:
                    continue
                if v > st.hi[i]:
                    gap, text = (v - st.hi[i]) / self.std[i], (
                        f"{name} {fmt(v, kind)} where real rows with {st.column}={st.label} "
                        f"stop at {fmt(st.hi[i], kind)}")
                elif v < st.lo[i]:
                    gap, text = (st.lo[i] - v) / self.std[i], (
                        f"{name} {fmt(v, kind)} where real rows with {st.column}={st.label} "
                        f"start at {fmt(st.lo[i], kind)}")
                else:
                    continue
                if best is None or gap > best[0]:
                    best = (gap, text)
            if best is not None:
                found.append((0.5 + best[0], best[1]))
        found.sort(key=lambda t: -t[0])
        return [text for _, text in found[:limit]]

    def nearest_reason(self, r: int) -> str:
        """How the row differs from its nearest real row, in the columns that differ most."""
        oos = self.det.get("out_of_support")
        if oos is None:
            return ""
        prep = self.space.prep
        j_ref = int(self.space.real_rows[oos.extra["nearest"][r]])
        ref_pos = int(self.space.reference_positions[j_ref])
        diffs: list[tuple[float, str]] = []
        for i, name in enumerate(prep.numeric_names):
            v, w = self.syn_raw[r, i], self.ref_raw[j_ref, i]
            if np.isnan(v) or np.isnan(w):
                continue
            kind = self.kinds.get(name, "numeric")
            diffs.append((abs(v - w) / self.std[i], f"{name} {fmt(v, kind)} vs {fmt(w, kind)}"))
        for j, name in enumerate(prep.categorical_names):
            a, b = prep.synthetic.codes[r, j], prep.reference.codes[j_ref, j]
            if a != b:
                diffs.append((1.0, f"{name} {self.labels[j].get(int(a), 'missing')} vs "
                                   f"{self.labels[j].get(int(b), 'missing')}"))
        diffs.sort(key=lambda t: -t[0])
        ratio, k = oos.extra["ratio"][r], oos.extra["neighbours"].shape[1]
        parts = ", ".join(text for _, text in diffs[:2])
        return (f"its {k} nearest real rows are on average {ratio:.1f}x as far from it as from "
                f"their own {_ordinal(k)} nearest real row; the nearest (reference row "
                f"{ref_pos}) differs most in {parts}")

    # --- detectors ------------------------------------------------------------------------

    def memorization(self, r: int) -> str:
        det = self.det["memorization"]
        nearest = int(self.space.real_rows[det.extra["nearest"][r]])
        copies = int(det.extra["copies"][r])
        if copies > 0:
            h = self.space.synthetic_records[r]
            j = int(self.ref_hash_row.get(h, nearest))
            held = ("a record no other real row holds" if copies == 1
                    else f"a record {copies} real rows hold")
            repeats = int(det.extra["repeats"][r])
            if repeats > 0:
                held += (f" and {repeats} other synthetic "
                         f"{'rows hold' if repeats > 1 else 'row holds'}")
            return (f"identical to reference row {int(self.space.reference_positions[j])} on "
                    f"every compared column ({held})")
        return (f"a near copy of reference row {int(self.space.reference_positions[nearest])} "
                f"({det.extra['distance'][r]:.3g} standard units away, where the next real row "
                f"is {det.extra['second'][r]:.3g})")

    def duplicates(self, r: int) -> str:
        det = self.det["duplicates"]
        partner = int(det.extra["partner"][r])
        where = (f"row {int(self.space.synthetic_positions[partner])}" if partner >= 0
                 else "another row")
        exact, near = int(det.extra["exact"][r]), int(det.extra["near"][r])
        if exact > 0:
            return f"repeats {where} exactly ({exact + 1} identical rows in the synthetic table)"
        if near > 0:
            return (f"near-duplicate of {where} ({near + 1} rows within {NEAR_SD} standard "
                    "deviations on every column)")
        return "its values are repeated more often than in the real rows"

    def label_issue(self, r: int) -> str:
        ex = self.det["label_issue"].extra
        prep, target = self.space.prep, self.space.ctx.target
        # A numeric target is quoted as the row holds it: its class may be one the reference
        # never holds.
        label = (self._class_name(int(ex["label"][r])) if ex["class_values"] is None
                 else fmt(self.syn_raw[r, prep.numeric_names.index(target)], "integer"))
        predicted = self._class_name(int(ex["predicted"][r]))
        return (f"{target}={label} but a model trained on the other rows gives that label "
                f"{ex['given_p'][r]:.2f} and predicts {predicted} ({ex['predicted_p'][r]:.2f})")

    def _class_name(self, c: int) -> str:
        values = self.det["label_issue"].extra["class_values"]
        if values is None:
            j = self.space.prep.categorical_names.index(self.space.ctx.target)
            return self.labels[j].get(c, str(c))
        return fmt(values[c], "integer") if 0 <= c < len(values) else "an unseen value"

    def inconsistency(self, r: int) -> str:
        ex = self.det["inconsistency"].extra
        column = self._column_reason(r)
        if ex["fragmented"][r]:
            pieces = self._fragments_reason(r)
            return f"{pieces}; {column}" if column else pieces
        if not ex["spliced"][r]:
            return column or "its columns go together less well than in real rows"
        # The share of real rows below says how unusual that is: the splice term can be a
        # healthy row's largest without being large.
        spliced = (f"its columns go together as in rows spliced from two real rows (p(spliced) "
                   f"{ex['splice'][r]:.2f} from a classifier trained on such splices against "
                   f"real rows, above {ex['splice_share'][r]:.1%} of real rows)")
        return f"{spliced}; {column}" if column else spliced

    def _fragments_reason(self, r: int) -> str:
        """Which columns of the row hold which other rows' exact values: those the cover
        matches (values few rows hold), rarest first."""
        ex = self.det["inconsistency"].extra
        held, pool = ex["held"][r], ex["pool"]
        pieces = []
        for p in ex["partners"][r]:
            if p < 0:
                continue
            where, values, codes = self._pool_row(int(p))
            same = [j for j in self._equal_columns(r, values, codes) if held[j] >= 2]
            if same:
                same.sort(key=lambda j: held[j])
                lo, hi = held[same[0]], held[same[-1]]
                more = f" and {len(same) - _NAMED} more" if len(same) > _NAMED else ""
                names = ", ".join(self.columns[j] for j in same[:_NAMED])
                count = f"{lo}" if lo == hi else f"{lo} to {hi}"
                pieces.append(f"on {names}{more} (held by {count} of the pool's {pool:,} "
                              f"rows) those of {where}")
        return (f"its values are, piece by piece, other rows' exact values: "
                f"{'; '.join(pieces)} (only {1.0 - ex['fragment_share'][r]:.1%} of real rows "
                "share as much with other rows)")

    def _pool_row(self, p: int) -> tuple[str, np.ndarray, np.ndarray]:
        """A fragments pool position: the row it names, its numeric values as given and its
        categorical codes."""
        space, n = self.space, len(self.space.points)
        if p < n:
            return (f"synthetic row {int(space.synthetic_positions[p])}", self.syn_raw[p],
                    space.prep.synthetic.codes[p])
        real = int(space.real_rows[p - n])
        return (f"reference row {int(space.reference_positions[real])}", self.ref_raw[real],
                space.prep.reference.codes[real])

    def _equal_columns(self, r: int, values: np.ndarray, codes: np.ndarray) -> list[int]:
        """The columns (positions in :attr:`columns`) where synthetic row ``r`` holds
        ``values`` (numeric) and ``codes``."""
        prep = self.space.prep
        same = [j for j, (a, b) in enumerate(zip(self.syn_raw[r], values, strict=True))
                if a == b]
        k = len(prep.numeric_names)
        same += [k + j for j, (a, b) in enumerate(zip(prep.synthetic.codes[r], codes,
                                                        strict=True)) if a >= 0 and a == b]
        return same

    def _column_reason(self, r: int) -> str:
        """The row's worst column against what its other values predict ("" for none)."""
        ex = self.det["inconsistency"].extra
        c = int(ex["column"][r])
        if c < 0:
            return ""
        col = ex["columns"][c]
        name, expected = col["name"], ex["expected"][r]
        if col["numeric"]:
            kind = self.kinds.get(name, "numeric")
            value = self.syn_raw[r, col["index"]]
            return (f"{name} {fmt(value, kind)} where real rows with its other values hold about "
                    f"{fmt(expected, kind)} (typically within {col['typical_error']:.3g})")
        code = int(self.space.prep.synthetic.codes[r, col["index"]])
        labels = self.labels[col["index"]]
        top = labels.get(int(expected), "?")
        if code < 0:
            return f"{name} missing where real rows with its other values hold {top}"
        own = labels.get(code, "?")
        if code == int(expected):
            # The row's class is the likeliest and still unlikely: naming it as what real
            # rows hold would read as no reason at all.
            return (f"{name}={own}, which real rows with its other values hold with "
                    f"probability {ex['given'][r]:.2g}")
        return (f"{name}={own} (probability {ex['given'][r]:.2g}) where real rows with its "
                f"other values hold {top}")

    def detectability(self, r: int) -> str:
        det = self.det["detectability"]
        return f"a classifier tells it from real rows (p(synthetic) {det.stat[r]:.2f})"

    def reasons(self, r: int, ranked: list[str]) -> str:
        """The reasons of row ``r``, for its detectors ranked worst first."""
        out: list[str] = []
        for name in ranked:
            if name in ("out_of_support", "detectability"):
                feats = self.feature_reasons(r)
                if feats:
                    out.extend(t for t in feats if t not in out)
                elif name == "out_of_support":
                    out.append(self.nearest_reason(r))
                if name == "detectability" and not feats:
                    out.append(self.detectability(r))
            else:
                out.append(getattr(self, name)(r))
        return "; ".join(t for t in out if t)
