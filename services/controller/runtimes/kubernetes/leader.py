"""Leader election over a coordination.k8s.io Lease, so that one controller replica reconciles at a time.

The algorithm is client-go's (`tools/leaderelection`): a replica holds the Lease while it renews it
every `retry_period_s`; a Lease whose record has not changed for `lease_duration_s` (measured on this
replica's own clock since it last saw a change, so clocks need not agree) may be taken over; every
write is a PUT conditional on the resourceVersion that was read, so of two replicas racing for it one
wins and the other gets 409. A leader that could not renew for `renew_deadline_s` (shorter than the
lease) stops acting as leader before anyone else may take over. `release()` on shutdown hands the
Lease over at once.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from typing import Callable

from seedrl.controller.runtimes.kubernetes.api import AlreadyExistsError, ApiError, ClusterApi, ConflictError, Object
from seedrl.controller.runtimes.kubernetes.options import LeaderElection

log = logging.getLogger(__name__)


def _micro_time(moment: datetime) -> str:
    """A Kubernetes MicroTime (RFC 3339 with microseconds)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    """Acquires and renews one Lease for `identity`; `is_leader()` says whether to act now."""

    def __init__(self, api: ClusterApi, settings: LeaderElection, identity: str,
                 monotonic: Callable[[], float] = time.monotonic):
        self.api = api
        self.settings = settings
        self.identity = identity
        self._monotonic = monotonic
        self._renewed_at: float | None = None  # when this replica last wrote the Lease as its holder
        self._observed: tuple[object, ...] | None = None  # the other holder's record, as last seen
        self._observed_at = 0.0
        self.last_contact = 0.0  # when the API last answered (followers are ready while it does)

    def is_leader(self) -> bool:
        return self._renewed_at is not None and self._monotonic() - self._renewed_at < self.settings.renew_deadline_s

    def step(self) -> bool:
        """One attempt to acquire or renew; True if this replica holds the Lease now."""
        was_leader = self.is_leader()
        try:
            self._try_acquire_or_renew()
        except ApiError as error:
            log.warning("leader election: %s", error)
        leader = self.is_leader()
        if leader and not was_leader:
            log.info("%s leads: it holds Lease %s", self.identity, self.settings.lease_name)
        elif was_leader and not leader:
            log.warning("%s stopped leading (Lease %s lost, or not renewed for %.0fs)", self.identity,
                        self.settings.lease_name, self.settings.renew_deadline_s)
        return leader

    def _try_acquire_or_renew(self) -> bool:
        now, wall = self._monotonic(), datetime.now(timezone.utc)
        lease = self.api.get("Lease", self.settings.lease_name)
        self.last_contact = now
        if lease is None:
            try:
                self.api.create(self._lease(wall, wall, 0))
            except AlreadyExistsError:
                return False
            self._renewed_at = now
            return True
        spec = lease.get("spec", {})
        holder = spec.get("holderIdentity") or ""
        if holder != self.identity:
            self._renewed_at = None
            record = (holder, spec.get("renewTime"), spec.get("leaseDurationSeconds"), spec.get("leaseTransitions"))
            if record != self._observed:
                self._observed, self._observed_at = record, now
            if holder and now - self._observed_at < (spec.get("leaseDurationSeconds") or 0):
                return False  # held by a live leader
        transitions = spec.get("leaseTransitions", 0) + (holder != self.identity)
        acquired = wall if holder != self.identity else _parse(spec.get("acquireTime")) or wall
        update = self._lease(acquired, wall, transitions)
        update["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
        try:
            self.api.replace(update)
        except ConflictError:
            return False  # another replica wrote it first
        self._renewed_at = now
        return True

    def _lease(self, acquired: datetime, renewed: datetime, transitions: int) -> Object:
        return {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": self.settings.lease_name, "namespace": self.api.namespace},
            "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": self.settings.lease_duration_s,
                     "acquireTime": _micro_time(acquired), "renewTime": _micro_time(renewed),
                     "leaseTransitions": transitions},
        }

    def run(self, stop: threading.Event) -> None:
        """Acquire and renew until `stop` is set, then release."""
        while not stop.is_set():
            self.step()
            stop.wait(self.settings.retry_period_s)
        self.release()

    def release(self) -> None:
        """Give the Lease up (if held), so another replica takes over without waiting for it to expire."""
        if not self.is_leader():
            return
        self._renewed_at = None
        try:
            lease = self.api.get("Lease", self.settings.lease_name)
            if lease is None or lease["spec"].get("holderIdentity") != self.identity:
                return
            wall = datetime.now(timezone.utc)
            released = self._lease(wall, wall, lease["spec"].get("leaseTransitions", 0))
            released["spec"].update(holderIdentity=None, leaseDurationSeconds=1)
            released["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
            self.api.replace(released)
            log.info("%s released Lease %s", self.identity, self.settings.lease_name)
        except ApiError as error:
            log.warning("releasing Lease %s failed (%s); it expires in %ds", self.settings.lease_name, error,
                        self.settings.lease_duration_s)


def _parse(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
