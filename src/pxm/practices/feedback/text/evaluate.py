"""Accuracy of sentiment and themes on a labelled set of comments (CSV: id, language, sentiment, themes, text).

The split is deterministic: rows whose ``id`` is a multiple of 3 are the held-out **test** set, the rest the
**train** set. The lexicon rules were tuned by looking only at train errors; the figures in
docs/feedback-text.md are on the test rows. ``compare_learned`` trains a TF-IDF + logistic regression model
on the train rows (scikit-learn, nothing downloaded) and scores it on the same test rows, as a peer.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pxm.practices.feedback.text import sentiment, themes

LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class LabelledComment:
    id: int
    language: str
    sentiment: str
    themes: frozenset[str]
    text: str

    @property
    def split(self) -> str:
        return "test" if self.id % 3 == 0 else "train"


def load(path: Path) -> list[LabelledComment]:
    rows: list[LabelledComment] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            if row["sentiment"] not in LABELS:
                raise ValueError(f"{path.name} line {n}: sentiment must be one of {', '.join(LABELS)}")
            codes = frozenset(t for t in row["themes"].split(";") if t)
            unknown = codes - set(themes.THEME_CODES)
            if unknown:
                raise ValueError(f"{path.name} line {n}: unknown theme(s) {', '.join(sorted(unknown))}")
            rows.append(LabelledComment(int(row["id"]), row["language"], row["sentiment"], codes, row["text"]))
    return rows


def split(rows: Sequence[LabelledComment], which: str) -> list[LabelledComment]:
    return [r for r in rows if which == "all" or r.split == which]


def sentiment_metrics(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1 and macro-F1."""
    n = len(gold)
    acc = sum(g == p for g, p in zip(gold, pred, strict=True)) / n if n else 0.0
    per: dict[str, dict[str, float]] = {}
    for label in LABELS:
        tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, pred, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, pred, strict=True))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[label] = {"precision": round(prec, 3), "recall": round(rec, 3), "f1": round(f1, 3),
                      "support": tp + fn}
    macro = sum(v["f1"] for v in per.values()) / len(LABELS)
    return {"n": n, "accuracy": round(acc, 3), "macro_f1": round(macro, 3), "per_class": per}


def theme_metrics(gold: Sequence[frozenset[str]], pred: Sequence[frozenset[str]]) -> dict[str, Any]:
    """Per-theme precision/recall/F1 and micro-averaged figures over all themes."""
    per: dict[str, dict[str, float]] = {}
    tps = fps = fns = 0
    for code in themes.THEME_CODES:
        tp = sum(code in g and code in p for g, p in zip(gold, pred, strict=True))
        fp = sum(code not in g and code in p for g, p in zip(gold, pred, strict=True))
        fn = sum(code in g and code not in p for g, p in zip(gold, pred, strict=True))
        tps, fps, fns = tps + tp, fps + fp, fns + fn
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        per[code] = {"precision": round(prec, 3), "recall": round(rec, 3),
                     "f1": round(2 * prec * rec / (prec + rec), 3) if prec + rec else 0.0, "support": tp + fn}
    mp = tps / (tps + fps) if tps + fps else 0.0
    mr = tps / (tps + fns) if tps + fns else 0.0
    exact = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold) if gold else 0.0
    return {"micro_precision": round(mp, 3), "micro_recall": round(mr, 3),
            "micro_f1": round(2 * mp * mr / (mp + mr), 3) if mp + mr else 0.0,
            "exact_match": round(exact, 3), "per_theme": per}


def evaluate_lexicon(rows: Sequence[LabelledComment]) -> dict[str, Any]:
    pred_s = [sentiment.analyze(r.text).label for r in rows]
    pred_t = [frozenset(themes.detect(r.text)) for r in rows]
    out: dict[str, Any] = {
        "model": sentiment.MODEL_VERSION,
        "sentiment": sentiment_metrics([r.sentiment for r in rows], pred_s),
        "themes": theme_metrics([r.themes for r in rows], pred_t),
        "by_language": {},
        "errors": [{"id": r.id, "gold": r.sentiment, "pred": p, "text": r.text}
                   for r, p in zip(rows, pred_s, strict=True) if r.sentiment != p],
    }
    for lang in sorted({r.language for r in rows}):
        sub = [(r, p) for r, p in zip(rows, pred_s, strict=True) if r.language == lang]
        out["by_language"][lang] = sentiment_metrics([r.sentiment for r, _ in sub], [p for _, p in sub])["accuracy"]
    return out


def compare_learned(train: Sequence[LabelledComment], test: Sequence[LabelledComment]) -> dict[str, Any]:
    """TF-IDF (word 1-2 grams + character 2-5 grams, accents stripped) + logistic regression, trained on
    ``train`` and scored on ``test``; themes as one binary classifier per theme."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    def vectorizer() -> Any:
        return make_union(
            TfidfVectorizer(preprocessor=sentiment.normalize, ngram_range=(1, 2), min_df=1, sublinear_tf=True),
            TfidfVectorizer(preprocessor=sentiment.normalize, analyzer="char_wb", ngram_range=(2, 5),
                            sublinear_tf=True),
        )

    x_train = [r.text for r in train]
    x_test = [r.text for r in test]
    clf = make_pipeline(vectorizer(), LogisticRegression(max_iter=2000, C=10.0, class_weight="balanced"))
    clf.fit(x_train, [r.sentiment for r in train])
    pred = [str(p) for p in clf.predict(x_test)]
    theme_pred: list[set[str]] = [set() for _ in test]
    for code in themes.THEME_CODES:
        y = [code in r.themes for r in train]
        if sum(y) < 2:
            continue
        model = make_pipeline(vectorizer(), LogisticRegression(max_iter=2000, C=10.0, class_weight="balanced"))
        model.fit(x_train, y)
        for i, hit in enumerate(model.predict(x_test)):
            if hit:
                theme_pred[i].add(code)
    return {
        "model": "tfidf-logreg",
        "sentiment": sentiment_metrics([r.sentiment for r in test], pred),
        "themes": theme_metrics([r.themes for r in test], [frozenset(s) for s in theme_pred]),
    }
