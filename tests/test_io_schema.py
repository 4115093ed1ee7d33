"""Column kinds (infer_schema), normalized types (normalize_table) and schema alignment."""

import random
import uuid
from datetime import datetime

import pyarrow as pa
import pytest

from synthos.errors import SynthosInputError
from synthos.io.align import Mismatch, align_schemas
from synthos.io.normalize import normalize_table
from synthos.io.schema import ColumnSchema, datetime_format, infer_column, infer_schema

N = 100


def _one(name, values, type=None):
    """The inferred schema of a single column."""
    (col,) = infer_schema(pa.table({name: pa.array(values, type)}))
    return col


def _distinct_ints(seed=0, n=N):
    """n distinct, non-monotonic integers."""
    values = random.Random(seed).sample(range(10_000, 99_999), n)
    assert values != sorted(values) and values != sorted(values, reverse=True)
    return values


# --- kinds ------------------------------------------------------------------------------------


def test_zero_one_integers_are_boolean():
    """An integer column holding only 0 and 1 is boolean."""
    col = _one("churned", [i % 2 for i in range(N)])
    assert (col.kind, col.distinct, col.arrow_type) == ("boolean", 2, "int64")


def test_zero_one_two_integers_are_integer():
    """A third value makes a 0/1 column an ordinary integer."""
    assert _one("level", [i % 3 for i in range(N)]).kind == "integer"


def test_yes_no_strings_are_boolean():
    """'yes'/'no' strings are boolean; missing values do not count as a third value."""
    col = _one("member", ["yes", "no", None, "no"] * 25)
    assert (col.kind, col.distinct, col.missing_rate) == ("boolean", 2, 0.25)


def test_single_truthy_value_is_boolean_but_two_trues_are_not():
    """One distinct 'true' is boolean (a flag never unset); 'yes'/'true' alone is not."""
    assert _one("flag", ["true"] * 40).kind == "boolean"
    assert _one("flag", ["yes", "true"] * 20).kind == "categorical"


def test_yes_no_in_mixed_case_is_boolean():
    """'Yes', 'yes', 'No', 'no' are still a two-valued column."""
    assert _one("member", ["Yes", "yes", "No", "no"] * 25).kind == "boolean"


def test_unique_uuid_strings_are_id():
    """100 distinct UUID strings under a neutral name are an id."""
    rng = random.Random(1)
    col = _one("token", [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(N)])
    assert (col.kind, col.distinct, col.unique_ratio) == ("id", N, 1.0)


def test_unique_strings_below_id_threshold_are_categorical():
    """Below 30 values, all-distinct strings are not taken for an id."""
    col = _one("token", [f"v{i:03d}x" for i in range(29)])
    assert (col.kind, col.distinct) == ("categorical", 29)


def test_monotonic_unique_ints_are_id_without_id_name():
    """Unique increasing integers named row_number are an id because they are monotonic."""
    assert _one("row_number", list(range(N))).kind == "id"
    assert _one("row_number", list(range(N, 0, -1))).kind == "id"


def test_unique_non_monotonic_ints_without_id_name_are_integer():
    """Unique but shuffled integers named income stay integer."""
    col = _one("income", _distinct_ints())
    assert (col.kind, col.distinct, col.unique_ratio) == ("integer", N, 1.0)


@pytest.mark.parametrize("name", ["customer_id", "id", "customerId", "user-key", "UUID",
                                  "index"])
def test_unique_ints_with_id_name_are_id(name):
    """Unique shuffled integers under an id-like name are an id."""
    assert _one(name, _distinct_ints()).kind == "id"


@pytest.mark.parametrize("name", ["amount_paid", "valid", "humid"])
def test_names_merely_ending_in_id_letters_are_not_id(name):
    """A name that ends in '...id' without being an identifier does not make a column an id."""
    assert _one(name, _distinct_ints()).kind == "integer"


def test_iso_dates_are_datetime():
    """ISO dates are datetime with format %Y-%m-%d."""
    col = _one("day", [f"2024-{m:02d}-{d:02d}" for m in range(1, 11) for d in range(1, 11)])
    assert (col.kind, col.datetime_format) == ("datetime", "%Y-%m-%d")


def test_day_first_dates():
    """Dates like 31/01/2023 are datetime with format %d/%m/%Y."""
    values = [f"{d:02d}/{m:02d}/2023" for m in range(1, 11) for d in range(19, 29)]
    col = _one("day", values)
    assert (col.kind, col.datetime_format) == ("datetime", "%d/%m/%Y")


def test_month_first_dates():
    """Dates like 01/31/2023 (day > 12) fall through to %m/%d/%Y."""
    values = [f"{m:02d}/{d:02d}/2023" for m in range(1, 11) for d in range(19, 29)]
    assert _one("day", values).datetime_format == "%m/%d/%Y"


def test_datetime_with_time_and_fractional_iso():
    """'YYYY-mm-dd HH:MM:SS' gets its own format; fractional ISO falls back to 'ISO8601'."""
    assert _one("ts", [f"2024-01-{d:02d} 10:20:{d:02d}" for d in range(1, 29)]
                ).datetime_format == "%Y-%m-%d %H:%M:%S"
    assert datetime_format(pa.array([f"2024-01-{d:02d}T10:20:30.125" for d in range(1, 29)])
                           ) == "ISO8601"


def test_datetime_needs_95_percent_parsable():
    """96 dates and 4 non-dates are datetime; 90 and 10 are not."""
    dates = [f"2024-03-{d % 28 + 1:02d}" for d in range(N)]
    assert datetime_format(pa.array(dates[:96] + ["unknown day"] * 4)) == "%Y-%m-%d"
    assert datetime_format(pa.array(dates[:90] + ["unknown day"] * 10)) is None


def test_datetime_tolerates_a_few_short_placeholders():
    """A few short placeholders ('n/a') do not hide a date column (99% parse)."""
    dates = [f"2024-03-{d % 28 + 1:02d}" for d in range(99)]
    assert datetime_format(pa.array([*dates, "n/a"])) == "%Y-%m-%d"


def test_typed_timestamps_are_datetime():
    """Arrow timestamp and date columns are datetime without a string format."""
    col = _one("at", [datetime(2024, 1, d) for d in range(1, 29)], pa.timestamp("ms"))
    assert (col.kind, col.datetime_format) == ("datetime", None)
    assert _one("day", [datetime(2024, 1, 1).date()] * 3, pa.date32()).kind == "datetime"


def test_long_sentences_are_text():
    """Multi-word, mostly distinct sentences are text."""
    rng = random.Random(3)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota",
             "kappa", "lambda", "mu"]
    values = [" ".join(rng.choice(words) for _ in range(8 + i % 5)) for i in range(N)]
    col = _one("review", values)
    assert col.kind == "text"


def test_text_needs_four_words_on_average():
    """Mostly distinct values of 4 words are text; of 3 words, categorical."""
    four = [f"w{i} a b c" for i in range(80)] + ["w0 a b c"] * 20
    three = [f"w{i} a b" for i in range(80)] + ["w0 a b"] * 20
    assert _one("note", four).kind == "text"
    assert _one("note", three).kind == "categorical"


def test_repeated_sentences_are_categorical():
    """Multi-word values repeated from a handful of choices are categorical, not text."""
    values = ["the product arrived broken", "works as described, thanks",
              "would not buy again sadly"] * 34
    assert _one("review", values).kind == "categorical"


def test_three_level_categorical():
    """Three repeated labels are categorical, with 3 distinct values."""
    col = _one("plan", ["basic", "pro", "enterprise"] * 40)
    assert (col.kind, col.distinct, col.unique_ratio) == ("categorical", 3, 3 / 120)


def test_floats_are_numeric_and_nan_is_missing():
    """Float columns are numeric; NaN and null both count as missing."""
    col = _one("score", [0.5, float("nan"), None, 2.5, 2.5])
    assert (col.kind, col.missing_rate, col.distinct) == ("numeric", 0.4, 2)


@pytest.mark.parametrize("type", [pa.null(), pa.string()])
def test_all_null_column(type):
    """A column with no value at all is categorical with missing_rate 1.0."""
    col = _one("empty", [None] * 40, type)
    assert (col.kind, col.missing_rate, col.distinct, col.unique_ratio) == (
        "categorical", 1.0, 0, 0.0)


def test_explicit_missing_rates_override_the_sample():
    """infer_schema uses the exact missing rates it is given, not the sample's."""
    table = pa.table({"a": [1, 2, None, 4]})
    assert infer_schema(table)[0].missing_rate == 0.25
    assert infer_schema(table, {"a": 0.125})[0].missing_rate == 0.125


def test_dictionary_column_is_decoded():
    """Dictionary-encoded strings are inferred from their values."""
    values = pa.array(["x", "y", "z"] * 20).dictionary_encode()
    col = infer_column("d", values, 0.0)
    assert (col.kind, col.distinct) == ("categorical", 3)


def test_empty_strings_count_as_missing():
    """Empty strings are missing in the missing rate, as documented."""
    assert _one("c", ["a", "", "b", None]).missing_rate == 0.5


# --- normalize_table ---------------------------------------------------------------------------


def test_normalize_boolean_strings():
    """Boolean strings become pa.bool_(), folding case and spaces; others become null."""
    table = pa.table({"b": ["yes", "no", " Yes", None, "", "no"]})
    cols = [ColumnSchema("b", "boolean", "string", 0.0, 2, 0.0)]
    out = normalize_table(table, cols)
    assert out.schema.field("b").type == pa.bool_()
    assert out.column("b").to_pylist() == [True, False, True, None, None, False]


def test_normalize_boolean_integers():
    """0/1 integers become False/True."""
    out = normalize_table(pa.table({"b": [0, 1, 1, None]}),
                          [ColumnSchema("b", "boolean", "int64", 0.0, 2, 0.0)])
    assert out.column("b").to_pylist() == [False, True, True, None]


def test_normalize_datetime_strings():
    """Datetime strings become timestamp('us') with the exact instants; bad values null."""
    values = ["2024-02-29 13:45:07", "1999-12-31 23:59:59", "garbage", None]
    table = pa.table({"t": values})
    (col,) = infer_schema(pa.table({"t": values[:2] * 20}))
    assert col.datetime_format == "%Y-%m-%d %H:%M:%S"
    out = normalize_table(table, [col])
    assert out.schema.field("t").type == pa.timestamp("us")
    assert out.column("t").to_pylist() == [datetime(2024, 2, 29, 13, 45, 7),
                                           datetime(1999, 12, 31, 23, 59, 59), None, None]


def test_normalize_day_first_dates():
    """A %d/%m/%Y column is parsed day first."""
    col = ColumnSchema("d", "datetime", "string", 0.0, 2, 1.0, "%d/%m/%Y")
    out = normalize_table(pa.table({"d": ["03/04/2021", "31/12/2020"]}), [col])
    assert out.column("d").to_pylist() == [datetime(2021, 4, 3), datetime(2020, 12, 31)]


def test_normalize_empty_strings_are_null_in_categorical():
    """Empty and blank strings become null in categorical columns; other labels stay."""
    table = pa.table({"c": ["a", "", "b", "   ", None]})
    out = normalize_table(table, [ColumnSchema("c", "categorical", "string", 0.0, 2, 0.0)])
    assert out.column("c").to_pylist() == ["a", None, "b", None, None]
    assert out.schema.field("c").type == pa.string()


def test_normalize_numeric_kinds_and_passthrough():
    """integer → int64, numeric → float64, id → string; unlisted columns pass unchanged."""
    table = pa.table({"i": pa.array([1, 2, None], pa.int32()), "f": [1, 2, 3],
                      "k": [10, 11, 12], "other": ["x", "", "z"]})
    cols = [ColumnSchema("i", "integer", "int32", 0.0, 2, 1.0),
            ColumnSchema("f", "numeric", "int64", 0.0, 3, 1.0),
            ColumnSchema("k", "id", "int64", 0.0, 3, 1.0)]
    out = normalize_table(table, cols)
    assert out.schema == pa.schema([("i", pa.int64()), ("f", pa.float64()),
                                    ("k", pa.string()), ("other", pa.string())])
    assert out.to_pydict() == {"i": [1, 2, None], "f": [1.0, 2.0, 3.0],
                               "k": ["10", "11", "12"], "other": ["x", "", "z"]}


def test_normalize_whole_inferred_table():
    """infer_schema then normalize_table types every column as its kind says."""
    table = pa.table({"flag": ["y", "n"] * 20, "day": ["2024-01-02", "2024-01-03"] * 20,
                      "n": [1.5, 2.5] * 20, "label": ["u", "v", "w", ""] * 10})
    out = normalize_table(table, infer_schema(table))
    assert [f.type for f in out.schema] == [pa.bool_(), pa.timestamp("us"), pa.float64(),
                                            pa.string()]
    assert out.column("label").null_count == 10


# --- align_schemas ---------------------------------------------------------------------------

SYN, REF = "s3://bucket/synthetic.parquet", "/data/reference.csv"


def _doc(uri, **kinds):
    return {"uri": uri, "columns": [
        {"name": n, "kind": k, "missing_rate": 1.0 if n == "void" else 0.0}
        for n, k in kinds.items()]}


def test_align_missing_extra_mismatched():
    """Missing, extra and retyped columns are listed; compatible swaps flagged as such."""
    ref = _doc(REF, age="integer", income="numeric", city="categorical", score="numeric",
               flag="boolean", name="text")
    syn = _doc(SYN, name="id", score="categorical", income="numeric", age="numeric",
               flag="integer", extra1="numeric")
    al = align_schemas(syn, ref)
    assert al.common == ["age", "income", "score", "flag", "name"]
    assert al.missing == ["city"]
    assert al.extra == ["extra1"]
    assert al.mismatched == [Mismatch("age", "integer", "numeric", True),
                             Mismatch("score", "numeric", "categorical", False),
                             Mismatch("flag", "boolean", "integer", True),
                             Mismatch("name", "text", "id", True)]
    assert al.kinds == {"age": "integer", "income": "numeric", "score": "numeric",
                        "flag": "boolean", "name": "text"}
    assert al.issues == 6
    assert (al.target, al.task) == (None, None)


def test_align_identical_schemas_have_no_issues():
    """The same schema on both sides aligns with nothing to report."""
    doc = _doc(REF, a="integer", b="categorical")
    al = align_schemas(dict(doc, uri=SYN), doc)
    assert (al.common, al.missing, al.extra, al.mismatched, al.issues) == (
        ["a", "b"], [], [], [], 0)


def test_align_no_common_column():
    """No column in common: an error about the synthetic file naming both sides."""
    with pytest.raises(SynthosInputError) as err:
        align_schemas(_doc(SYN, x="numeric", y="numeric"), _doc(REF, a="numeric", b="integer"))
    assert err.value.source == SYN
    assert str(err.value) == (f"{SYN}: no column in common with the reference {REF} "
                              "(synthetic: x, y; reference: a, b)")


def test_align_no_common_column_long_lists_are_shortened():
    """More than 8 columns are shown as the first 8 and a count."""
    syn = _doc(SYN, **{f"s{i}": "numeric" for i in range(10)})
    with pytest.raises(SynthosInputError) as err:
        align_schemas(syn, _doc(REF, a="numeric"))
    assert "(synthetic: s0, s1, s2, s3, s4, s5, s6, s7, … (10 in all); reference: a)" in str(
        err.value)


def test_align_unknown_target():
    """A target the reference lacks: an error about the reference, listing its columns."""
    with pytest.raises(SynthosInputError) as err:
        align_schemas(_doc(SYN, a="numeric"), _doc(REF, a="numeric", b="integer"), "label")
    assert err.value.source == REF
    assert str(err.value) == f"{REF}: target column 'label' not found (columns: a, b)"


def test_align_target_missing_from_synthetic():
    """A target only the reference has: an error about the synthetic file."""
    with pytest.raises(SynthosInputError) as err:
        align_schemas(_doc(SYN, a="numeric"), _doc(REF, a="numeric", y="categorical"), "y")
    assert err.value.source == SYN
    assert str(err.value) == f"{SYN}: target column 'y' is missing from the synthetic data"


@pytest.mark.parametrize("kind", ["text", "id", "datetime"])
def test_align_unpredictable_target(kind):
    """Text, id and datetime targets are rejected, naming the reference."""
    with pytest.raises(SynthosInputError) as err:
        align_schemas(_doc(SYN, a="numeric", t=kind), _doc(REF, a="numeric", t=kind), "t")
    assert str(err.value) == (f"{REF}: target column 't' holds {kind} values; a target must be "
                              "categorical, boolean, integer or numeric")


def test_align_all_missing_target():
    """A target with no values in the reference is rejected."""
    with pytest.raises(SynthosInputError) as err:
        align_schemas(_doc(SYN, void="numeric"), _doc(REF, void="numeric"), "void")
    assert str(err.value) == f"{REF}: target column 'void' is all missing"


@pytest.mark.parametrize(("kind", "task"), [
    ("categorical", "classification"), ("boolean", "classification"),
    ("numeric", "regression"), ("integer", "classification or regression")])
def test_align_target_task(kind, task):
    """The task follows the reference kind of the target, whatever the synthetic kind."""
    al = align_schemas(_doc(SYN, a="numeric", y="text"), _doc(REF, a="numeric", y=kind), "y")
    assert (al.target, al.task) == ("y", task)
    assert al.kinds["y"] == kind
