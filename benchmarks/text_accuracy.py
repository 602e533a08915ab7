"""Accuracy of comment sentiment and themes on the labelled set, lexicon vs a learned peer, plus speed.

    .venv/bin/python benchmarks/text_accuracy.py [--csv tests/data/feedback/comments_labelled.csv]
        [--split test|train|all] [--format text|json] [--errors]

The held-out **test** split is every row whose id is a multiple of 3; the lexicon rules were tuned on the
other rows only. The learned peer (TF-IDF word + character n-grams, logistic regression; scikit-learn, nothing
downloaded) is trained on the train rows and scored on the same test rows. Figures go to docs/feedback-text.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from pxm.practices.feedback.text import evaluate, sentiment, themes

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", type=Path, default=ROOT / "tests/data/feedback/comments_labelled.csv")
    ap.add_argument("--split", choices=["test", "train", "all"], default="test")
    ap.add_argument("--format", choices=["text", "json"], default="text")
    ap.add_argument("--errors", action="store_true", help="list the misclassified comments")
    args = ap.parse_args()
    rows = evaluate.load(args.csv)
    chosen = evaluate.split(rows, args.split)
    lexicon = evaluate.evaluate_lexicon(chosen)
    learned = evaluate.compare_learned(evaluate.split(rows, "train"), evaluate.split(rows, "test"))
    texts = [r.text for r in rows] * 20
    t = time.perf_counter()
    for s in texts:
        sentiment.analyze(s)
        themes.detect(s)
    per_sec = len(texts) / (time.perf_counter() - t)
    out = {"rows": len(rows), "split": args.split, "n": len(chosen), "lexicon": lexicon,
           "learned_on_test": learned, "comments_per_second": round(per_sec), "python": platform.python_version()}
    if args.format == "json":
        print(json.dumps(out, indent=2, default=str))
        return
    s = lexicon["sentiment"]
    print(f"{len(chosen)} {args.split} comments of {len(rows)} ({', '.join(f'{k}: {v}' for k, v in lexicon['by_language'].items())})")
    print(f"lexicon  sentiment accuracy {s['accuracy']:.3f}  macro-F1 {s['macro_f1']:.3f}")
    for label, m in s["per_class"].items():
        print(f"   {label:9s} P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f} n={m['support']}")
    th = lexicon["themes"]
    print(f"lexicon  themes micro P {th['micro_precision']:.3f} R {th['micro_recall']:.3f} F1 {th['micro_f1']:.3f}"
          f"  exact set {th['exact_match']:.3f}")
    for code, m in th["per_theme"].items():
        print(f"   {code:15s} P {m['precision']:.3f} R {m['recall']:.3f} n={m['support']}")
    ls = learned["sentiment"]
    print(f"learned (tfidf+logreg, trained on train) on test: sentiment accuracy {ls['accuracy']:.3f} "
          f"macro-F1 {ls['macro_f1']:.3f}; themes micro-F1 {learned['themes']['micro_f1']:.3f}")
    print(f"speed: {per_sec:,.0f} comments/s (sentiment + themes, one core)")
    if args.errors:
        for e in lexicon["errors"]:
            print(f"  #{e['id']} gold {e['gold']} pred {e['pred']}: {e['text']}")


if __name__ == "__main__":
    main()
