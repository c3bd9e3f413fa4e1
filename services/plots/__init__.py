"""`seedrl plot`: learning curves of run folders, read from their TensorBoard event files.

`runs` reads a run folder into arrays (no TensorFlow, no matplotlib); `curves` draws them.
"""

from __future__ import annotations


class PlotError(Exception):
    """A run that cannot be plotted, or an output that cannot be written; the message says which."""
