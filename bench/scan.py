"""Legality-scan speed, side by side with baselines on the same data in the same run.

    python bench/scan.py [--mb 100]

Generates a Chinese/English corpus of about N MB (Parquet) with planted PI (valid and
near-miss values) and lexicon terms, a 10,000-term lexicon and a consent ledger, then
times, on the same file:

- the full legality scan: PI (prefilter + validated patterns) + consent (HMAC + ledger)
  + lexicon, streamed in Arrow batches (1 process, and 2 processes over row groups);
- a plain per-record Python ``re`` loop over the same PI patterns;
- Great Expectations' ``expect_column_values_to_not_match_regex_list`` with them;
- one Arrow RE2 pass of one combined PI pattern (the practical ceiling);

and the peak memory of the full scan, in a fresh process each, at N/2 and 2N MB.
The last line is the RESULT line.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HASH_KEY = b"bench-key"


def generate(path: Path, megabytes: float, seed: int = 5) -> tuple[int, int]:
    """Write ~megabytes of text to Parquet; returns (records, bytes of text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trainguard.local.demo_data import _DECOYS, _PI_TEMPLATES, PI_KINDS, _pi_value, sample_text

    rng = random.Random(seed)
    terms = [line.split(",")[0] for line in _lexicon_lines()[1:200]]
    pool = []
    for i in range(20_000):
        text = sample_text(rng, "zh" if i % 3 else "en")
        if i % 25 == 0:  # ~4 % of records carry PI
            kind = PI_KINDS[i % len(PI_KINDS)]
            _, written = _pi_value(kind, rng, i)
            text += rng.choice(_PI_TEMPLATES[kind]).replace("{v}", written)
        if i % 40 == 1:
            text += rng.choice(_DECOYS)
        if i % 50 == 2:  # ~2 % carry a lexicon term
            text += rng.choice(terms)
        pool.append(text)
    target = int(megabytes * 1_000_000)
    writer = None
    records = size = 0
    while size < target:
        texts = pool[: min(len(pool), 65_536)]
        rng.shuffle(pool)
        batch = pa.table(
            {
                "record_id": [f"r{records + i}" for i in range(len(texts))],
                "source_id": ["s"] * len(texts),
                "text": texts,
            }
        )
        writer = writer or pq.ParquetWriter(path, batch.schema)
        writer.write_table(batch, row_group_size=16_384)
        records += len(texts)
        size += sum(len(t.encode()) for t in texts)
    writer.close()
    return records, size


def _lexicon_lines() -> list[str]:
    """A 10,000-term lexicon: the shipped terms plus generated CJK terms across risks."""
    from trainguard.scanners.lexicon import RISK_CODES

    rng = random.Random(9)
    codes = sorted(RISK_CODES)
    shipped = Path(__file__).resolve().parents[1] / "plugins/trainguard/data/lexicons/demo.csv"
    lines = shipped.read_text(encoding="utf-8").splitlines()
    seen = {line.split(",")[0] for line in lines[1:]}
    while len(lines) < 10_001:
        term = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(3, 6)))
        if term not in seen:
            seen.add(term)
            lines.append(f"{term},{rng.choice(codes)}")
    return lines


def _resources(workdir: Path):
    from trainguard.checks.consent import ConsentLedger
    from trainguard.scanners.lexicon import Lexicon

    lexicon_file = workdir / "lexicon.csv"
    if not lexicon_file.exists():
        lexicon_file.write_text("\n".join(_lexicon_lines()) + "\n", encoding="utf-8")
    lexicon = Lexicon.load([lexicon_file])
    lexicon.matcher  # noqa: B018 - compile the database outside the timed region
    return lexicon, ConsentLedger.build([], ["resident_id", "bank_card"])


def full_scan(path: Path, workdir: Path, row_groups: list[int] | None = None) -> int:
    """trainguard's legality pass (PI + consent + lexicon) over every batch; PI count."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq

    from trainguard.gate.scan import legality_pass

    lexicon, ledger = _resources(workdir)
    parquet = pq.ParquetFile(path)
    groups = row_groups if row_groups is not None else list(range(parquet.num_row_groups))
    found = 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        for batch in parquet.iter_batches(batch_size=65_536, row_groups=groups, columns=["text"]):
            pi, _ = legality_pass(batch.column(0), lexicon, ledger, HASH_KEY, pool)
            found += sum(len(matches) for matches in pi.values())
    return found


def _scan_part(args: tuple[str, str, list[int]]) -> int:
    return full_scan(Path(args[0]), Path(args[1]), args[2])


def parallel_scan(path: Path, workdir: Path, processes: int = 2) -> int:
    import pyarrow.parquet as pq

    groups = list(range(pq.ParquetFile(path).num_row_groups))
    parts = [(str(path), str(workdir), groups[i::processes]) for i in range(processes)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return sum(pool.map(_scan_part, parts))


def naive_re(path: Path) -> int:
    import pyarrow.parquet as pq

    from trainguard.scanners.pi import _PATTERNS

    patterns = [pattern for _, pattern in _PATTERNS]
    found = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=65_536, columns=["text"]):
        for text in batch.column(0).to_pylist():
            for pattern in patterns:
                found += sum(1 for _ in pattern.finditer(text))
    return found


def gx_regex(path: Path) -> bool:
    import logging

    import great_expectations as gx
    import pyarrow.parquet as pq

    from trainguard.scanners.pi import _PATTERNS

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    frame = pq.read_table(path, columns=["record_id", "text"]).to_pandas()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    batch = (
        context.data_sources.add_pandas("bench")
        .add_dataframe_asset("corpus")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    expectation = gx.expectations.ExpectColumnValuesToNotMatchRegexList(
        column="text", regex_list=[p.pattern for _, p in _PATTERNS]
    )
    return batch.validate(expectation).success


def re2_ceiling(path: Path) -> int:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from trainguard.scanners.pi import prefilter_pattern

    hits = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=65_536, columns=["text"]):
        hits += pc.sum(pc.match_substring_regex(batch.column(0), prefilter_pattern())).as_py() or 0
    return hits


def timed(function, *args) -> tuple[float, object]:
    start = time.perf_counter()
    value = function(*args)
    return time.perf_counter() - start, value


def peak_memory(megabytes: float, workdir: Path) -> float:
    """Peak RSS (MB) of a fresh process that generates then scans a corpus of this size."""
    path = workdir / f"mem-{megabytes:g}.parquet"
    generate(path, megabytes, seed=7)
    code = (
        f"import sys, resource; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import scan as bench\n"
        "from pathlib import Path\n"
        f"bench.full_scan(Path({str(path)!r}), Path({str(workdir)!r}))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    path.unlink()
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100.0, help="corpus size in MB")
    parser.add_argument(
        "--gx-mb",
        type=float,
        default=None,
        help="measure GX on a prefix of this many MB (default: all)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trainguard-bench-") as scratch:
        workdir = Path(scratch)
        path = workdir / "corpus.parquet"
        print(f"generating {args.mb:g} MB corpus ...", flush=True)
        records, size = generate(path, args.mb)
        mb = size / 1e6
        print(f"corpus: {records:,} records, {mb:.1f} MB of text, {os.cpu_count()} cores")
        _resources(workdir)  # build the lexicon file once, outside the timings
        results = {}
        for name, function in [
            ("full scan, 1 process", full_scan),
            ("full scan, 2 processes", parallel_scan),
        ]:
            seconds, found = timed(function, path, workdir)
            results[name] = mb / seconds
            print(f"{name:32} {mb / seconds:8.1f} MB/s  ({found} PI values)", flush=True)
        seconds, found = timed(naive_re, path)
        results["naive"] = mb / seconds
        print(
            f"{'per-record Python re loop':32} {mb / seconds:8.1f} MB/s  ({found} matches)",
            flush=True,
        )
        gx_path, gx_mb = path, mb
        if args.gx_mb and args.gx_mb < args.mb:
            gx_path = workdir / "gx.parquet"
            gx_mb = generate(gx_path, args.gx_mb)[1] / 1e6
        seconds, _ = timed(gx_regex, gx_path)
        results["gx"] = gx_mb / seconds
        print(f"{'GX regex-list expectation':32} {gx_mb / seconds:8.1f} MB/s", flush=True)
        seconds, hits = timed(re2_ceiling, path)
        results["re2"] = mb / seconds
        print(
            f"{'Arrow RE2 combined pattern':32} {mb / seconds:8.1f} MB/s  ({hits} rows)", flush=True
        )
        small, large = args.mb / 2, args.mb * 2
        peak_small = peak_memory(small, workdir)
        peak_large = peak_memory(large, workdir)
        print(
            f"peak memory of the full scan: {peak_small:.0f} MB at {small:g} MB, "
            f"{peak_large:.0f} MB at {large:g} MB"
        )
    scan = results["full scan, 1 process"]
    print(
        f"RESULT scan_mb_s={scan:.1f} naive_re_mb_s={results['naive']:.1f} "
        f"gx_regex_mb_s={results['gx']:.1f} re2_ceiling_mb_s={results['re2']:.1f} "
        f"ratio_naive={scan / results['naive']:.2f} ratio_gx={scan / results['gx']:.2f} "
        f"ratio_ceiling={scan / results['re2']:.2f} peak_mb_small={peak_small:.0f} "
        f"peak_mb_large={peak_large:.0f}"
    )


if __name__ == "__main__":
    _ = resource  # the child processes read their own peak with it
    main()
