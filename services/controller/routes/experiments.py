"""`/api/v1`: experiments, their lifecycle, checkpoints and metrics."""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import IO, Annotated, Any, Iterator

from fastapi import APIRouter, Body, Depends, Path as PathParam, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import ValidationError

from seedrl.admission import admit
from seedrl.spec.experiment import NAME_MAX_LENGTH, NAME_PATTERN, ExperimentSpec
from seedrl.controller.models import (
    Checkpoint, CheckpointList, Experiment, ExperimentList, ExperimentStatus, Phase, Problem, ResumeRequest, ScaleRequest,
    ScrapeTargets,
)
from seedrl.controller.runtimes.base import NotFound, Runtime

CHUNK = 1 << 20


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
Name = Annotated[str, PathParam(pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH, description="Experiment name.")]
CheckpointName = Annotated[str, PathParam(pattern=r"^ckpt-[0-9]{1,12}$", description="ckpt-N.")]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": text}
    for status, text in ((401, "No API token"), (403, "Wrong API token"), (404, "No such experiment or checkpoint"),
                         (409, "Conflicts with the experiment's state"), (422, "Invalid input, naming the field"))
}

router = APIRouter(prefix="/api/v1", tags=["experiments"], responses=_ERRORS)


@router.post("/experiments", status_code=201, response_model=Experiment, summary="Create an experiment (and start it)")
def create_experiment(
    runtime: RuntimeDep, spec: ExperimentSpec, start: bool = Query(False, description="Start it right away."),
) -> Experiment:
    try:
        admitted = admit(ExperimentSpec, spec)
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None
    return runtime.create(admitted, start)


@router.get("/experiments", response_model=ExperimentList, summary="List experiments, oldest first")
def list_experiments(
    runtime: RuntimeDep,
    phase: Phase | None = Query(None, description="Only experiments in this phase."),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> ExperimentList:
    items, total = runtime.list(phase, limit, offset)
    return ExperimentList(items=items, total=total, limit=limit, offset=offset)


@router.get("/experiments/{name}", response_model=Experiment, summary="An experiment: spec and status")
def get_experiment(runtime: RuntimeDep, name: Name) -> Experiment:
    return runtime.get(name)


@router.get("/experiments/{name}/status", response_model=ExperimentStatus, summary="An experiment's status")
def get_status(runtime: RuntimeDep, name: Name) -> ExperimentStatus:
    return runtime.get(name).status


@router.post("/experiments/{name}/start", status_code=202, response_model=Experiment, summary="Start a created experiment")
def start_experiment(runtime: RuntimeDep, name: Name) -> Experiment:
    return runtime.start(name)


@router.post("/experiments/{name}/stop", status_code=202, response_model=Experiment,
             summary="Stop gracefully: actors, then the learner, which writes a final checkpoint")
def stop_experiment(runtime: RuntimeDep, name: Name) -> Experiment:
    return runtime.stop(name)


@router.post("/experiments/{name}/resume", status_code=202, response_model=Experiment,
             summary="Resume a stopped, failed or finished experiment from its newest or a named checkpoint")
def resume_experiment(runtime: RuntimeDep, name: Name, body: ResumeRequest | None = Body(None)) -> Experiment:
    return runtime.resume(name, body.checkpoint if body else None)


@router.post("/experiments/{name}/scale", response_model=Experiment, summary="Set the number of actors (live)")
def scale_experiment(runtime: RuntimeDep, name: Name, body: ScaleRequest) -> Experiment:
    return runtime.scale(name, body.actors)


@router.delete("/experiments/{name}", status_code=204, response_class=Response, summary="Delete an experiment")
def delete_experiment(
    runtime: RuntimeDep, name: Name,
    force: bool = Query(False, description="Stop it first if it runs (else a running experiment gets 409)."),
    delete_checkpoints: bool = Query(False, description="Also delete its run folder: checkpoints, logs, summaries."),
) -> Response:
    runtime.delete(name, force, delete_checkpoints)
    return Response(status_code=204)


@router.get("/experiments/{name}/checkpoints", response_model=CheckpointList, summary="An experiment's checkpoints")
def list_checkpoints(runtime: RuntimeDep, name: Name) -> CheckpointList:
    items: list[Checkpoint] = runtime.checkpoints(name)
    return CheckpointList(items=items)


def _chunks(buffer: IO[bytes]) -> Iterator[bytes]:
    with buffer:
        while chunk := buffer.read(CHUNK):
            yield chunk


def _archive(members: list[tuple[Path, str]], filename: str) -> StreamingResponse:
    """A .tar.gz of (path, name in the archive) members, built whole before the response starts
    (a file that vanishes meanwhile is a 404, never a truncated download), then streamed."""
    buffer = tempfile.SpooledTemporaryFile(max_size=64 * CHUNK)
    try:
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for path, arcname in members:
                archive.add(path, arcname=arcname)
    except FileNotFoundError:
        buffer.close()
        raise NotFound(f"{filename} changed while it was being archived (rotated out?)") from None
    buffer.seek(0)
    return StreamingResponse(
        _chunks(buffer), media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/experiments/{name}/checkpoints/{checkpoint}", response_class=StreamingResponse,
            responses={200: {"content": {"application/gzip": {}}, "description": "The checkpoint's files as .tar.gz"}},
            summary="Download a checkpoint (TensorFlow checkpoint files and their counters)")
def download_checkpoint(runtime: RuntimeDep, name: Name, checkpoint: CheckpointName) -> StreamingResponse:
    files = runtime.checkpoint_files(name, checkpoint)
    return _archive([(path, f"{checkpoint}/{path.name}") for path in files], f"{name}-{checkpoint}.tar.gz")


@router.get("/experiments/{name}/checkpoints/{checkpoint}/savedmodel", response_class=StreamingResponse,
            responses={200: {"content": {"application/gzip": {}}, "description": "A SavedModel of the policy as .tar.gz"}},
            summary="Export a checkpoint's policy as a TensorFlow SavedModel")
def export_checkpoint(runtime: RuntimeDep, name: Name, checkpoint: CheckpointName) -> StreamingResponse:
    directory = runtime.export_saved_model(name, checkpoint)
    return _archive([(directory, f"{name}-{checkpoint}")], f"{name}-{checkpoint}-savedmodel.tar.gz")


@router.get("/experiments/{name}/metrics", response_class=PlainTextResponse,
            summary="The learner's Prometheus metrics (text exposition format)")
def experiment_metrics(runtime: RuntimeDep, name: Name) -> PlainTextResponse:
    return PlainTextResponse(runtime.learner_metrics(name), media_type="text/plain; version=0.0.4")


@router.get("/scrape-targets", response_model=list[ScrapeTargets],
            summary="Prometheus HTTP service discovery: the /metrics of every running learner and actor")
def scrape_targets(runtime: RuntimeDep) -> list[ScrapeTargets]:
    return runtime.scrape_targets()


@router.get("/experiment-spec/schema", summary="The JSON schema of ExperimentSpec (the Kubernetes CRD uses it too)")
def spec_schema() -> dict[str, Any]:
    return ExperimentSpec.model_json_schema()
