"""A pickle reader that runs no code: only the globals needed to rebuild numpy arrays are allowed (the
CIFAR python batches hold dicts, lists, strings, numbers and uint8 arrays, nothing else). Anything else
a pickle asks for (os.system, builtins.eval, any class) is refused before it is called (Python's
"Restricting Globals")."""

import codecs
import pickle
from pathlib import Path

import numpy as np

from normbench.errors import ConfigError


def _numpy_globals() -> dict:
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray, numeric
    reconstruct = multiarray._reconstruct
    # _codecs.encode: how a protocol-2 pickle written by python 3 spells bytes (an array's raw data).
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype, ("_codecs", "encode"): codecs.encode}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # pickles name whichever numpy wrote them
        allowed[(module, "_reconstruct")] = reconstruct
        allowed[(module, "scalar")] = multiarray.scalar
    for module in ("numpy.core.numeric", "numpy._core.numeric"):  # arrays in protocol-5 pickles
        allowed[(module, "_frombuffer")] = numeric._frombuffer
    return allowed


class ArraysOnlyUnpickler(pickle.Unpickler):
    _allowed = None

    def find_class(self, module: str, name: str):
        if ArraysOnlyUnpickler._allowed is None:
            ArraysOnlyUnpickler._allowed = _numpy_globals()
        found = ArraysOnlyUnpickler._allowed.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"it asks for {module}.{name}, which a data file has no use for")
        return found

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("it asks for a persistent object, which a data file has no use for")


def load_arrays_pickle(path: Path, what: str):
    """The object in the pickle at `path` (read with encoding="latin1", as the python-2 CIFAR files need);
    a ConfigError in one line if it cannot be read or would run code."""
    try:
        with open(path, "rb") as handle:
            return ArraysOnlyUnpickler(handle, encoding="latin1").load()
    except pickle.UnpicklingError as error:
        raise ConfigError(f"{path} was not loaded: {' '.join(str(error).split())}; expected {what} "
                          f"(a pickle that would run code is refused)") from None
    except (OSError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as error:
        text = " ".join(str(error).split())
        raise ConfigError(f"{path} is not a readable pickle ({type(error).__name__}: {text}); "
                          f"expected {what}") from None
