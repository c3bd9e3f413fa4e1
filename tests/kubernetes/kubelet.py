"""A stand-in for what no process here can be: the kubelets of GKE node pools (and GKE's volume provisioner).

The control plane is real (kube-apiserver, kube-controller-manager, kube-scheduler), but no kubelet
can run here, so `Kubelet` plays one for every node of the pools it is given, through the real API:
- it registers the Node objects (GKE's labels, taints and capacity: CPU, memory, `nvidia.com/gpu`,
  `google.com/tpu`) and renews their Leases in kube-node-lease, as a kubelet's heartbeat does;
- for each pod the real scheduler bound to one of its nodes, it writes the pod status a kubelet would
  (`PodState`): running and ready by default, or what a test asks for a pod (an image pull error,
  a crash loop with its restart count, a container that exited);
- it finishes the deletion of pods on its nodes once their containers would have stopped (at once),
  except for pods a test holds (`hold`): they stay Terminating, as pods on a node that was lost do;
- it provisions a PersistentVolume for each pending claim (what GKE's CSI provisioner does), so the
  scheduler can bind learner pods that have a volume.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tests.kubernetes.client import Kube, KubeError, Object

NODE_LEASE_S = 40
HEARTBEAT_S = 5.0


@dataclass(frozen=True)
class NodePool:
    """A GKE node pool: its nodes' machine type, capacity, labels and taints."""

    name: str
    nodes: int
    machine_type: str
    cpu: str
    memory: str
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[dict[str, str], ...] = ()
    accelerators: dict[str, str] = field(default_factory=dict)  # extended resource -> count

    def node_names(self) -> list[str]:
        return [f"gke-seedrl-{self.name}-{index}" for index in range(self.nodes)]


CPU_POOL = NodePool("default-pool", 3, "e2-standard-16", "16", "64Gi")
GPU_POOL = NodePool(  # one L4 per node, as `gcloud container node-pools create --accelerator type=nvidia-l4,count=1`
    "l4-pool", 1, "g2-standard-8", "8", "32Gi",
    labels={"cloud.google.com/gke-accelerator": "nvidia-l4", "cloud.google.com/gke-gpu": "true"},
    taints=({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},),
    accelerators={"nvidia.com/gpu": "1"},
)
TPU_POOL = NodePool(  # a single-host TPU v5e slice: ct5lp-hightpu-4t, topology 2x2
    "v5e-pool", 1, "ct5lp-hightpu-4t", "112", "192Gi",
    labels={"cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice", "cloud.google.com/gke-tpu-topology": "2x2"},
    taints=({"key": "google.com/tpu", "value": "present", "effect": "NoSchedule"},),
    accelerators={"google.com/tpu": "4"},
)
GKE_POOLS = (CPU_POOL, GPU_POOL, TPU_POOL)


@dataclass(frozen=True)
class PodState:
    """What a kubelet reports for a pod's containers."""

    phase: str = "Running"
    ready: bool = True
    waiting: str | None = None  # a waiting reason: ErrImagePull, CrashLoopBackOff, ...
    message: str = ""
    restarts: int = 0
    last_exit: int | None = None  # exit code of the previous container, if it exited
    last_message: str = ""  # what the previous container wrote to its termination message file

    def status(self, pod: Object, pod_ip: str, host_ip: str) -> Object:
        now = _stamp()
        containers = []
        for container in pod["spec"]["containers"]:
            state = ({"waiting": {"reason": self.waiting, "message": self.message}} if self.waiting
                     else {"running": {"startedAt": now}})
            status: Object = {"name": container["name"], "image": container["image"], "imageID": "",
                              "ready": self.ready, "started": self.waiting is None,
                              "restartCount": self.restarts, "state": state}
            if self.last_exit is not None:
                status["lastState"] = {"terminated": {"exitCode": self.last_exit, "reason": "Error" if self.last_exit
                                                      else "Completed", "startedAt": now, "finishedAt": now,
                                                      **({"message": self.last_message} if self.last_message else {})}}
            containers.append(status)
        ready = "True" if self.ready else "False"
        return {
            "phase": self.phase, "hostIP": host_ip, "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": now,
            "conditions": [{"type": kind, "status": value, "lastTransitionTime": now} for kind, value in
                           (("Initialized", "True"), ("Ready", ready), ("ContainersReady", ready),
                            ("PodScheduled", "True"))],
            "containerStatuses": containers,
        }


RUNNING = PodState()


def pull_error(image: str) -> PodState:
    return PodState(phase="Pending", ready=False, waiting="ErrImagePull",
                    message=f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": not found')


def crash_loop(restarts: int, exit_code: int = 1, last_message: str = "") -> PodState:
    return PodState(ready=False, waiting="CrashLoopBackOff", restarts=restarts, last_exit=exit_code, last_message=last_message,
                    message=f"back-off 5m0s restarting failed container (restarts: {restarts})")


def exited(exit_code: int, restarts: int = 1) -> PodState:
    """The container exited with `exit_code` and was started again (it runs now)."""
    return PodState(restarts=restarts, last_exit=exit_code)


def _stamp(moment: datetime | None = None, micro: bool = False) -> str:
    moment = moment or datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


class Kubelet:
    """Plays the kubelets of `pools` (see the module docstring). `start()` registers the nodes and runs a
    thread that reacts within `every_s`; `stop()` ends it."""

    def __init__(self, kube: Kube, pools: tuple[NodePool, ...] = GKE_POOLS, every_s: float = 0.2):
        self.kube = kube
        self.pools = pools
        self.every_s = every_s
        self.nodes = {name: pool for pool in pools for name in pool.node_names()}
        self.node_ips = {name: f"10.128.0.{index + 2}" for index, name in enumerate(self.nodes)}
        self._held: set[tuple[str, str]] = set()  # (namespace, pod name prefix)
        self._states: dict[tuple[str, str], PodState] = {}  # (namespace, pod name prefix) -> state
        self._written: dict[str, PodState] = {}  # pod uid -> state written
        self._ips: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kubelet", daemon=True)
        self.errors: list[str] = []

    # --- What tests ask for --------------------------------------------------------------

    def set(self, namespace: str, pod_prefix: str, state: PodState) -> None:
        """Report `state` for the pods of `namespace` whose names start with `pod_prefix` (now and later)."""
        with self._lock:
            self._states[(namespace, pod_prefix)] = state
        self.sync()

    def hold(self, namespace: str, pod_prefix: str) -> None:
        """Never finish deleting these pods (as when their node is lost): they stay Terminating."""
        with self._lock:
            self._held.add((namespace, pod_prefix))

    def release(self, namespace: str, pod_prefix: str) -> None:
        with self._lock:
            self._held.discard((namespace, pod_prefix))
        self.sync()

    def forget(self, namespace: str) -> None:
        """Drop what tests asked for in `namespace` (its pods then run and stop as by default)."""
        with self._lock:
            self._states = {key: state for key, state in self._states.items() if key[0] != namespace}
            self._held = {key for key in self._held if key[0] != namespace}

    # --- The kubelet's own work ----------------------------------------------------------

    def start(self) -> "Kubelet":
        for name, pool in self.nodes.items():
            self.kube.create("/api/v1/nodes", self._node(name, pool))
        self._heartbeat()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _node(self, name: str, pool: NodePool) -> Object:
        capacity = {"cpu": pool.cpu, "memory": pool.memory, "pods": "110", "ephemeral-storage": "100Gi",
                    **pool.accelerators}
        now = _stamp()
        conditions = [{"type": kind, "status": value, "reason": reason, "lastHeartbeatTime": now,
                       "lastTransitionTime": now} for kind, value, reason in
                      (("Ready", "True", "KubeletReady"), ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                       ("DiskPressure", "False", "KubeletHasNoDiskPressure"), ("PIDPressure", "False", "KubeletHasSufficientPID"))]
        return {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": pool.machine_type, "cloud.google.com/gke-nodepool": pool.name,
                "topology.kubernetes.io/region": "us-central1", "topology.kubernetes.io/zone": "us-central1-a",
                **pool.labels}},
            "spec": {"taints": [dict(taint) for taint in pool.taints]} if pool.taints else {},
            "status": {"capacity": capacity, "allocatable": capacity, "conditions": conditions,
                       "addresses": [{"type": "InternalIP", "address": self.node_ips[name]},
                                     {"type": "Hostname", "address": name}],
                       "nodeInfo": {"kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2", "operatingSystem": "linux",
                                    "architecture": "amd64", "containerRuntimeVersion": "containerd://1.6.0",
                                    "osImage": "Container-Optimized OS", "kernelVersion": "5.15", "machineID": name,
                                    "systemUUID": name, "bootID": name}},
        }

    def _heartbeat(self) -> None:
        now = _stamp(micro=True)
        for name in self.nodes:
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": name, "namespace": "kube-node-lease"},
                     "spec": {"holderIdentity": name, "leaseDurationSeconds": NODE_LEASE_S, "renewTime": now}}
            self.kube.apply(f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}", lease, "kubelet")

    def _loop(self) -> None:
        beat = time.monotonic()
        while not self._stop.wait(self.every_s):
            try:
                if time.monotonic() - beat > HEARTBEAT_S:
                    self._heartbeat()
                    beat = time.monotonic()
                self.sync()
            except Exception as error:  # kept for the test that fails because of it; the loop goes on
                self.errors.append(repr(error))

    def sync(self) -> None:
        """One round of the kubelets' work (the thread does it every `every_s`)."""
        with self._lock:
            for pod in self.kube.list("/api/v1/pods"):
                node = pod["spec"].get("nodeName")
                if node in self.nodes:
                    self._sync_pod(pod, node)
            self._provision()

    def _state(self, pod: Object) -> PodState:
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        matches = [(len(prefix), state) for (ns, prefix), state in self._states.items()
                   if ns == namespace and name.startswith(prefix)]
        return max(matches, key=lambda match: match[0])[1] if matches else RUNNING

    def _held_pod(self, pod: Object) -> bool:
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        return any(ns == namespace and name.startswith(prefix) for ns, prefix in self._held)

    def _sync_pod(self, pod: Object, node: str) -> None:
        metadata = pod["metadata"]
        path = f"/api/v1/namespaces/{metadata['namespace']}/pods/{metadata['name']}"
        if metadata.get("deletionTimestamp"):
            if not self._held_pod(pod):  # containers stopped: the kubelet removes the pod
                try:
                    self.kube.delete(path, gracePeriodSeconds=0, preconditions={"uid": metadata["uid"]})
                except KubeError as error:
                    if error.status != 409:  # 409: a new pod of the same name replaced it meanwhile
                        raise
            return
        state = self._state(pod)
        if self._written.get(metadata["uid"]) == state:
            return
        ip = self._ips.setdefault(metadata["uid"], f"10.64.{len(self._ips) // 250}.{len(self._ips) % 250 + 2}")
        try:
            self.kube.patch(f"{path}/status", {"status": state.status(pod, ip, self.node_ips[node])})
        except KubeError as error:
            if error.status != 404:  # deleted meanwhile
                raise
        self._written[metadata["uid"]] = state

    def _provision(self) -> None:
        for claim in self.kube.list("/api/v1/persistentvolumeclaims"):
            if claim.get("status", {}).get("phase") != "Pending" or claim["spec"].get("volumeName"):
                continue
            metadata = claim["metadata"]
            volume: dict[str, Any] = {
                "apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": f"pvc-{metadata['uid']}"},
                "spec": {"capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
                         "accessModes": claim["spec"]["accessModes"], "persistentVolumeReclaimPolicy": "Retain",
                         "storageClassName": claim["spec"].get("storageClassName") or "",
                         "hostPath": {"path": f"/var/lib/volumes/{metadata['uid']}"},
                         "claimRef": {"namespace": metadata["namespace"], "name": metadata["name"],
                                      "uid": metadata["uid"]}},
            }
            try:
                self.kube.create("/api/v1/persistentvolumes", volume)
            except KubeError as error:
                if error.status != 409:
                    raise
