"""Art. 17 disclosure: lineage of a model version, the signed provenance bundle (PROV,
SPDX, OpenLineage facets, HTML report) and its verification."""

from trainguard.export.bundle import export_bundle, verify_bundle
from trainguard.export.lineage import lineage_text, model_lineage

__all__ = ["export_bundle", "lineage_text", "model_lineage", "verify_bundle"]
