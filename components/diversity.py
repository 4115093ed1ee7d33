"""Diversity stage: one streaming pass of mergeable sketches per shard, then one analysis.

A Parquet input with more row groups than ``row_groups_per_shard`` fans out over several
sketch tasks (the pipeline's ParallelFor); the analysis merges the shards of each input.
"""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Metrics, Output

from synthos_components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def plan_diversity_shards(synthetic_uri: str, reference_uri: str,
                          row_groups_per_shard: int) -> list[dict]:
    """The shards of both inputs: one per input unless it has many row groups."""
    from synthos import stages

    return stages.diversity_plan(synthetic_uri, reference_uri, int(row_groups_per_shard))


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def sketch_shard(shard: dict, alignment: Input[Artifact], seed: int, state: Output[Artifact]):
    """Sketch one shard of one input (quantiles, distinct counts, frequent items, sample)."""
    from synthos import stages

    stages.diversity_shard(shard, alignment.path, int(seed), state.path)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def analyze_diversity(
    states: Input[list[Artifact]],
    seed: int,
    tracking_uri: str,
    run_id: str,
    result: Output[Artifact],
    chart: Output[HTML],
    metrics: Output[Metrics],
):
    """Merge the shards and compare the synthetic data's diversity with the reference's."""
    from synthos import stages

    values = stages.diversity([s.path for s in states], int(seed), result.path, chart.path,
                              tracking_uri, run_id)
    for name, value in values.items():
        metrics.log_metric(name, float(value))
