"""`/api/v1`: experiments, their lifecycle, checkpoints and metrics."""

from __future__ import annotations

import gzip
import tarfile
import tempfile
from pathlib import Path
from typing import IO, Annotated, Any, Iterator

from fastapi import APIRouter, Body, Depends, Path as PathParam, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ValidationError

from seedrl.admission import admit
from seedrl.spec.experiment import NAME_MAX_LENGTH, NAME_PATTERN, ExperimentSpec
from seedrl.controller.exports import ClientGone, ExportJobs
from seedrl.controller.models import (
    Checkpoint, CheckpointList, Experiment, ExperimentList, ExperimentStatus, Phase, ResumeRequest, ScaleRequest,
    ScrapeTargets,
)
from seedrl.controller.openapi import declared
from seedrl.controller.runtimes.base import NotFound, Runtime

CHUNK = 1 << 20
# A client that went away while its request waited (nginx's convention; nobody reads the answer).
CLIENT_CLOSED = 499


async def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def _body(request: Request) -> bytes:
    return await request.body()


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
RawBody = Annotated[bytes, Depends(_body)]
Name = Annotated[str, PathParam(pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH, description="Experiment name.")]
CheckpointName = Annotated[str, PathParam(pattern=r"^ckpt-[0-9]{1,12}$", description="ckpt-N.")]

router = APIRouter(prefix="/api/v1", tags=["experiments"])


def _json(model: BaseModel, status_code: int = 200) -> Response:
    """`model` as JSON, as it is: a stored spec that no longer validates is shown, not validated again."""
    return Response(model.model_dump_json(warnings=False), status_code=status_code, media_type="application/json")


SPEC_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/ExperimentSpec"}}}}}


@router.post("/experiments", status_code=201, response_model=Experiment, responses=declared(409),
             openapi_extra=SPEC_BODY, summary="Create an experiment (and start it)")
def create_experiment(
    runtime: RuntimeDep, body: RawBody, start: bool = Query(False, description="Start it right away."),
) -> Response:
    """The body is an ExperimentSpec, admitted with every rule and JSON's own types (no coercion)."""
    try:
        spec = admit(ExperimentSpec, body)
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None
    return _json(runtime.create(spec, start), 201)


@router.get("/experiments", response_model=ExperimentList, summary="List experiments, oldest first")
def list_experiments(
    runtime: RuntimeDep,
    phase: Phase | None = Query(None, description="Only experiments in this phase."),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> Response:
    items, total = runtime.list(phase, limit, offset)
    return _json(ExperimentList.model_construct(items=items, total=total, limit=limit, offset=offset))


@router.get("/experiments/{name}", response_model=Experiment, summary="An experiment: spec and status")
def get_experiment(runtime: RuntimeDep, name: Name) -> Response:
    return _json(runtime.get(name))


@router.get("/experiments/{name}/status", response_model=ExperimentStatus, summary="An experiment's status")
def get_status(runtime: RuntimeDep, name: Name) -> Response:
    return _json(runtime.get(name).status)


@router.post("/experiments/{name}/start", status_code=202, response_model=Experiment, responses=declared(409),
             summary="Start a created experiment")
def start_experiment(runtime: RuntimeDep, name: Name) -> Response:
    return _json(runtime.start(name), 202)


@router.post("/experiments/{name}/stop", status_code=202, response_model=Experiment, responses=declared(409),
             summary="Stop gracefully: actors, then the learner, which writes a final checkpoint")
def stop_experiment(runtime: RuntimeDep, name: Name) -> Response:
    return _json(runtime.stop(name), 202)


@router.post("/experiments/{name}/resume", status_code=202, response_model=Experiment, responses=declared(409),
             summary="Resume a stopped, failed or finished experiment from its newest or a named checkpoint")
def resume_experiment(runtime: RuntimeDep, name: Name, body: ResumeRequest | None = Body(None)) -> Response:
    return _json(runtime.resume(name, body.checkpoint if body else None), 202)


@router.post("/experiments/{name}/scale", response_model=Experiment, responses=declared(409),
             summary="Set the number of actors (live)")
def scale_experiment(runtime: RuntimeDep, name: Name, body: ScaleRequest) -> Response:
    return _json(runtime.scale(name, body.actors))


@router.delete("/experiments/{name}", status_code=204, response_class=Response, responses=declared(409),
               summary="Delete an experiment")
def delete_experiment(
    runtime: RuntimeDep, name: Name,
    force: bool = Query(False, description="Stop it first if it runs (else a running experiment gets 409)."),
    delete_checkpoints: bool = Query(False, description="Also delete its run folder: checkpoints, logs, summaries."),
) -> Response:
    runtime.delete(name, force, delete_checkpoints)
    return Response(status_code=204)


@router.get("/experiments/{name}/checkpoints", response_model=CheckpointList, responses=declared(409),
            summary="An experiment's checkpoints")
def list_checkpoints(runtime: RuntimeDep, name: Name) -> CheckpointList:
    items: list[Checkpoint] = runtime.checkpoints(name)
    return CheckpointList(items=items)


def _chunks(buffer: IO[bytes]) -> Iterator[bytes]:
    with buffer:
        while chunk := buffer.read(CHUNK):
            yield chunk


def _archive(members: list[tuple[Path, str]], filename: str) -> StreamingResponse:
    """A .tar.gz of (path, name in the archive) members, built whole before the response starts
    (a file that vanishes meanwhile is a 404, never a truncated download), then streamed. The same files
    give the same bytes whenever they are archived (the gzip header carries no time)."""
    buffer = tempfile.SpooledTemporaryFile(max_size=64 * CHUNK)
    try:
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed, \
                tarfile.open(fileobj=compressed, mode="w") as archive:
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


@router.get("/experiments/{name}/checkpoints/{checkpoint}", response_class=StreamingResponse, responses={
    200: {"content": {"application/gzip": {}}, "description": "The checkpoint's files as .tar.gz"}, **declared(409)},
    summary="Download a checkpoint (TensorFlow checkpoint files and their counters)")
def download_checkpoint(runtime: RuntimeDep, name: Name, checkpoint: CheckpointName) -> StreamingResponse:
    files = runtime.checkpoint_files(name, checkpoint)
    return _archive([(path, f"{checkpoint}/{path.name}") for path in files], f"{name}-{checkpoint}.tar.gz")


async def _gone(request: Request) -> None:
    """Returns once the client of `request` disconnects (its body has been read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        continue


@router.get("/experiments/{name}/checkpoints/{checkpoint}/savedmodel", response_class=StreamingResponse, responses={
    200: {"content": {"application/gzip": {}}, "description": "A SavedModel of the policy as .tar.gz"},
    **declared(409, 429)},
    summary="Export a checkpoint's policy as a TensorFlow SavedModel (needs the token: it starts a process)")
async def export_checkpoint(request: Request, runtime: RuntimeDep, name: Name, checkpoint: CheckpointName) -> Response:
    """One export job per checkpoint: requests for the same one wait for it; a full queue answers 429."""
    exports: ExportJobs = request.app.state.exports
    plan = exports.in_flight(name, checkpoint) or await run_in_threadpool(runtime.export_plan, name, checkpoint)
    try:
        directory = await exports.export(plan, _gone(request))
    except ClientGone:
        return Response(status_code=CLIENT_CLOSED)
    return await run_in_threadpool(_archive, [(directory, f"{name}-{checkpoint}")], f"{name}-{checkpoint}-savedmodel.tar.gz")


@router.get("/experiments/{name}/metrics", response_class=PlainTextResponse, responses=declared(409),
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
