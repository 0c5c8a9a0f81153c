"""Data files for the command line: CSV, TSV, Parquet and svmlight/libsvm, read into arrays.

CSV, TSV and Parquet are read by pandas (Parquet through pyarrow), svmlight by scikit-learn's
``load_svmlight_file``. Whatever is wrong in a file is a :class:`DataError` whose one-line
message names the file, the line (text files) or row (Parquet) and column, and what was
expected there. pandas is imported only when a CSV, TSV or Parquet file is read, so importing
jitmlp never imports it.

Finding the line of a bad value takes a second pass over a text file with Python's csv module,
slower than pandas' reading (docs/performance.md); it runs only when something is wrong.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
import os
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

FORMATS = ("csv", "tsv", "parquet", "svmlight")
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet",
               ".svm": "svmlight", ".svmlight": "svmlight", ".libsvm": "svmlight"}
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}  # compressed text files
_SEPARATORS = {"csv": ",", "tsv": "\t"}


class DataError(Exception):
    """Something wrong in a data or model file; the message is one line meant for the user."""


def pandas(what):
    """The pandas module; a DataError naming the extra to install without it."""
    try:
        import pandas
    except ImportError as error:
        raise DataError(f"reading {what} files needs pandas: pip install \"jitmlp[cli]\"") \
            from error
    return pandas


def _names(columns, most=12):
    names = [str(c) for c in columns]
    if len(names) > most:
        names = names[:most] + [f"... ({len(columns)} in all)"]
    return ", ".join(names)


def file_format(path, given=None):
    """The format of ``path``: ``given`` if not None, else from its extension.

    A compression suffix (.gz, .bz2, .xz) is looked through: ``data.csv.gz`` is CSV.
    """
    if given is not None:
        return given
    stem, ext = os.path.splitext(os.path.basename(path).lower())
    if ext in _OPENERS:
        ext = os.path.splitext(stem)[1]
    if ext not in _EXTENSIONS:
        raise DataError(f"{path}: cannot tell the format from the extension {ext or '(none)'!r}; "
                        f"give --format {', '.join(FORMATS[:-1])} or {FORMATS[-1]}")
    return _EXTENSIONS[ext]


def _open_text(path):
    suffix = os.path.splitext(path)[1].lower()
    return _OPENERS.get(suffix, open)(path, "rt", encoding="utf-8", newline="")


@dataclass
class Table:
    """A data file as read: a pandas DataFrame (CSV, TSV, Parquet), or svmlight's X and labels.

    ``where(i)`` says where data row ``i`` (0-based) stands in the file: ``"line N"`` in a text
    file, ``"row N"`` (1-based) in a Parquet file.
    """

    path: str
    format: str
    frame: object = None
    X: object = None
    labels: object = None
    _lines: list = field(default=None, repr=False)

    @property
    def columns(self):
        return [] if self.frame is None else list(self.frame.columns)

    @property
    def n_rows(self):
        return self.X.shape[0] if self.frame is None else len(self.frame)

    def _records(self):
        """(first line, fields) of every data record of a text file, found by a second pass."""
        if self._lines is None:
            self._lines = []
            with _open_text(self.path) as f:
                if self.format == "svmlight":
                    for number, line in enumerate(f, 1):
                        if line.split("#", 1)[0].strip():
                            self._lines.append((number, line.rstrip("\r\n")))
                else:
                    reader = csv.reader(f, delimiter=_SEPARATORS[self.format])
                    start = 1
                    for fields in reader:
                        if fields:  # pandas skips blank lines
                            self._lines.append((start, fields))
                        start = reader.line_num + 1
                    self._lines = self._lines[1:]  # the header
        return self._lines

    def where(self, i):
        if self.format == "parquet":
            return f"row {i + 1}"
        return f"line {self._records()[i][0]}"

    def raw(self, i, column):
        """The text of data row ``i`` in ``column`` as the file has it (text files), or None."""
        if self.format not in _SEPARATORS:
            return None
        fields = self._records()[i][1]
        position = self.columns.index(column)
        return fields[position] if position < len(fields) else None

    def ragged(self, i):
        """The message for data row ``i`` if it has another number of fields than the header."""
        if self.format not in _SEPARATORS:
            return None
        line, fields = self._records()[i]
        if len(fields) != len(self.columns):
            return (f"{self.path}: line {line} has {len(fields)} fields, expected "
                    f"{len(self.columns)} as in the header (line 1)")
        return None


# --------------------------------------------------------------------------- reading
def read(path, fmt=None, *, zero_based="auto"):
    """Read a data file into a :class:`Table`.

    Parameters
    ----------
    path : str
        The file.
    fmt : {"csv", "tsv", "parquet", "svmlight"}, default=None
        Its format; None: from its extension (see :func:`file_format`).
    zero_based : bool or "auto", default="auto"
        svmlight only: whether feature indices start at 0, as ``load_svmlight_file`` takes it.

    Raises
    ------
    DataError
        If there is no such file, or it cannot be read as that format: empty, no data rows,
        ragged rows, repeated column names, an svmlight line that does not parse.
    """
    fmt = file_format(path, fmt)
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    if fmt == "svmlight":
        table = _read_svmlight(path, zero_based)
    elif fmt == "parquet":
        table = _read_parquet(path)
    else:
        table = _read_text(path, fmt)
    if table.n_rows == 0:
        raise DataError(f"{path}: no data rows, expected at least one")
    return table


def _read_text(path, fmt):
    pd = pandas(fmt.upper())
    sep = _SEPARATORS[fmt]
    table = Table(path, fmt)
    try:
        with _open_text(path) as f:
            header = next((fields for fields in csv.reader(f, delimiter=sep) if fields), None)
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") \
            from None
    if header is None:
        raise DataError(f"{path}: empty file, expected a header line naming the columns, "
                        f"then one line per row")
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(f"{path}: line 1: column {name!r} appears twice, expected "
                            f"distinct column names")
        seen.add(name)
    try:
        table.frame = pd.read_csv(path, sep=sep, encoding="utf-8")
    except pd.errors.ParserError as error:
        table.frame = pd.DataFrame(columns=header)
        for i in range(len(table._records())):
            message = table.ragged(i)
            if message:
                raise DataError(message) from None
        raise DataError(f"{path}: {str(error).strip()}") from None
    return table


def _read_parquet(path):
    pd = pandas("Parquet")
    try:
        frame = pd.read_parquet(path)
    except ImportError as error:
        raise DataError(f"reading Parquet files needs pyarrow: pip install \"jitmlp[cli]\" "
                        f"({error})") from None
    except Exception as error:  # pyarrow's errors have no common base beyond Exception
        raise DataError(f"{path}: not a readable Parquet file ({type(error).__name__}: "
                        f"{str(error).splitlines()[0] if str(error) else ''})") from None
    return Table(path, "parquet", frame=frame.reset_index(drop=True))


def _read_svmlight(path, zero_based):
    from sklearn.datasets import load_svmlight_file

    table = Table(path, "svmlight")
    try:
        X, labels = load_svmlight_file(path, zero_based=zero_based)
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(_svmlight_problem(table) or f"{path}: {error}") from None
    table.X, table.labels = X.tocsr(), labels
    return table


def _svmlight_problem(table):
    """The first line of an svmlight file that does not parse, said in one line; or None."""
    for line, text in table._records():
        tokens = text.split("#", 1)[0].split()
        expected = "a label, then index:value pairs"
        try:
            float(tokens[0])
        except ValueError:
            return (f"{table.path}: line {line}: the label {tokens[0]!r} is not a number, "
                    f"expected {expected}")
        previous = -1
        for token in tokens[1:]:
            index, colon, value = token.partition(":")
            if not colon:
                return (f"{table.path}: line {line}: {token!r} is not index:value, "
                        f"expected {expected}")
            if index == "qid":
                continue
            try:
                float(value)
            except ValueError:
                return (f"{table.path}: line {line}: the value {value!r} of {token!r} is not "
                        f"a number, expected {expected}")
            if not index.isdigit():
                return (f"{table.path}: line {line}: the index {index!r} of {token!r} is not "
                        f"a whole number >= 0, expected {expected}")
            if int(index) <= previous:
                return (f"{table.path}: line {line}: index {index} after {previous}, expected "
                        f"indices in increasing order")
            previous = int(index)
    return None


# --------------------------------------------------------------------------- columns
def check_columns(table, names, what, why=""):
    """Raise a DataError unless every one of ``names`` is a column of ``table``.

    The message names the missing columns (as ``what`` columns, ``why`` after them) and the
    file's columns.
    """
    missing = [name for name in names if name not in table.columns]
    if missing:
        said = ", ".join(repr(str(name)) for name in missing)
        raise DataError(f"{table.path}: no {what} column{'s' if len(missing) > 1 else ''} "
                        f"{said}{why}; the file's columns are: {_names(table.columns)}")


def numbers(table, column, expected="a number", dtype=np.float64):
    """Column ``column`` of ``table`` as a float array; a DataError names its first bad value.

    Numbers (and booleans, as 0 and 1) pass; text, missing values, dates and infinities do not.
    """
    pd = pandas(table.format)
    values = table.frame[column]
    if values.dtype.kind in "mM":
        raise DataError(f"{table.path}: column {column!r} holds {values.dtype} values, "
                        f"expected {expected}")
    if values.dtype.kind not in "biuf":
        values = pd.to_numeric(values.astype(object), errors="coerce")
    array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(array)
    if not bad.any():
        return array.astype(dtype, copy=False)
    i = int(np.argmax(bad))
    ragged = table.ragged(i)
    if ragged:
        raise DataError(ragged)
    raw = table.raw(i, column)
    original = table.frame[column].iloc[i]
    if raw is None:
        raw = None if pd.isna(original) else str(original)
    if raw is None or not raw.strip():
        said = "empty" if raw is not None else "missing"
    elif np.isinf(array[i]):
        said, expected = f"{raw!r}", expected.replace("a number", "a finite number", 1)
    else:
        said = f"{raw!r} is not a number"
    raise DataError(f"{table.path}: {table.where(i)}, column {column!r}: {said}, "
                    f"expected {expected}")


def labels(table, column):
    """Column ``column`` as class labels (any values but missing ones), a numpy array."""
    values = table.frame[column]
    missing = values.isna().to_numpy()
    if missing.any():
        i = int(np.argmax(missing))
        raise DataError(table.ragged(i) or f"{table.path}: {table.where(i)}, column "
                        f"{column!r}: empty, expected a class label")
    if values.dtype.kind in "biufOUS":
        return values.to_numpy()
    return values.astype(object).to_numpy()  # categorical, pandas strings, ...


def as_matrix(table, dtype):
    """svmlight's X in ``dtype``, a DataError naming the first line with a non-finite value."""
    X = table.X.astype(dtype)
    bad = ~np.isfinite(X.data)
    if bad.any():
        row = int(np.searchsorted(X.indptr, np.argmax(bad), side="right") - 1)
        raise DataError(f"{table.path}: {table.where(row)}: a value that is not finite, "
                        f"expected numbers")
    return X


def fit_features(table, X, n_features):
    """svmlight's X with exactly ``n_features`` columns (files need not name the last ones)."""
    if X.shape[1] > n_features:
        beyond = np.flatnonzero(X.indices >= n_features)[0]
        row = int(np.searchsorted(X.indptr, beyond, side="right") - 1)
        raise DataError(f"{table.path}: {table.where(row)} has feature column "
                        f"{X.indices[beyond]} (counting from 0), expected at most "
                        f"{n_features} features: the model's")
    if X.shape[1] < n_features:
        X = sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], n_features))
    return X
