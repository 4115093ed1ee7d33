"""Report stage: summary.json and report.html, logged to MLflow and published to the output."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Output

from synthos_components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def write_report(
    synthetic_sample: Input[Dataset],
    reference_sample: Input[Dataset],
    synthetic_schema: Input[Artifact],
    reference_schema: Input[Artifact],
    alignment: Input[Artifact],
    collapse: Input[Artifact],
    diversity: Input[Artifact],
    prescreen: Input[Artifact],
    localization_table: Input[Dataset],
    localization: Input[Artifact],
    recommendations: Input[Artifact],
    out_uri: str,
    profile: str,
    target: str,
    tracking_uri: str,
    experiment: str,
    run_id: str,
    library_uri: str,
    summary: Output[Artifact],
    report: Output[HTML],
    metrics: Output[Metrics],
):
    """Assemble the summary and the HTML report; copy every output to ``out_uri``."""
    from synthos import stages

    files = {
        "synthetic_sample": synthetic_sample.path,
        "reference_sample": reference_sample.path,
        "synthetic_schema": synthetic_schema.path,
        "reference_schema": reference_schema.path,
        "alignment": alignment.path,
        "collapse": collapse.path,
        "diversity": diversity.path,
        "prescreen": prescreen.path,
        "localization_table": localization_table.path,
        "localization": localization.path,
        "recommendations": recommendations.path,
    }
    values = stages.report(out_uri, files, profile_name=profile, target=target,
                           tracking_uri=tracking_uri, experiment=experiment, run_id=run_id,
                           summary_path=summary.path, html_path=report.path,
                           library_uri=library_uri)
    for name, value in values.items():
        metrics.log_metric(name, float(value))
