"""Collapse stage: the 8 dimensions scored on the load stage's samples."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Output

from synthos_components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def detect_collapse(
    synthetic_sample: Input[Dataset],
    reference_sample: Input[Dataset],
    alignment: Input[Artifact],
    target: str,
    seed: int,
    tracking_uri: str,
    run_id: str,
    result: Output[Artifact],
    chart: Output[HTML],
    metrics: Output[Metrics],
):
    """Score each dimension against real-vs-real noise; the 8 scores become Metrics."""
    from synthos import stages

    values = stages.collapse(synthetic_sample.path, reference_sample.path, alignment.path,
                             target, result.path, chart.path, tracking_uri, run_id, int(seed))
    for name, value in values.items():
        metrics.log_metric(name, float(value))
