"""Load stage: one streaming pass over a dataset URI; a normalized sample and its schema out.

The dataset itself never travels as an artifact (the launcher would copy it into the pod):
the stage streams it from its URI and emits only the sample and the schema document.
"""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Metrics, Output

from synthos_components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def load_dataset(
    uri: str,
    role: str,
    sample_rows: int,
    seed: int,
    tracking_uri: str,
    run_id: str,
    sample: Output[Dataset],
    schema: Output[Artifact],
    metrics: Output[Metrics],
):
    """Profile ``uri``: rows, column kinds, missing rates, and a uniform sample."""
    from synthos import stages

    values = stages.load(uri, role, int(sample_rows), int(seed), sample.path, schema.path,
                         tracking_uri, run_id)
    for name, value in values.items():
        metrics.log_metric(name, float(value))
