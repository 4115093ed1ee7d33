"""The validation DAG of DESIGN.md, as far as its stages exist.

load(synthetic) ─┐
load(reference) ─┴─> align schema ─┬─> detect collapse ──────────────────────────────┬─> report
                                   ├─> prescreen ───────────────────────────────────┤
                                   ├─> plan shards ─> ParallelFor(sketch shard) ─> diversity
                                   └─> localize rows ─> recommend actions ───────────┘
                                       (recommend also reads collapse and diversity)

One definition serves the cluster (compiled to ``compiled/validation.yaml``) and the local
runner (:mod:`synthos_pipelines.local`).
"""

from kfp import dsl

from synthos.defaults import ROW_GROUPS_PER_SHARD, SAMPLE_ROWS
from synthos_components.align import align_schema
from synthos_components.collapse import detect_collapse
from synthos_components.diversity import analyze_diversity, plan_diversity_shards, sketch_shard
from synthos_components.load import load_dataset
from synthos_components.localize import localize_rows, recommend_actions
from synthos_components.prescreen import prescreen
from synthos_components.report import write_report
from synthos_components.tracking import finish_tracking, start_tracking

PIPELINE_NAME = "synthos-validation"


@dsl.pipeline(name=PIPELINE_NAME,
              description="Validate a synthetic dataset against a real reference.")
def validation_pipeline(
    synthetic_uri: str,
    reference_uri: str,
    target: str = "",
    out_uri: str = "",
    profile: str = "quick",
    sample_rows: int = SAMPLE_ROWS,
    seed: int = 0,
    tracking_uri: str = "",
    experiment: str = "synthos-validation",
    run_name: str = "",
    params_json: str = "{}",
    row_groups_per_shard: int = ROW_GROUPS_PER_SHARD,
    library_uri: str = "",
):
    closing = finish_tracking(tracking_uri=tracking_uri, experiment=experiment,
                              job_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER)
    closing.set_display_name("finish-tracking")
    with dsl.ExitHandler(closing, name="validation"):
        opened = start_tracking(tracking_uri=tracking_uri, experiment=experiment,
                                run_name=run_name, params_json=params_json,
                                job_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER)
        opened.set_display_name("start-tracking")
        tracked = {"tracking_uri": tracking_uri, "run_id": opened.output}  # every stage logs
        loads = {}
        for role, uri in (("synthetic", synthetic_uri), ("reference", reference_uri)):
            task = load_dataset(uri=uri, role=role, sample_rows=sample_rows, seed=seed,
                                **tracked)
            task.set_display_name(f"load-{role}")
            loads[role] = task
        aligned = align_schema(
            synthetic_schema=loads["synthetic"].outputs["schema"],
            reference_schema=loads["reference"].outputs["schema"],
            target=target, **tracked)
        aligned.set_display_name("align-schema")
        # Every row-level stage reads the two samples and the alignment.
        samples = {"synthetic_sample": loads["synthetic"].outputs["sample"],
                   "reference_sample": loads["reference"].outputs["sample"],
                   "alignment": aligned.outputs["alignment"]}
        scored = detect_collapse(**samples, target=target, seed=seed, **tracked)
        scored.set_display_name("detect-collapse")
        screened = prescreen(**samples, library_uri=library_uri, seed=seed, **tracked)
        screened.set_display_name("prescreen")
        planned = plan_diversity_shards(synthetic_uri=synthetic_uri, reference_uri=reference_uri,
                                        row_groups_per_shard=row_groups_per_shard)
        planned.set_display_name("plan-diversity-shards")
        planned.after(aligned)  # inputs already checked by the load stages
        with dsl.ParallelFor(planned.output, name="diversity-shards") as shard:
            sketched = sketch_shard(shard=shard, alignment=aligned.outputs["alignment"],
                                    seed=seed)
            sketched.set_display_name("sketch-shard")
            sketched.set_caching_options(False)
        diverse = analyze_diversity(states=dsl.Collected(sketched.outputs["state"]), seed=seed,
                                    **tracked)
        diverse.set_display_name("analyze-diversity")
        located = localize_rows(**samples, target=target, seed=seed, **tracked)
        located.set_display_name("localize-rows")
        advised = recommend_actions(
            **samples,
            collapse=scored.outputs["result"],
            localization=located.outputs["result"],
            localization_table=located.outputs["table"],
            diversity=diverse.outputs["result"],
            target=target, seed=seed, **tracked)
        advised.set_display_name("recommend-actions")
        reported = write_report(
            **samples,
            synthetic_schema=loads["synthetic"].outputs["schema"],
            reference_schema=loads["reference"].outputs["schema"],
            collapse=scored.outputs["result"],
            diversity=diverse.outputs["result"],
            prescreen=screened.outputs["result"],
            localization_table=located.outputs["table"],
            localization=located.outputs["result"],
            recommendations=advised.outputs["result"], library_uri=library_uri,
            out_uri=out_uri, profile=profile, target=target, experiment=experiment, **tracked)
        reported.set_display_name("report")
    # Every stage logs to MLflow or publishes files: none may be skipped by the cache.
    for task in (opened, closing, *loads.values(), aligned, scored, screened, planned, diverse,
                 located, advised, reported):
        task.set_caching_options(False)
