"""Pre-screen stage: the dataset's signature against the library of known collapse cases."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Output

from synthos_components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def prescreen(
    synthetic_sample: Input[Dataset],
    reference_sample: Input[Dataset],
    alignment: Input[Artifact],
    library_uri: str,
    seed: int,
    tracking_uri: str,
    run_id: str,
    result: Output[Artifact],
    metrics: Output[Metrics],
):
    """Risk of collapse 0-100 from the nearest known cases; no model is trained."""
    from synthos import stages

    values = stages.prescreen(synthetic_sample.path, reference_sample.path, alignment.path,
                              library_uri, result.path, tracking_uri, run_id, int(seed))
    for name, value in values.items():
        metrics.log_metric(name, float(value))
