"""The gate engine (Art. 7, 8): shard scans, the fan-in to ``checks/``, GX suites, decision.

``evaluate`` runs everything in one process; in Airflow the shard scans are mapped tasks
(``scan.scan_shard``) and the gate task calls ``decide`` on their results.
"""

from trainguard.gate.decide import decide, evaluate

__all__ = ["decide", "evaluate"]
