"""Experiments through the REST API of a real controller running real learner and actor processes."""

from __future__ import annotations

import io
import os
import re
import signal
import tarfile

import pytest

from tests.integration.controller import start_controller
from tests.integration.helpers import pids_with, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "lifecycle-token"
API = "/api/v1/experiments"


def spec(name: str, **fields) -> dict:
    return {"name": name, "env": "gym:CartPole-v1", "actors": 2, "envs_per_actor": 8,
            "vtrace": {"batch_size": 4, "unroll_length": 8}, "checkpoint": {"every_s": 2}, **fields}


def status_of(api, name: str) -> dict:
    return api.get(f"{API}/{name}").json()["status"]


def wait_status(api, name: str, predicate, timeout: float, what: str) -> dict:
    def check() -> dict | None:
        status = status_of(api, name)
        return status if predicate(status) else None

    return wait_for(check, timeout, what=what)


def learner_pids(logdir) -> list[int]:
    return pids_with(f"{logdir}/learner.json")


def restored_frames(logdir) -> list[int]:
    """The frame counter each learner of the run restored from a checkpoint, in order (from its log)."""
    return [int(f) for f in re.findall(r"restored \S+ \((\d+) frames\)", (logdir / "logs" / "learner.log").read_text())]


def test_create_run_scale_stop_resume_delete(tmp_path):
    controller = start_controller(tmp_path, TOKEN)
    logdir = tmp_path / "experiments" / "life"
    try:
        with controller.client() as api:
            created = api.post(API, params={"start": "true"}, json=spec("life"))
            assert created.status_code == 201, created.text
            running = wait_status(api, "life", lambda s: s["phase"] == "Running" and s["frames"] > 2_000, 120, "running")
            wait_status(api, "life", lambda s: s["frames"] > running["frames"], 30, "frames increasing")
            (learner_pid,) = learner_pids(logdir)
            assert "seedrl_env_frames_total" in api.get(f"{API}/life/metrics").text  # the learner's metrics

            # Conflicting operations on a running experiment.
            assert api.post(f"{API}/life/start").status_code == 409
            assert api.post(f"{API}/life/resume").status_code == 409
            assert api.delete(f"{API}/life").status_code == 409

            # Scale 2 -> 4 actors live: same learner, frames keep increasing, all 4 actors stream.
            scaled = api.post(f"{API}/life/scale", json={"actors": 4})
            assert scaled.status_code == 200 and scaled.json()["spec"]["actors"] == 4
            before = status_of(api, "life")["frames"]
            wait_status(api, "life", lambda s: s["ready_actors"] == 4 and s["connected_streams"] == 8
                        and s["frames"] > before + 2_000, 60, "four actors streaming")
            assert learner_pids(logdir) == [learner_pid]
            assert len(pids_with(f"{logdir}/actor-")) == 4

            # A killed actor is restarted.
            (victim,) = pids_with(f"{logdir}/actor-3.json")
            os.kill(victim, signal.SIGKILL)
            wait_status(api, "life", lambda s: s["actor_restarts"] >= 1 and s["ready_actors"] == 4, 30, "actor restarted")

            # Stop: Stopping, then Stopped with a final checkpoint holding the frames reached.
            stopping = api.post(f"{API}/life/stop")
            assert stopping.status_code == 202 and stopping.json()["status"]["phase"] == "Stopping"
            stopped = wait_status(api, "life", lambda s: s["phase"] == "Stopped", 90, "stopped")
            assert pids_with(str(logdir)) == []
            checkpoints = api.get(f"{API}/life/checkpoints").json()["items"]
            final = checkpoints[-1]
            assert final["name"] == stopped["latest_checkpoint"] and final["frames"] == stopped["frames"] > 0
            assert final["size_bytes"] > 0 and [c["step"] for c in checkpoints] == sorted(c["step"] for c in checkpoints)

            # Download the checkpoint and export its policy as a SavedModel.
            archive = api.get(f"{API}/life/checkpoints/{final['name']}")
            assert archive.status_code == 200 and archive.headers["content-type"] == "application/gzip"
            names = tarfile.open(fileobj=io.BytesIO(archive.content)).getnames()
            assert f"{final['name']}/{final['name']}.index" in names and f"{final['name']}/{final['name']}.json" in names
            exported = api.get(f"{API}/life/checkpoints/{final['name']}/savedmodel", timeout=300)
            assert exported.status_code == 200, exported.text
            assert f"life-{final['name']}/saved_model.pb" in tarfile.open(fileobj=io.BytesIO(exported.content)).getnames()

            # Resume from the newest checkpoint: frames continue from where they were.
            assert api.post(f"{API}/life/start").status_code == 409  # it has run: resume, don't start
            resumed = api.post(f"{API}/life/resume")
            assert resumed.status_code == 202 and resumed.json()["status"]["phase"] == "Pending"
            back = wait_status(api, "life", lambda s: s["phase"] == "Running" and s["frames"] > 0, 120, "resumed")
            assert back["frames"] >= stopped["frames"]
            wait_status(api, "life", lambda s: s["frames"] > stopped["frames"] + 2_000, 60, "training after resume")

            # Stop again: its oldest checkpoint seeds a new experiment, then a resume of this one.
            api.post(f"{API}/life/stop")
            wait_status(api, "life", lambda s: s["phase"] == "Stopped", 90, "stopped again")
            older = api.get(f"{API}/life/checkpoints").json()["items"][0]

            # A new experiment can start from another one's checkpoint (while that one is stopped).
            fork = api.post(API, params={"start": "true"}, json=spec("life-fork", resume_from=f"life/{older['name']}"))
            assert fork.status_code == 201, fork.text
            forked = wait_status(api, "life-fork", lambda s: s["phase"] == "Running" and s["frames"] > 0, 120, "fork")
            assert forked["frames"] >= older["frames"]
            assert api.delete(f"{API}/life-fork", params={"force": "true"}).status_code == 204
            assert (tmp_path / "experiments" / "life-fork" / "checkpoints").is_dir()  # kept unless asked

            assert api.post(f"{API}/life/resume", json={"checkpoint": "ckpt-999999"}).status_code == 422
            assert api.post(f"{API}/life/resume", json={"checkpoint": older["name"]}).status_code == 202
            wait_status(api, "life", lambda s: s["phase"] == "Running", 120, "resumed from an older checkpoint")
            assert f"restored {logdir}/checkpoints/{older['name']} (" in (logdir / "logs" / "learner.log").read_text()

            # Delete a running experiment with force; its run folder goes too when asked.
            assert api.delete(f"{API}/life", params={"force": "true", "delete_checkpoints": "true"}).status_code == 204
            assert api.get(f"{API}/life").status_code == 404
            assert not logdir.exists() and pids_with(str(logdir)) == []
    finally:
        controller.stop()
    assert pids_with(str(tmp_path)) == []


def test_a_killed_controller_loses_nothing_and_leaves_no_orphans(tmp_path):
    controller = start_controller(tmp_path, TOKEN)
    logdir = tmp_path / "experiments" / "sturdy"
    try:
        with controller.client() as api:
            assert api.post(API, params={"start": "true"}, json=spec("sturdy")).status_code == 201
            wait_status(api, "sturdy", lambda s: s["phase"] == "Running" and s["latest_checkpoint"], 120, "checkpointed")
            (learner_pid,) = learner_pids(logdir)
            run_pids = set(pids_with(str(logdir)))
        controller.stop(signal.SIGKILL)

        # The run carries on without its controller; a new controller adopts the same processes.
        controller = start_controller(tmp_path, TOKEN)
        with controller.client() as api:
            adopted = wait_status(api, "sturdy", lambda s: s["phase"] == "Running", 30, "listed as running")
            assert learner_pids(logdir) == [learner_pid] and set(pids_with(str(logdir))) == run_pids
            wait_status(api, "sturdy", lambda s: s["frames"] > adopted["frames"] + 2_000, 60, "progress after adoption")

            # A crashed learner is restarted by the adopting controller and resumes from its checkpoint.
            checkpointed = api.get(f"{API}/sturdy/checkpoints").json()["items"][-1]["frames"]
            restores = len(restored_frames(logdir))
            os.kill(learner_pid, signal.SIGKILL)
            wait_for(lambda: len(restored_frames(logdir)) > restores, 60, what="a new learner restoring")
            assert restored_frames(logdir)[-1] >= checkpointed  # it started from the newest checkpoint
            wait_status(api, "sturdy", lambda s: s["learner_restarts"] == 1 and s["frames"] > checkpointed, 60,
                        "training after the learner's restart")
            wait_status(api, "sturdy", lambda s: s["phase"] == "Running" and s["connected_streams"] == 4, 60, "reconnected")
        controller.stop(signal.SIGKILL)

        # Processes gone while no controller ran: the next one restarts the run from its checkpoint.
        for pid in pids_with(str(logdir)):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: pids_with(str(logdir)) == [], 10, what="processes gone")
        controller = start_controller(tmp_path, TOKEN)
        with controller.client() as api:
            api_checkpoint_frames = api.get(f"{API}/sturdy/checkpoints").json()["items"][-1]["frames"]
            last = wait_status(api, "sturdy", lambda s: s["phase"] == "Running" and s["frames"] > 0, 120, "restarted run")
            assert last["frames"] >= api_checkpoint_frames
            assert api.post(f"{API}/sturdy/stop").status_code == 202
            wait_status(api, "sturdy", lambda s: s["phase"] == "Stopped", 90, "stopped")
    finally:
        controller.stop()
    assert pids_with(str(tmp_path)) == []


def test_an_experiment_succeeds_at_its_frame_budget_and_a_crash_looping_one_fails(tmp_path):
    controller = start_controller(tmp_path, TOKEN)
    try:
        with controller.client() as api:
            assert api.post(API, params={"start": "true"}, json=spec("short", total_frames=20_000)).status_code == 201
            done = wait_status(api, "short", lambda s: s["phase"] == "Succeeded", 120, "succeeded")
            assert done["frames"] >= 20_000 and done["finished_at"] and "total_frames" in done["message"]
            assert pids_with(str(tmp_path / "experiments" / "short")) == []
            (checkpoint,) = [c["name"] for c in api.get(f"{API}/short/checkpoints").json()["items"][-1:]]

            # A learner that cannot restore its checkpoint (another network shape) crashes at every start.
            misfit = spec("misfit", resume_from=f"short/{checkpoint}", network={"hidden_sizes": [7]})
            assert api.post(API, params={"start": "true"}, json=misfit).status_code == 201
            failed = wait_status(api, "misfit", lambda s: s["phase"] == "Failed", 180, "failed")
            assert "exited 4 times" in failed["message"] and "learner.log" in failed["message"]
            assert failed["learner_restarts"] == 3
            assert pids_with(str(tmp_path / "experiments" / "misfit")) == []
            phases = {item["name"]: item["status"]["phase"] for item in api.get(API).json()["items"]}
            assert phases == {"short": "Succeeded", "misfit": "Failed"}
    finally:
        controller.stop()
