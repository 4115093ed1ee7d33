"""Align stage: the synthetic schema against the reference, and the target column checked."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Metrics, Output

from synthos_components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def align_schema(
    synthetic_schema: Input[Artifact],
    reference_schema: Input[Artifact],
    target: str,
    tracking_uri: str,
    run_id: str,
    alignment: Output[Artifact],
    metrics: Output[Metrics],
):
    """Report missing, extra and retyped columns; fail on no common column or a bad target."""
    from synthos import stages

    values = stages.align(synthetic_schema.path, reference_schema.path, target, alignment.path,
                          tracking_uri, run_id)
    for name, value in values.items():
        metrics.log_metric(name, float(value))
