"""The same table saved in each supported format loads to the same schema, rows and values.

Also: row counts from ``inspect``, CSV type widening deep in a file, and the one-line errors
that ``open_source`` gives for files whose content contradicts their name.
"""

import bz2
import gzip
import math
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tabledata
import zstandard

from synthos.errors import SynthosInputError
from synthos.io import ROW_COLUMN, inspect, iter_batches, open_source, profile, scan
from synthos.io.formats import EXTENSIONS, check_content, from_extension

pytestmark = pytest.mark.filterwarnings("ignore:Feather V1 files are deprecated")

ROWS = tabledata.ROWS


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return tabledata.write_all(tmp_path_factory.mktemp("formats"))


def _plain(values):
    """Values with every missing marker (None, NaN, '') turned into None, datetimes as text."""
    out = []
    for v in values:
        if v is None or v == "" or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        elif hasattr(v, "strftime"):
            out.append(v.strftime("%Y-%m-%d %H:%M:%S"))
        else:
            out.append(v)
    return out


# --- every format ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", tabledata.FORMATS)
def test_profile_rows_and_kinds(files, fmt):
    """Every format loads to exactly 500 rows and the expected {column: kind} mapping."""
    prof = profile(str(files[fmt]))
    kinds = {c.name: c.kind for c in prof.columns}
    assert prof.rows == ROWS
    assert kinds == tabledata.KINDS
    # Column order is the file's; h5py lists a group's datasets alphabetically.
    expected_order = sorted(tabledata.KINDS) if fmt == "hdf5-group" else list(tabledata.KINDS)
    assert list(kinds) == expected_order
    assert prof.sampled is False
    assert prof.sample.num_rows == ROWS


@pytest.mark.parametrize("fmt", tabledata.FORMATS)
def test_profile_missing_rates(files, fmt):
    """Missing rates are exact over all rows: 50/500 NaN floats, 20/500 missing notes."""
    prof = profile(str(files[fmt]))
    assert {c.name: c.missing_rate for c in prof.columns} == tabledata.MISSING


@pytest.mark.parametrize("fmt", tabledata.FORMATS)
def test_every_format_loads_the_same_values(files, fmt):
    """The full sample holds every row, in order, with the values that were written."""
    sample = profile(str(files[fmt])).sample
    truth = tabledata.columns()
    assert sample.column(ROW_COLUMN).to_pylist() == list(range(ROWS))
    for name in ("id", "count", "flag", "color", "ts", "text", "note"):
        assert _plain(sample.column(name).to_pylist()) == _plain(truth[name]), name
    got = _plain(sample.column("value").to_pylist())
    want = _plain(truth["value"])
    assert [i for i, v in enumerate(got) if v is None] == tabledata.VALUE_MISSING
    # pandas writes JSON floats with 10 significant digits.
    present = [i for i, v in enumerate(want) if v is not None]
    assert [got[i] for i in present] == pytest.approx([want[i] for i in present], rel=1e-9)


@pytest.mark.parametrize("fmt", tabledata.FORMATS)
def test_inspect_small_file_is_exact(files, fmt):
    """inspect: a file shorter than the head is counted exactly, with the same kinds."""
    meta = inspect(str(files[fmt]))
    assert (meta.rows, meta.rows_exact) == (ROWS, True)
    assert {c.name: c.kind for c in meta.columns} == tabledata.KINDS
    assert meta.bytes == os.path.getsize(files[fmt])
    assert meta.basis == "first 500 rows"


def test_format_labels(files):
    """Each file reports the format label its extension and compression imply."""
    labels = {fmt: profile(str(files[fmt])).format for fmt in
              ("csv", "tsv", "csv.gz", "csv.bz2", "csv.zst", "jsonl.gz", "json-split",
               "arrow-stream", "feather-v1", "hdf5-group", "xlsx")}
    assert labels == {
        "csv": "CSV", "tsv": "TSV", "csv.gz": "CSV (gzip)", "csv.bz2": "CSV (bzip2)",
        "csv.zst": "CSV (zstd)", "jsonl.gz": "JSON Lines (gzip)", "json-split": "JSON",
        "arrow-stream": "Arrow IPC", "feather-v1": "Feather", "hdf5-group": "HDF5",
        "xlsx": "Excel (.xlsx)",
    }


def test_profile_sample_is_uniform_subset(files):
    """A sample smaller than the file has exactly sample_rows rows, sorted, and not the head."""
    prof = profile(str(files["parquet"]), sample_rows=50, seed=3)
    rows = prof.sample.column(ROW_COLUMN).to_pylist()
    assert prof.sampled is True
    assert len(rows) == 50 == len(set(rows))
    assert rows == sorted(rows)
    assert rows != list(range(50))
    # Row content travels with its position.
    assert prof.sample.column("id").to_pylist() == rows
    # Same seed, other format, other batch size: the same rows.
    again = profile(str(files["csv"]), sample_rows=50, seed=3, batch_rows=17)
    assert again.sample.column(ROW_COLUMN).to_pylist() == rows


# --- inspect on files longer than its head --------------------------------------------------

BIG = 30_000


@pytest.fixture(scope="module")
def big_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("big")
    return tabledata.write_formats(
        ["csv", "tsv", "jsonl", "csv.gz", "parquet", "arrow-file", "feather-v2",
         "arrow-stream", "feather-v1", "hdf5-group", "hdf5-compound"], folder, rows=BIG)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_inspect_estimates_long_text_file(big_files, fmt):
    """inspect on a 30k-row text file reads 10k rows and estimates the count within 20%."""
    meta = inspect(str(big_files[fmt]))
    assert meta.rows_exact is False
    assert abs(meta.rows - BIG) <= 0.2 * BIG, meta.rows
    assert meta.basis == "first 10,000 rows"
    assert {c.name: c.kind for c in meta.columns} == tabledata.KINDS


def test_inspect_compressed_long_file_has_no_count(big_files):
    """A compressed text file longer than the head has no count without a full pass."""
    meta = inspect(str(big_files["csv.gz"]))
    assert (meta.rows, meta.rows_exact) == (None, False)


@pytest.mark.parametrize("fmt", ["parquet", "arrow-file", "feather-v2"])
def test_inspect_exact_count_from_footer(big_files, fmt):
    """Parquet, Arrow IPC files and Feather v2 give the exact count beyond the head."""
    meta = inspect(str(big_files[fmt]))
    assert (meta.rows, meta.rows_exact) == (BIG, True)




@pytest.mark.parametrize("fmt", ["arrow-stream", "feather-v1", "hdf5-group", "hdf5-compound"])
def test_inspect_exact_count_documented_formats(big_files, fmt):
    """Formats documented as exactly counted by inspect are counted beyond the head too."""
    meta = inspect(str(big_files[fmt]))
    assert (meta.rows, meta.rows_exact) == (BIG, True)


def test_inspect_exact_count_excel(tmp_path):
    """An Excel sheet longer than the head is counted exactly (documented as exact)."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["n"])
    for i in range(10_050):
        sheet.append([i])
    path = tmp_path / "long.xlsx"
    book.save(path)
    meta = inspect(str(path))
    assert (meta.rows, meta.rows_exact) == (10_050, True)


# --- CSV columns whose type changes deep in the file ----------------------------------------

WIDEN_INT_ROWS = 200_000


@pytest.fixture(scope="module")
def widen_csv(tmp_path_factory):
    """200k integer rows (~9 MB, past the reader's first block), then '2.5' and 'abc'."""
    pad = "p" * 40
    lines = ["x,y,pad"]
    lines += [f"{i % 1000},{i % 10},{pad}" for i in range(WIDEN_INT_ROWS)]
    lines += [f"2.5,3,{pad}", f"7,abc,{pad}", f"8,4,{pad}"]
    path = tmp_path_factory.mktemp("widen") / "widen.csv"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 8 << 20
    return str(path)


def test_csv_type_widening_in_profile(widen_csv):
    """profile widens x to float and y to text, keeps every row, and records the widening."""
    prof = profile(widen_csv, sample_rows=300_000)
    assert prof.rows == WIDEN_INT_ROWS + 3
    assert prof.column_types == {"x": "double", "y": "string"}
    assert {c.name: (c.kind, c.arrow_type) for c in prof.columns} == {
        "x": ("numeric", "double"), "y": ("categorical", "string"),
        "pad": ("categorical", "string")}
    assert [c.missing_rate for c in prof.columns] == [0.0, 0.0, 0.0]
    sample = prof.sample
    assert sample.num_rows == WIDEN_INT_ROWS + 3
    tail = sample.slice(WIDEN_INT_ROWS - 1).select(["x", "y"]).to_pylist()
    assert tail == [{"x": 999.0, "y": "9"}, {"x": 2.5, "y": "3"}, {"x": 7.0, "y": "abc"},
                    {"x": 8.0, "y": "4"}]
    assert sample.column("x").slice(0, 3).to_pylist() == [0.0, 1.0, 2.0]


def test_csv_type_change_in_iter_batches_then_scan(widen_csv):
    """iter_batches cannot widen once batches are out; after scan() it reads with wide types."""
    src = open_source(widen_csv)
    with pytest.raises(SynthosInputError) as err:
        for _ in iter_batches(src):
            pass
    assert str(err.value) == (
        f"{widen_csv}: column 'x' changes type deep in the file; read it with scan()")

    src = open_source(widen_csv)
    seen = {"rows": 0, "restarts": 0}

    def restart():
        seen["restarts"] += 1
        seen["rows"] = 0

    def visit(batch, first_row):
        assert first_row == seen["rows"]
        seen["rows"] += batch.num_rows

    schema = scan(src, visit, restart)
    assert seen == {"rows": WIDEN_INT_ROWS + 3, "restarts": 3}
    assert schema.field("x").type == pa.float64()
    assert schema.field("y").type == pa.string()
    assert src.column_types == {"x": pa.float64(), "y": pa.string()}
    total = sum(b.num_rows for b in iter_batches(src))
    assert total == WIDEN_INT_ROWS + 3


# --- content checks ---------------------------------------------------------------------------

KNOWN = (".arrow, .arrows, .bz2, .csv, .feather, .gz, .gzip, .h5, .hdf, .hdf5, .ipc, .json, "
         ".jsonl, .ndjson, .parquet, .pq, .tab, .tsv, .xlsx, .zst, .zstd")


def _parquet_bytes():
    import io

    buf = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(100)), "b": [str(i) for i in range(100)]}), buf)
    return buf.getvalue()


def _error(path, reader=profile):
    with pytest.raises(SynthosInputError) as err:
        reader(str(path))
    assert err.value.source == str(path)
    return str(err.value)


def test_parquet_named_csv(tmp_path):
    """A Parquet file named .csv is rejected by its magic bytes."""
    path = tmp_path / "data.csv"
    path.write_bytes(_parquet_bytes())
    assert _error(path) == f"{path}: extension says CSV but the content is Parquet"


def test_csv_named_parquet(tmp_path):
    """A CSV file named .parquet is rejected as text."""
    path = tmp_path / "data.parquet"
    path.write_text("a,b\n1,2\n")
    assert _error(path) == f"{path}: extension says Parquet but the content is text"


@pytest.mark.parametrize("reader", [profile, inspect])
def test_empty_file(tmp_path, reader):
    """A 0-byte file says so."""
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert _error(path, reader) == f"{path}: file is empty (0 bytes)"


@pytest.mark.parametrize("reader", [profile, inspect])
def test_header_only_csv(tmp_path, reader):
    """A CSV with a header and no rows says so, through profile and inspect alike."""
    path = tmp_path / "header.csv"
    path.write_text("a,b,c\n")
    assert _error(path, reader) == f"{path}: has a header but no data rows"


def test_header_only_xlsx(tmp_path):
    """An Excel sheet with only a header row says so."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["a", "b"])
    path = tmp_path / "header.xlsx"
    book.save(path)
    assert _error(path) == f"{path}: has a header but no data rows"


def test_empty_json_array(tmp_path):
    """A JSON document with no rows says so (no header to speak of)."""
    path = tmp_path / "empty.json"
    path.write_text("[]")
    assert _error(path) == f"{path}: has no data rows"


@pytest.mark.parametrize(("name", "shown"), [("data.txt", ".txt"), ("data", "(none)"),
                                             ("data.csv.txt", ".txt")])
def test_unknown_extension(tmp_path, name, shown):
    """An unknown or absent extension lists every supported one."""
    path = tmp_path / name
    path.write_text("a\n1\n")
    assert _error(path) == f"{path}: unknown file extension {shown}; supported: {KNOWN}"


def test_known_extensions_listed_exactly():
    """The supported list in the message is every format and compression suffix, sorted."""
    assert KNOWN.split(", ") == sorted(set(EXTENSIONS) | {".gz", ".gzip", ".bz2", ".zst",
                                                          ".zstd"})


def test_gzip_extension_on_plain_text(tmp_path):
    """Plain text named .csv.gz is caught before any decompression."""
    path = tmp_path / "plain.csv.gz"
    path.write_text("a,b\n1,2\n")
    assert _error(path) == f"{path}: extension says gzip but the content is text"


def test_compression_on_binary_format(tmp_path):
    """Compression suffixes are for text formats only."""
    path = tmp_path / "data.parquet.gz"
    path.write_bytes(gzip.compress(_parquet_bytes()))
    assert _error(path) == f"{path}: gzip compression is supported for CSV, TSV and JSON only"


def test_truncated_parquet(tmp_path):
    """A Parquet file missing its last 100 bytes is reported as corrupt, naming the format."""
    data = _parquet_bytes()
    path = tmp_path / "cut.parquet"
    path.write_bytes(data[:-100])
    assert _error(path).startswith(f"{path}: corrupt or unreadable Parquet file: ")
    assert _error(path, inspect).startswith(f"{path}: corrupt or unreadable Parquet file: ")


def test_missing_local_file(tmp_path):
    """A local path that does not exist: 'no such file'."""
    path = tmp_path / "nowhere.csv"
    assert _error(path) == f"{path}: no such file"


def test_directory_named_like_a_file(tmp_path):
    """A directory is not a file."""
    path = tmp_path / "folder.csv"
    path.mkdir()
    assert _error(path) == f"{path}: is a directory, not a file"


def test_unsupported_scheme():
    """An ftp:// URI names the scheme and the ones supported."""
    assert _error("ftp://x/y.csv") == (
        "ftp://x/y.csv: unsupported URI scheme 'ftp://'; use a local path, file://, s3:// or gs://")


def test_binary_junk_named_csv(tmp_path):
    """Bytes that are no known format and not text are called unrecognized binary data."""
    path = tmp_path / "junk.csv"
    path.write_bytes(bytes(range(256)) * 4)
    assert _error(path) == f"{path}: extension says CSV but the content is unrecognized binary data"


def test_csv_named_json(tmp_path):
    """CSV text named .json points at the likely mistake."""
    path = tmp_path / "data.json"
    path.write_text("a,b\n1,2\n")
    assert _error(path) == (f"{path}: extension says JSON but the content does not start with "
                            "'[' or '{' (is it CSV?)")


def test_json_array_named_jsonl(tmp_path):
    """One JSON array named .jsonl is told to be named .json."""
    path = tmp_path / "data.jsonl"
    path.write_text('[{"a": 1}]')
    assert _error(path) == (
        f"{path}: extension says JSON Lines but the content is one JSON array; name it .json")


def test_feather_v1_named_arrow(tmp_path):
    """A Feather v1 file is accepted as .feather but not as .arrow."""
    import pyarrow.feather as feather

    table = pa.table({"a": [1, 2, 3]})
    good, bad = tmp_path / "v1.feather", tmp_path / "v1.arrow"
    feather.write_feather(table, str(good), version=1)
    bad.write_bytes(good.read_bytes())
    assert profile(str(good)).rows == 3
    assert _error(bad) == f"{bad}: extension says Arrow IPC but the content is Feather"


@pytest.mark.parametrize(("head", "message"), [
    (b"", "file is empty (0 bytes)"),
    (b"PAR1\x00\x00", "extension says CSV but the content is Parquet"),
    (b"  \n\t\n", "file holds only whitespace"),
    (b"a,b\x00c", "extension says CSV but the content is unrecognized binary data"),
])
def test_check_content_directly(head, message):
    """check_content alone, on in-memory first bytes."""
    with pytest.raises(SynthosInputError) as err:
        check_content("mem.csv", from_extension("mem.csv"), head)
    assert str(err.value) == f"mem.csv: {message}"


def test_check_content_accepts_matching_bytes():
    """Matching content passes silently (returns None) for text, binary and compressed."""
    assert check_content("a.csv", from_extension("a.csv"), b"a,b\n1,2\n") is None
    assert check_content("a.parquet", from_extension("a.parquet"), b"PAR1xxxx") is None
    assert check_content("a.feather", from_extension("a.feather"), b"ARROW1\x00\x00") is None
    assert check_content("a.csv.gz", from_extension("a.csv.gz"), b"\x1f\x8b\x08",
                         lambda: b"a,b\n1,2\n") is None


# --- damaged compressed files -----------------------------------------------------------------

_BODY = ("a,b\n" + "".join(f"{i},{i * 7 % 1000}\n" for i in range(20_000))).encode()


def test_truncated_gzip_and_bz2(tmp_path):
    """Cut gzip and bzip2 streams are reported as corrupt data of that codec."""
    gz, bz = tmp_path / "cut.csv.gz", tmp_path / "cut.csv.bz2"
    gz.write_bytes(gzip.compress(_BODY)[:200])
    bz.write_bytes(bz2.compress(_BODY)[:300])
    assert _error(gz).startswith(f"{gz}: corrupt gzip data: ")
    assert _error(bz).startswith(f"{bz}: corrupt bzip2 data: ")


def test_truncated_gzip_deep_in_file(tmp_path):
    """A gzip stream cut in the middle fails the pass instead of loading fewer rows."""
    path = tmp_path / "half.csv.gz"
    data = gzip.compress(("a\n" + "".join(f"{i}\n" for i in range(300_000))).encode())
    path.write_bytes(data[: len(data) // 2])
    assert _error(path).startswith(f"{path}: corrupt or unreadable CSV file: ")


def test_truncated_zstd_deep_in_file(tmp_path):
    """A zstd stream cut in the middle fails the pass instead of loading fewer rows."""
    path = tmp_path / "half.csv.zst"
    data = zstandard.ZstdCompressor().compress(
        ("a\n" + "".join(f"{i}\n" for i in range(300_000))).encode())
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SynthosInputError):
        profile(str(path))


def test_damaged_deflate_stream(tmp_path):
    """A gzip file whose deflate data is garbage is an input error naming the file."""
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"garbage-not-deflate" * 5)
    assert _error(path).startswith(f"{path}: corrupt gzip data: ")


def test_damaged_zstd_frame(tmp_path):
    """A zstd file whose frame is garbage is an input error naming the file."""
    data = zstandard.ZstdCompressor().compress(_BODY)
    path = tmp_path / "bad.csv.zst"
    path.write_bytes(data[:4] + b"junk" * 20)
    assert _error(path).startswith(f"{path}: corrupt zstd data: ")


@pytest.mark.parametrize(("name", "data", "codec"), [
    pytest.param("bad.csv.bz2", b"BZh9" + b"junk" * 20, "bzip2", id="bz2"),
    pytest.param("bad.csv.gz", b"\x1f\x8b\x05\x00" + b"\x00" * 6 + b"junk" * 20, "gzip",
                 id="gzip-bad-method"),
])
def test_damaged_stream_raising_oserror(tmp_path, name, data, codec):
    """Damaged compressed data that the codec reports as OSError is called corrupt data."""
    path = tmp_path / name
    path.write_bytes(data)
    assert _error(path).startswith(f"{path}: corrupt {codec} data: ")
