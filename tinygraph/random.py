"""One seeded source of randomness for initialization and dropout.

Every random number tinygraph draws (``tinygraph.nn.init``, dropout masks)
comes from one numpy ``Generator``. ``manual_seed(n)`` replaces it with a
freshly seeded one, so a script that seeds once at the top is reproducible.
Without a seed, the generator starts from fresh operating-system entropy,
as numpy's does.
"""

from __future__ import annotations

import numpy as np

_generator: np.random.Generator = np.random.default_rng()
_seed: int | None = None


def manual_seed(seed: int) -> np.random.Generator:
    """Seed tinygraph's random source (initializers and dropout); returns the new generator.

    >>> from tinygraph.random import manual_seed, generator
    >>> _ = manual_seed(0); a = generator().random()
    >>> _ = manual_seed(0); b = generator().random()
    >>> a == b
    True
    """
    global _generator, _seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be non-negative, got {seed}")
    _seed = int(seed)
    _generator = np.random.default_rng(_seed)
    return _generator


def initial_seed() -> int | None:
    """The seed last given to `manual_seed`, or None if it was never called.

    >>> from tinygraph.random import manual_seed, initial_seed
    >>> _ = manual_seed(7); initial_seed()
    7
    """
    return _seed


def generator() -> np.random.Generator:
    """The shared numpy Generator that initializers and dropout draw from.

    >>> from tinygraph.random import manual_seed, generator
    >>> _ = manual_seed(1)
    >>> generator().standard_normal(2).shape
    (2,)
    """
    return _generator
