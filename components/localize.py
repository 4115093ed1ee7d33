"""Localize and recommend stages: which rows are bad and why, then what to do about it."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Output

from synthos_components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def localize_rows(
    synthetic_sample: Input[Dataset],
    reference_sample: Input[Dataset],
    alignment: Input[Artifact],
    target: str,
    seed: int,
    tracking_uri: str,
    run_id: str,
    table: Output[Dataset],
    result: Output[Artifact],
    chart: Output[HTML],
    metrics: Output[Metrics],
):
    """Score every sampled synthetic row with each detector; flag and explain the worst."""
    from synthos import stages

    values = stages.localize(synthetic_sample.path, reference_sample.path, alignment.path,
                             target, table.path, result.path, chart.path, tracking_uri, run_id,
                             int(seed))
    for name, value in values.items():
        metrics.log_metric(name, float(value))


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def recommend_actions(
    synthetic_sample: Input[Dataset],
    reference_sample: Input[Dataset],
    alignment: Input[Artifact],
    collapse: Input[Artifact],
    localization: Input[Artifact],
    localization_table: Input[Dataset],
    diversity: Input[Artifact],
    target: str,
    seed: int,
    tracking_uri: str,
    run_id: str,
    result: Output[Artifact],
    chart: Output[HTML],
    metrics: Output[Metrics],
):
    """Actions for the weak dimensions, each transformation applied and re-scored."""
    from synthos import stages

    values = stages.recommend(synthetic_sample.path, reference_sample.path, alignment.path,
                              collapse.path, localization.path, localization_table.path,
                              diversity.path, target, result.path, chart.path, tracking_uri,
                              run_id, int(seed))
    for name, value in values.items():
        metrics.log_metric(name, float(value))
