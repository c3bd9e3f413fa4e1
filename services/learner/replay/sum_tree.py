"""A sum tree over priorities: batched updates and batched proportional sampling.

Leaves hold non-negative priorities; each inner node holds the sum of its two
children, so the root is the total. Sampling draws `u ~ U[0, total)` and walks down
from the root, going right whenever `u` is past the left child's sum: item `i` is
drawn with probability `p_i / sum_j p_j`. Both updates and sampling handle a whole
batch per tree level with numpy (log2(capacity) vector operations), never a Python
loop per item.
"""

from __future__ import annotations

import numpy as np


class SumTree:
    """Priorities of `capacity` items (all 0 at first) in a complete binary tree.

    The tree is an array of 2L float64 nodes for L = capacity rounded up to a power of
    two: node 1 is the root, node k's children are 2k and 2k+1, leaves are L..2L-1.
    """

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._leaves = 1 << max(0, (capacity - 1).bit_length())
        self._depth = self._leaves.bit_length() - 1
        self._nodes = np.zeros(2 * self._leaves, np.float64)

    @property
    def total(self) -> float:
        return float(self._nodes[1])

    def get(self, indices: np.ndarray) -> np.ndarray:
        """Priorities of `indices` [n] -> [n] float64."""
        return self._nodes[self._leaves + np.asarray(indices)]

    def set(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        """Set the priorities of items `indices` [n] to `priorities` [n] (>= 0); a repeated index keeps its last."""
        indices = np.asarray(indices, np.int64)
        priorities = np.asarray(priorities, np.float64)
        if indices.shape != priorities.shape or indices.ndim != 1:
            raise ValueError(f"indices {indices.shape} and priorities {priorities.shape} must be equal 1-D shapes")
        if len(indices) and (indices.min() < 0 or indices.max() >= self.capacity):
            raise IndexError(f"indices must be in [0, {self.capacity})")
        if not np.all(priorities >= 0) or not np.all(np.isfinite(priorities)):
            raise ValueError("priorities must be finite and >= 0")
        nodes = self._nodes
        nodes[self._leaves + indices] = priorities  # numpy assigns repeated indices in order: the last wins
        parents = np.unique((self._leaves + indices) >> 1)
        for _ in range(self._depth):
            nodes[parents] = nodes[2 * parents] + nodes[2 * parents + 1]
            parents = np.unique(parents >> 1)

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """`count` item indices drawn independently with probability proportional to priority -> [count] int64."""
        total = self.total
        if total <= 0:
            raise ValueError("cannot sample from a sum tree whose priorities are all 0")
        return self.find(rng.random(count) * total)

    def find(self, prefix_sums: np.ndarray) -> np.ndarray:
        """The items whose priority interval holds each of `prefix_sums` [n] (in [0, total)) -> [n] int64.

        Item i owns [sum_{j<i} p_j, sum_{j<=i} p_j). A child whose subtree sums to 0 is
        never entered, so rounding cannot reach an item of priority 0.
        """
        nodes = self._nodes
        u = np.array(prefix_sums, np.float64)
        index = np.ones(len(u), np.int64)
        for _ in range(self._depth):
            left = 2 * index
            left_sum = nodes[left]
            go_right = (u >= left_sum) & (nodes[left + 1] > 0) | (left_sum <= 0)
            u -= np.where(go_right, left_sum, 0.0)
            index = left + go_right
        return index - self._leaves
