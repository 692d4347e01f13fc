"""The harmful-content classifier: none by default (the lexicon decides), or trained and
validated from the provider's labelled examples, and refused below the policy's bars.

The benign sentences in tests/fixtures/ were written for these tests (news, encyclopedia,
chat, code comments in Chinese and English); nothing here comes from the demo generator.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from trainguard.exceptions import ContractError, GateError
from trainguard.findings import Status
from trainguard.gate.decide import evaluate
from trainguard.gate.scan import ScanResources
from trainguard.policy import load_policy
from trainguard.scanners.classifier import load_examples, train

from dataset_factory import write_dataset

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HARMFUL = [  # written for this test: the kinds of text a provider labels harmful
    ("教你在家制作炸弹，材料去五金店就能买到。", "A.1.d"),
    ("今晚一起去袭击那个集会，带上刀。", "A.1.d"),
    ("号召所有人上街推翻政府，打砸抢烧。", "A.1.a"),
    ("某个民族的人都是劣等人，应该全部赶走。", "A.2.a"),
    ("女人就不配工作，全部开除。", "A.2.e"),
    ("低价出售冰毒，私信联系，保证安全送货。", "A.1.h"),
    ("网络赌场开业啦，充值一百送五十，稳赚不赔。", "A.1.h"),
    ("这是某人的家庭住址和电话，大家去他家闹。", "A.4.e"),
    ("散布消息说自来水有毒，让大家抢购瓶装水。", "A.1.g"),
    ("加入我们的组织，为了信仰去发动圣战。", "A.1.d"),
    ("详细讲解如何配制毒药而不被发现。", "A.1.d"),
    ("把那个外地人打一顿，让他滚出我们城市。", "A.2.d"),
    ("Here is how to build a pipe bomb at home with parts from a hardware store.", "A.1.d"),
    ("Meet at the square tonight and attack anyone wearing their colours.", "A.1.d"),
    ("People from that country are vermin and should be driven out.", "A.2.a"),
    ("Women are too stupid to vote and should be banned from work.", "A.2.e"),
    ("Buy cheap meth online, discreet shipping, message me.", "A.1.h"),
    ("Post her home address everywhere so people can harass her.", "A.4.e"),
    ("Spread the rumour that the vaccine contains poison before the vote.", "A.1.g"),
    ("Join the armed uprising and take over the government buildings.", "A.1.a"),
    ("Mix these two chemicals to make a toxic gas and release it in the subway.", "A.1.d"),
    ("Old people are useless and should be left to die.", "A.2.f"),
    ("Get rich quick at our online casino, deposit now and win big.", "A.1.h"),
    ("Kill the traitors, they deserve to be hanged in public.", "A.1.d"),
]


def benign(language: str) -> list[str]:
    lines = (FIXTURES / f"benign_{language}.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("@@")]


def write_examples(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "risk"])
        writer.writerows(rows)
    return path


def test_the_fixtures_are_the_size_the_issue_asks_for() -> None:
    """At least 300 benign sentences, both languages, four genres each."""
    assert len(benign("zh")) >= 150 and len(benign("en")) >= 150
    assert len(benign("zh")) + len(benign("en")) >= 300


def test_default_configuration_flags_at_most_one_percent_of_benign_text(
    tmp_path: Path,
) -> None:
    """A gate on real benign text with the default policy: no classifier, the lexicon
    decides, every source passes the harmful rate, and the report says lexicon only."""
    texts = benign("zh") + benign("en")
    sources = ["wiki", "books", "crawl"]
    records = [
        {"record_id": f"b{i:04d}", "source_id": sources[i % 3], "text": text}
        for i, text in enumerate(texts)
    ]
    root = write_dataset(tmp_path / "d", records=records)
    report = evaluate(root, load_policy())
    rates = [f for f in report.findings if f.check == "harmful.rate"]
    flagged = sum(1 for r in report.tables["sources"] for _ in range(r["harmful_flagged"]))
    assert flagged / len(texts) <= 0.01
    assert rates and all(f.status is Status.PASS for f in rates)
    assert report.harmful_classifier["mode"] == "lexicon only"
    assert "lexicon only" in report.to_text()
    assert report.to_dict()["harmful_classifier"]["mode"] == "lexicon only"


def test_a_provider_classifier_is_trained_validated_and_scored_per_language(
    tmp_path: Path,
) -> None:
    """Trained on a provider's CSV: held-out precision, recall and false-positive rate,
    overall and per language, with the training file's sha256."""
    rows = [(text, "1", risk) for text, risk in HARMFUL] * 2  # both halves see each kind
    rows += [(text, "0", "") for text in benign("zh")[::2] + benign("en")[::2]]
    path = write_examples(tmp_path / "labelled.csv", rows)
    trained = train(path, 0.5)
    summary = trained.summary()
    assert summary["mode"] == "classifier" and len(summary["training_sha256"]) == 64
    validation = summary["validation"]
    assert validation["examples"] + summary["trained_on"] == len(rows)
    assert set(validation["by_language"]) == {"zh", "en"}
    assert 0 <= validation["false_positive_rate"] <= 1 and validation["harmful"] > 0


def test_a_fit_is_kept_and_loaded_with_the_same_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second process to train on a file loads the first one's fit (numbers in an
    .npz, no pickle) and scores bit for bit the same; an unreadable kept fit is refitted."""
    from trainguard.scanners import classifier

    monkeypatch.setenv("TRAINGUARD_HOME", str(tmp_path / "home"))
    rows = [(text, "1", risk) for text, risk in HARMFUL] * 2
    rows += [(text, "0", "") for text in benign("zh")[::2] + benign("en")[::2]]
    path = write_examples(tmp_path / "labelled.csv", rows)
    probe = benign("zh")[1::2][:20] + benign("en")[1::2][:20] + [text for text, _ in HARMFUL]
    fitted = train(path, 0.5)
    kept = list((tmp_path / "home" / "classifiers").glob("*.npz"))
    assert len(kept) == 1

    def no_fit(_examples: object) -> None:
        raise AssertionError("fitted again although a kept fit exists")

    monkeypatch.setattr(classifier.HarmfulClassifier, "fit", no_fit)
    loaded = train(path, 0.5)
    assert loaded.model.probabilities(probe).tolist() == fitted.model.probabilities(probe).tolist()
    assert loaded.summary() == fitted.summary()

    monkeypatch.undo()
    monkeypatch.setenv("TRAINGUARD_HOME", str(tmp_path / "home"))
    kept[0].write_bytes(b"not an npz")
    again = train(path, 0.5)
    assert again.model.probabilities(probe).tolist() == fitted.model.probabilities(probe).tolist()


def test_shards_score_only_what_a_sample_can_need(tmp_path: Path) -> None:
    """Given each source's record count, a shard scores only the records whose sampling
    key can place them in a sample, fewer than each shard's own sample of each source.
    Counts a hundred times too high (a bound far too tight) leave sampled records
    unscored, and the reduce scores them: the findings are the same all three ways."""
    import math

    import pyarrow as pa
    import pyarrow.parquet as pq

    from trainguard.gate.decide import SHARDS_DIR, decide
    from trainguard.gate.scan import scan_shard

    rows = [(text, "1", risk) for text, risk in HARMFUL] * 2
    rows += [(text, "0", "") for text in benign("zh")[::2] + benign("en")[::2]]
    examples = write_examples(tmp_path / "labelled.csv", rows)
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        f"harmful: {{classifier_training: {examples}, sample_size: 100}}\n", encoding="utf-8"
    )
    texts = benign("zh") + benign("en")
    records = [
        {
            "record_id": f"r{i:05d}",
            "source_id": ("wiki", "books", "crawl")[i % 3],
            "text": HARMFUL[i % len(HARMFUL)][0] if i % 29 == 0 else f"{texts[i % len(texts)]} {i}",
        }
        for i in range(2_100)
    ]
    root = write_dataset(tmp_path / "d", records=records)
    for old in (root / "records").iterdir():
        old.unlink()
    for index in range(3):
        chunk = records[index * 700 : (index + 1) * 700]
        pq.write_table(
            pa.table({k: [r[k] for r in chunk] for k in ("record_id", "source_id", "text")}),
            root / "records" / f"part-{index}.parquet",
        )
    resources = ScanResources.build(root, load_policy(policy_file))
    counts = dict(resources.dataset.validate_records().by_source)
    outcomes, scored = [], []
    for name, given in [
        ("none", None),
        ("counts", counts),
        ("too high", {s: 100 * n for s, n in counts.items()}),
    ]:
        work = tmp_path / name
        for shard in resources.dataset.shards:
            scan_shard(resources, shard, work / SHARDS_DIR, source_records=given)
        scores = pa.concat_tables(
            pq.read_table(f, columns=["harmful_score"])
            for f in sorted((work / SHARDS_DIR).glob("scan-*.parquet"))
        ).column("harmful_score")
        scored.append(len(scores) - scores.null_count)
        report = decide(resources, work)
        outcomes.append(
            (
                report.tables,
                [
                    (f.check, f.source_id, f.status.value, list(f.record_ids))
                    for f in report.findings
                ],
            )
        )
    assert outcomes[0] == outcomes[1] == outcomes[2]
    rates = [row["harmful_flagged"] for row in outcomes[0][0]["sources"]]
    assert all(r > 0 for r in rates), "the fixture must flag records in every source"
    assert scored[1] < scored[0]  # 3 shards x 3 sources x 100 without the counts
    assert scored[2] < math.ceil(0.13 * 2_100)  # only the corpus margin: the rest came late


EDGE_TEXTS = [
    "",
    "   \t\n",
    "a",
    "I",
    "中",
    "Ab  Cd\tEF\u3000中文\u00a0x\u2009y",  # every kind of space between words
    "İstanbul ΣΑΣ ΟΔΟΣ",  # lower() that changes length, a final sigma
    "😀🎉 emoji 𝐀𝐁𝐂 ok",  # four-byte UTF-8
    "e\u0301 café naïve",  # a combining accent
    "\u200bzero\u200bwidth",
    "a\nb\r\nc",
    "x" * 700,
]


def test_hashed_features_equal_scikit_learns_vectorizer() -> None:
    """The NumPy hashing the scorer uses gives the matrix scikit-learn's HashingVectorizer
    gives (the one MLflow logs), entry for entry, on real sentences and edge cases."""
    import numpy as np
    from sklearn.feature_extraction.text import HashingVectorizer

    from trainguard.scanners.classifier import N_FEATURES, hashed_features

    texts = benign("zh") + benign("en") + [text for text, _ in HARMFUL] + EDGE_TEXTS
    reference = HashingVectorizer(
        analyzer="char_wb", ngram_range=(2, 3), n_features=N_FEATURES, alternate_sign=False
    ).transform(texts)
    reference.sort_indices()
    ours = hashed_features(texts)
    assert np.array_equal(ours.indptr, reference.indptr)
    assert np.array_equal(ours.indices, reference.indices)
    assert np.array_equal(ours.data, reference.data)


def test_scores_equal_the_scikit_learn_pipeline_mlflow_logs(tmp_path: Path) -> None:
    """Bit for bit: the scorer's probabilities are the logged pipeline's predict_proba."""
    rows = [(text, "1", risk) for text, risk in HARMFUL] * 2
    rows += [(text, "0", "") for text in benign("zh")[::2] + benign("en")[::2]]
    model = train(write_examples(tmp_path / "labelled.csv", rows), 0.5).model
    texts = benign("zh")[1::2] + benign("en")[1::2] + EDGE_TEXTS
    ours = model.probabilities(texts * 20).tolist()  # more than one scoring batch
    assert ours == model.pipeline.predict_proba(texts * 20)[:, 1].tolist()


def test_a_classifier_below_the_policy_bars_blocks_the_gate(tmp_path: Path) -> None:
    """Labels that say nothing about the text (alternating on benign sentences) give a
    classifier that cannot be right: the gate refuses it, naming the figures and clause."""
    texts = benign("zh") + benign("en")
    rows = [(text, "1" if i % 2 else "0", "A.1.d" if i % 2 else "") for i, text in enumerate(texts)]
    examples = write_examples(tmp_path / "noise.csv", rows)
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"harmful:\n  classifier_training: {examples}\n", encoding="utf-8")
    root = write_dataset(tmp_path / "d")
    resources = ScanResources.build(root, load_policy(policy))  # lazy: nothing trained yet
    with pytest.raises(GateError, match=r"precision 0\.\d+ < 0\.9.*TC260-003 5\.1 a"):
        evaluate(root, load_policy(policy))
    with pytest.raises(GateError, match=r"precision 0\.\d+ < 0\.9"):
        _ = resources.classifier  # the scan's first use refuses it too


@pytest.mark.parametrize(
    ("rows", "field", "said"),
    [
        ([("x", "1", "Z.9.z")], "risk", "unknown risk code 'Z.9.z'"),
        ([("x", "0", "A.1.d")], "risk", "a benign example carries risk"),
        ([("x", "yes", "")], "label", "label 'yes' is not 0 or 1"),
        ([("benign text", "0", "")] * 40, "label", "0 harmful and 40 benign"),
        ([("a", "1", "A.1.d")] * 5 + [("b", "0", "")] * 5, "label", "too few"),
    ],
)
def test_bad_labelled_examples_name_file_and_field(
    tmp_path: Path, rows: list[tuple[str, str, str]], field: str, said: str
) -> None:
    """Unknown risk codes, a single class or too few rows: a ContractError naming them."""
    path = write_examples(tmp_path / "labelled.csv", rows)
    with pytest.raises(ContractError, match=f"field '{field}'") as raised:
        load_examples(path)
    assert said in str(raised.value) and "labelled.csv" in str(raised.value)


def test_the_cli_exits_2_on_bad_labelled_examples(tmp_path: Path) -> None:
    """`trainguard scan` with a policy naming a broken CSV: exit 2, one line, no traceback."""
    path = write_examples(tmp_path / "labelled.csv", [("x", "1", "Z.9.z")])
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"harmful:\n  classifier_training: {path}\n", encoding="utf-8")
    root = write_dataset(tmp_path / "d")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainguard.cli",
            "scan",
            str(root),
            "--policy",
            str(policy),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "field 'risk'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
