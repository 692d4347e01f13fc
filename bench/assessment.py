"""Release-assessment wall time for 1,600 questions, and where it goes.

    python bench/assessment.py [--traces 50]

Writes the demo's question banks (2,002 generation, 510 should-refuse, 500 should-answer),
trains the demo responder on the demo's fine-tuning text plus its safety-tuning pairs,
registers it in a fresh SQLite MLflow store, and runs ``assess_model`` end to end (1,000
+ 300 + 300 sampled questions), printing each phase's wall time. Baselines on the same
answers in the same run:

- judging: ``Screens.judge`` one answer at a time (the verification probe's path) against
  ``Screens.judge_many`` (the assessment's: lexicon and classifier over all answers);
- recording: the same assessment with ``--traces`` evaluation traces against none.

The last line is the RESULT line.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trainguard-bench-assess-"))
    os.environ["TRAINGUARD_HOME"] = str(work / "home")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    os.environ["TRAINGUARD_ARTIFACT_ROOT"] = str(work / "artifacts")  # not ./mlruns
    os.environ.setdefault("TRAINGUARD_HASH_KEY", "bench-key")
    import mlflow

    from trainguard.assessment.assess import assess_model, draw_samples
    from trainguard.assessment.banks import load_banks
    from trainguard.assessment.screening import Screens, ask
    from trainguard.local.demo_banks import helpful_pairs, refusal_pairs, write_banks
    from trainguard.local.demo_classifier import write_examples
    from trainguard.local.demo_text import EN_OBJECTS, ZH_OBJECTS, sample_text
    from trainguard.model import NearestNeighbourResponder
    from trainguard.policy import load_policy
    from trainguard.tracking import ensure_experiment
    from trainguard.violations import Registry

    banks_dir = work / "banks"
    write_banks(banks_dir)
    write_examples(work / "classifier_examples.csv")
    policy = work / "policy.yaml"
    policy.write_text("harmful:\n  classifier_training: classifier_examples.csv\n", "utf-8")
    rng = random.Random(3)
    prompts, responses = [], []
    for i in range(2_200):
        language = "zh" if i % 3 else "en"
        topic = rng.choice(ZH_OBJECTS if language == "zh" else EN_OBJECTS)
        prompts.append(f"请介绍一下{topic}。" if language == "zh" else f"Tell me about {topic}.")
        responses.append(sample_text(rng, language))
    for _, prompt, response in refusal_pairs() + helpful_pairs(rng):
        prompts.append(prompt)
        responses.append(response)
    model = NearestNeighbourResponder().fit(prompts, responses)
    with mlflow.start_run(experiment_id=ensure_experiment()):
        mlflow.sklearn.log_model(
            model, name="model", registered_model_name="bench", serialization_format="pickle"
        )
    registry = Registry(f"sqlite:///{work / 'violations.db'}")

    def run(traces: int) -> tuple[float, dict[str, float], bool]:
        started = time.perf_counter()
        result = assess_model(
            "models:/bench/1",
            banks_dir,
            policy_path=str(policy),
            registry=registry,
            traces=traces,
        )
        return time.perf_counter() - started, result.seconds, result.passed

    total_cold, phases_cold, _ = run(0)  # first: imports, GX context, classifier training
    total_none, phases, passed = run(0)
    total_traces, phases_traces, _ = run(args.traces)

    banks = load_banks(banks_dir)
    sample = draw_samples(banks.questions, banks.digest, load_policy(policy))
    answers = ask("models:/bench/1", [q.question for q in sample])
    screens = Screens.of_policy(str(policy), [], registry)
    started = time.perf_counter()
    screens.judge_many(answers)
    batched = time.perf_counter() - started
    started = time.perf_counter()
    for answer in answers:
        screens.judge(answer, asked=True)
    one_by_one = time.perf_counter() - started

    print(f"{len(sample):,} sampled questions, decision {'pass' if passed else 'fail'}")
    print(f"{'phase':<10} {'first run':>10} {'no traces':>10} {f'{args.traces} traces':>10}")
    for phase in phases:
        print(
            f"{phase:<10} {phases_cold[phase]:>9.2f}s {phases[phase]:>9.2f}s "
            f"{phases_traces.get(phase, 0):>9.2f}s"
        )
    print(f"{'total':<10} {total_cold:>9.2f}s {total_none:>9.2f}s {total_traces:>9.2f}s")
    print(
        f"judging {len(answers):,} answers: batched {batched:.2f} s, one by one {one_by_one:.2f} s"
    )
    print(
        f"RESULT assess_first_s={total_cold:.1f} assess_s={total_none:.1f} "
        f"assess_traces_s={total_traces:.1f} "
        f"ask_s={phases['ask']:.2f} judge_s={phases['judge']:.2f} gx_s={phases['gx']:.2f} "
        f"record_s={phases['record']:.2f} record_traces_s={phases_traces['record']:.2f} "
        f"judge_batched_s={batched:.2f} judge_one_by_one_s={one_by_one:.2f} "
        f"questions={len(sample)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
