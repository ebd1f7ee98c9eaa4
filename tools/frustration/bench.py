"""Time ``score_message`` on the BANKING77 training utterances: microseconds per message.

    python tools/frustration/bench.py [--against OLD_FRUSTRATION_PY] [--data PATH]

With ``--against``, a second copy of the scorer is loaded from that file (say, the version
before a change, saved with ``git show HEAD:workers/decision/frustration.py > /tmp/old.py``)
and both are timed alternately in the same process, which keeps the ratio honest on a busy
machine. The best of several rounds is reported.
"""

import argparse
import csv
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from workers.decision.frustration import score_message  # noqa: E402
from workers.decision.text import normalise  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "train-data" / "banking77" / "train.csv"
ROUNDS = 9

Scorer = Callable[[str, str | None], object]


def _load(path: Path) -> Scorer:
    spec = importlib.util.spec_from_file_location("frustration_other", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    scorer: Scorer = module.score_message
    return scorer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--against", type=Path, help="another frustration.py to compare with")
    args = parser.parse_args()
    with args.data.open(newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    pairs = [(text, normalise(text)) for text in texts]
    scorers: dict[str, Scorer] = {"current": score_message}
    if args.against:
        scorers["against"] = _load(args.against)
    best = dict.fromkeys(scorers, float("inf"))
    for _ in range(ROUNDS):
        for name, scorer in scorers.items():
            start = time.perf_counter()
            for text, folded in pairs:
                scorer(text, folded)
            best[name] = min(best[name], time.perf_counter() - start)
    for name, seconds in best.items():
        print(f"{name}: {seconds * 1e6 / len(pairs):.2f} us/message over {len(pairs)} messages")
    if "against" in best:
        print(f"ratio current/against: {best['current'] / best['against']:.3f}")


if __name__ == "__main__":
    main()
