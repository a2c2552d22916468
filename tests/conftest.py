"""Test-suite settings, loaded before numba is imported (benchmarks/ does not load them).

- Four kernel threads even on a 2-core machine, so thread-count independence is really tested.
- Hypothesis: no deadline (the first example of a kernel includes its compilation); in CI a
  derandomized profile so a red build is reproducible.
"""

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "4")

from hypothesis import settings

settings.register_profile("dev", deadline=None, max_examples=40)
settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
