"""Legality-scan speed, side by side with baselines on the same data in the same run.

    python bench/scan.py [--mb 100] [--rounds 3] [--gx-mb 10] [--presidio-mb 5]

Generates a Chinese/English corpus of about N MB (Parquet) with planted PI (valid and
near-miss values) and lexicon terms, a 10,000-term lexicon and a consent ledger, then
times, on the same file, in interleaved rounds (each contender once per round):

- the full legality pass: PI (prefilter + validated patterns) + consent (HMAC + ledger)
  + lexicon, streamed in Arrow batches (1 process with the lexicon in a helper thread, as
  the gate runs it; 2 forked processes over row groups; and 1 thread, the lexicon inline:
  what one core does on its own, whose MB per CPU-second is the per-core figure);
- a plain per-record Python ``re`` loop over the same PI patterns;
- Great Expectations' ``expect_column_values_to_not_match_regex_list`` with them, warm;
- Presidio's analyzer with the same patterns (in a venv of its own, made once under
  ``.bench-venvs/``; ``--presidio-mb 0`` leaves it out);
- one Arrow RE2 pass of the prefilter pattern (the practical ceiling).

Everything a contender builds once (the lexicon's matcher, the compiled squeeze and PI
normalisation, GX's import, context and batch, Presidio's engine, the compiled prefilter)
is built before the timed region. Each
figure is the median over the rounds of MB per wall second and MB per CPU second (the
process's CPU time, and its forked children's); the ratios are of the medians, and the
ceiling ratio takes the better of the two legality configurations (both use the 2 cores:
one process with its lexicon thread, or two processes). Then the
peak memory of the full pass, in a fresh process each, at N/2 and 2N MB.
The last line is the RESULT line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import statistics
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
    warm_compiled_engine()
    return lexicon, ConsentLedger.build([], ["resident_id", "bank_card"])


def warm_compiled_engine() -> None:
    """Load the compiled squeeze and PI normalisation (numba's cached machine code and the
    character maps, ~1 s) as a long scan has after its first 64 MB."""
    import pyarrow as pa

    from trainguard.scanners.pi import _normal_forms
    from trainguard.scanners.squeeze import squeeze

    squeeze(pa.array(["warm"]), engine="compiled")
    _normal_forms(pa.array(["warm"]))


def full_scan(path: Path, workdir: Path, row_groups: list[int] | None = None) -> int:
    """trainguard's legality pass (PI + consent + lexicon) over every batch; PI count.
    Builds its resources first (the memory measurement runs this in a fresh process)."""
    return legality_scan(_resources(workdir), path, row_groups)


def legality_scan(
    resources: tuple, path: Path, row_groups: list[int] | None = None, *, thread: bool = True
) -> int:
    """The timed part of the legality pass: resources already built. ``thread=False``
    runs the lexicon in the calling thread (what one core can do on its own)."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq

    from trainguard.gate.scan import legality_pass

    lexicon, ledger = resources
    parquet = pq.ParquetFile(path)
    groups = row_groups if row_groups is not None else list(range(parquet.num_row_groups))
    found = 0
    with ThreadPoolExecutor(max_workers=1) if thread else _InThread() as pool:
        for batch in parquet.iter_batches(batch_size=65_536, row_groups=groups, columns=["text"]):
            pi, _ = legality_pass(batch.column(0), lexicon, ledger, HASH_KEY, pool)
            found += sum(len(matches) for matches in pi.values())
    return found


def one_thread_scan(resources: tuple, path: Path) -> int:
    return legality_scan(resources, path, thread=False)


class _InThread:
    """An executor that runs each task at once, in the caller's thread."""

    def __enter__(self) -> _InThread:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, function, *args):
        from concurrent.futures import Future

        future: Future = Future()
        future.set_result(function(*args))
        return future


_INHERITED: tuple = ()  # what the forked scan processes inherit: resources, path


def _scan_part(row_groups: list[int]) -> int:
    resources, path = _INHERITED
    return legality_scan(resources, path, row_groups)


def parallel_scan(resources: tuple, path: Path, processes: int = 2) -> int:
    """The legality pass in ``processes`` forked processes over row groups; they inherit
    the built resources, as the gate's forked shard workers do."""
    import pyarrow.parquet as pq

    global _INHERITED
    _INHERITED = (resources, path)
    groups = list(range(pq.ParquetFile(path).num_row_groups))
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return sum(pool.map(_scan_part, [groups[i::processes] for i in range(processes)]))


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


def gx_prepared(path: Path) -> tuple:
    """GX imported, its context, batch and expectation built: only validate() is timed."""
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
    return batch, expectation


def gx_regex(prepared: tuple) -> bool:
    batch, expectation = prepared
    return batch.validate(expectation).success


def re2_ceiling(path: Path) -> int:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from trainguard.scanners.pi import prefilter_pattern

    hits = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=65_536, columns=["text"]):
        hits += pc.sum(pc.match_substring_regex(batch.column(0), prefilter_pattern())).as_py() or 0
    return hits


def prefix(path: Path, megabytes: float, out: Path) -> tuple[Path, float]:
    """The first ``megabytes`` of the corpus (whole row groups), for the slow contenders."""
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    tables, size = [], 0
    for group in range(source.num_row_groups):
        table = source.read_row_group(group)
        tables.append(table)
        size += sum(len(t.encode()) for t in table.column("text").to_pylist())
        if size >= megabytes * 1e6:
            break
    import pyarrow as pa

    pq.write_table(pa.concat_tables(tables), out)
    return out, size / 1e6


def measured(function, *args) -> tuple[float, float, object]:
    """(wall s, CPU s of this process and of the children it reaped, value)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, cpu = time.perf_counter(), time.process_time()
    value = function(*args)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    return wall, cpu, value


def presidio_python() -> str | None:
    """A Python with Presidio installed: a venv made once under .bench-venvs/ from the
    package index (uv). None, with the reason printed, when it cannot be made."""
    import shutil

    venv = Path(__file__).resolve().parents[1] / ".bench-venvs" / "presidio"
    python = venv / "bin" / "python"
    if python.exists():
        return str(python)
    uv = shutil.which("uv") or str(Path(__file__).resolve().parents[1] / ".tools/bin/uv")
    print("making the Presidio venv (presidio-analyzer, pyarrow; once) ...", flush=True)
    made = subprocess.run(
        [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode == 0:
        install = [uv, "pip", "install", "--quiet", "--python", str(python)]
        made = subprocess.run(
            [*install, "presidio-analyzer", "pyarrow"],
            capture_output=True,
            text=True,
            check=False,
        )
    if made.returncode != 0:
        print(f"Presidio left out: its venv could not be made: {made.stderr[-500:]}")
        return None
    return str(python)


def presidio_run(python: str, path: Path, patterns: Path, megabytes: float) -> dict:
    script = Path(__file__).with_name("presidio_anchor.py")
    done = subprocess.run(
        [python, str(script), str(path), str(patterns), str(megabytes)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


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
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--gx-mb", type=float, default=10.0, help="GX on this many MB")
    parser.add_argument(
        "--presidio-mb", type=float, default=5.0, help="Presidio on this many MB (0: leave out)"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    args = parser.parse_args()
    from trainguard.scanners.pi import _PATTERNS, prefilter_pattern

    with tempfile.TemporaryDirectory(prefix="trainguard-bench-") as scratch:
        workdir = Path(scratch)
        path = workdir / "corpus.parquet"
        print(f"generating {args.mb:g} MB corpus ...", flush=True)
        records, size = generate(path, args.mb)
        mb = size / 1e6
        print(f"corpus: {records:,} records, {mb:.1f} MB of text, {os.cpu_count()} cores")
        # Built once, outside every timed region.
        resources = _resources(workdir)
        gx_path, gx_mb = prefix(path, args.gx_mb, workdir / "gx.parquet")
        gx_state = gx_prepared(gx_path)
        re2_ceiling(gx_path)  # the prefilter pattern derived and compiled
        _ = prefilter_pattern()
        patterns = workdir / "patterns.json"
        patterns.write_text(json.dumps([[k.value, p.pattern] for k, p in _PATTERNS]))
        presidio = presidio_python() if args.presidio_mb > 0 else None
        contenders = {
            "trainguard legality pass, 1 process": (mb, legality_scan, (resources, path)),
            "trainguard legality pass, 2 processes": (mb, parallel_scan, (resources, path)),
            "trainguard legality pass, 1 thread": (mb, one_thread_scan, (resources, path)),
            "per-record Python re loop": (mb, naive_re, (path,)),
            f"GX regex-list expectation, warm ({gx_mb:.0f} MB)": (gx_mb, gx_regex, (gx_state,)),
            "Arrow RE2 pass of the prefilter": (mb, re2_ceiling, (path,)),
        }
        wall: dict[str, list[float]] = {name: [] for name in contenders}
        cpu: dict[str, list[float]] = {name: [] for name in contenders}
        presidio_name = f"Presidio, same patterns ({args.presidio_mb:g} MB)"
        if presidio:
            wall[presidio_name], cpu[presidio_name] = [], []
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number} of {args.rounds} ...", flush=True)
            for name, (megabytes, function, inputs) in contenders.items():
                seconds, cpu_seconds, _ = measured(function, *inputs)
                wall[name].append(megabytes / seconds)
                cpu[name].append(megabytes / cpu_seconds)
            if presidio:
                run = presidio_run(presidio, path, patterns, args.presidio_mb)
                wall[presidio_name].append(run["mb"] / run["wall"])
                cpu[presidio_name].append(run["mb"] / run["cpu"])
        median = {name: statistics.median(values) for name, values in wall.items()}
        median_cpu = {name: statistics.median(values) for name, values in cpu.items()}
        print(f"{'':48} {'MB/s wall':>10} {'MB/CPU-s':>10}")
        for name in wall:
            print(f"{name:48} {median[name]:10.1f} {median_cpu[name]:10.1f}")
        if args.no_memory:
            peak_small = peak_large = 0.0
        else:
            small, large = args.mb / 2, args.mb * 2
            peak_small = peak_memory(small, workdir)
            peak_large = peak_memory(large, workdir)
            print(
                f"peak memory of the full pass: {peak_small:.0f} MB at {small:g} MB, "
                f"{peak_large:.0f} MB at {large:g} MB"
            )
    names = list(contenders)
    scan, scan2, _, naive, gx, re2 = (median[n] for n in names)
    present = median.get(presidio_name)
    print(
        f"RESULT scan_mb_s={scan:.1f} scan_2_processes_mb_s={scan2:.1f} "
        f"scan_cpu_mb_s={median_cpu[names[0]]:.1f} "
        f"scan_1_thread_cpu_mb_s={median_cpu[names[2]]:.1f} naive_re_mb_s={naive:.1f} "
        f"gx_regex_mb_s={gx:.1f} re2_ceiling_mb_s={re2:.1f} "
        f"presidio_mb_s={present or 0:.2f} ratio_naive={scan / naive:.2f} "
        f"ratio_gx={scan / gx:.2f} ratio_presidio={scan / present if present else 0:.1f} "
        f"ratio_ceiling={max(scan, scan2) / re2:.2f} rounds={args.rounds} "
        f"peak_mb_small={peak_small:.0f} peak_mb_large={peak_large:.0f}"
    )


if __name__ == "__main__":
    _ = resource  # the child processes read their own peak with it
    main()
