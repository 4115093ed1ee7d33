"""Open the validation's MLflow run, and close it if the pipeline fails."""

from kfp import dsl

from synthos_components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def start_tracking(tracking_uri: str, experiment: str, run_name: str, params_json: str,
                   job_id: str) -> str:
    """Create the MLflow run (or adopt an injected MLFLOW_RUN_ID) and return its id."""
    import json

    from synthos import stages

    return stages.start(tracking_uri, experiment, run_name, json.loads(params_json), job_id)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def finish_tracking(tracking_uri: str, experiment: str, job_id: str) -> str:
    """Mark the job's run FAILED unless the report stage closed it; return its status."""
    from synthos import stages

    return stages.finish(tracking_uri, experiment, job_id)
