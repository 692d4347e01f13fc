"""Presidio's analyzer over a Parquet text column, with trainguard's PI patterns.

Run by ``bench/scan.py`` in a venv of its own (Presidio pulls spaCy, which trainguard does
not need): ``python presidio_anchor.py CORPUS.parquet PATTERNS.json MEGABYTES``. Presidio
gets the same regular expressions as ``PatternRecognizer``s and no NLP model (an engine
that returns no tokens: nothing is downloaded), so the figure is its framework and regex
cost on the same text, without trainguard's normalisation or validators. The engine is
built outside the timed region. Prints one JSON line: wall and CPU seconds, MB, matches.
"""

from __future__ import annotations

import json
import re
import sys
import time


def main() -> int:
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

    class NoModel(NlpEngine):  # Presidio asks an NLP engine for tokens; none is needed here
        def load(self) -> None:
            return None

        def is_loaded(self) -> bool:
            return True

        def process_text(self, text: str, language: str) -> NlpArtifacts:  # noqa: ARG002
            return NlpArtifacts([], [], [], [], self, language)

        def process_batch(self, texts, language, batch_size=1, n_process=1, **kwargs):  # noqa: ARG002
            for text in texts:
                yield text, self.process_text(text, language)

        def is_stopword(self, word: str, language: str) -> bool:  # noqa: ARG002
            return False

        def is_punct(self, word: str, language: str) -> bool:  # noqa: ARG002
            return False

        def get_supported_entities(self) -> list[str]:
            return []

        def get_supported_languages(self) -> list[str]:
            return ["en"]

    corpus, patterns_file, megabytes = sys.argv[1], sys.argv[2], float(sys.argv[3])
    patterns = json.loads(open(patterns_file, encoding="utf-8").read())  # noqa: SIM115
    by_kind: dict[str, list[Pattern]] = {}
    for index, (kind, regex) in enumerate(patterns):
        by_kind.setdefault(kind, []).append(Pattern(f"{kind}-{index}", regex, 0.9))
    recognizers = [
        PatternRecognizer(
            supported_entity=kind.upper(),
            patterns=found,
            supported_language="en",
            global_regex_flags=re.DOTALL | re.MULTILINE,  # trainguard's flags, not IGNORECASE
        )
        for kind, found in by_kind.items()
    ]
    engine = AnalyzerEngine(
        nlp_engine=NoModel(),
        registry=RecognizerRegistry(recognizers=recognizers, supported_languages=["en"]),
        supported_languages=["en"],
    )
    texts, size = read_prefix(corpus, megabytes)
    engine.analyze(texts[0], language="en")  # compile the patterns outside the timing
    wall, cpu = time.perf_counter(), time.process_time()
    found = sum(len(engine.analyze(text, language="en")) for text in texts)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps({"wall": wall, "cpu": cpu, "mb": size / 1e6, "found": found}))
    return 0


def read_prefix(corpus: str, megabytes: float) -> tuple[list[str], int]:
    """The corpus's first texts, ``megabytes`` of them; and their size in bytes."""
    import pyarrow.parquet as pq

    texts: list[str] = []
    size = 0
    for batch in pq.ParquetFile(corpus).iter_batches(batch_size=16_384, columns=["text"]):
        for text in batch.column(0).to_pylist():
            if size >= megabytes * 1e6:
                return texts, size
            texts.append(text)
            size += len(text.encode())
    return texts, size


if __name__ == "__main__":
    sys.exit(main())
