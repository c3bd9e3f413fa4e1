"""Per-slot exploration rates: Ape-X's epsilon ladder over however many env slots are leased.

Ape-X gives actor i of N the rate eps_i = base^(1 + alpha i / (N-1)) (0.4 and 7 in the
paper). Actors here come and go, so N is not known when a slot is leased. The learner
leases the lowest free slots first, so the leased slots are (nearly) 0..N-1 for any N;
slot s takes the position u_s = bit-reversal of s / 2^bits (the van der Corput
sequence: 0, 1/2, 1/4, 3/4, 1/8, ...), and any prefix 0..N-1 of slots spreads its
positions evenly over [0, 1), exactly {i / N} when N is a power of two.
"""

from __future__ import annotations

import numpy as np


def van_der_corput(count: int) -> np.ndarray:
    """Positions u_0..u_{count-1} in [0, 1): the base-2 van der Corput sequence -> [count] float64."""
    bits = max(1, (count - 1).bit_length())
    index = np.arange(count, dtype=np.int64)
    reversed_bits = np.zeros(count, np.int64)
    for bit in range(bits):
        reversed_bits |= ((index >> bit) & 1) << (bits - 1 - bit)
    return reversed_bits / float(1 << bits)


def apex_epsilon(position: np.ndarray | float, base: float = 0.4, alpha: float = 7.0) -> np.ndarray:
    """Ape-X's rate base^(1 + alpha u) at positions u in [0, 1]."""
    return np.power(base, 1.0 + alpha * np.asarray(position, np.float64))


def slot_epsilons(capacity: int, base: float = 0.4, alpha: float = 7.0) -> np.ndarray:
    """The exploration rate of each of `capacity` env slots -> [capacity] float32."""
    return apex_epsilon(van_der_corput(capacity), base, alpha).astype(np.float32)
