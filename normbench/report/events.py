"""TensorBoard event files: every scalar (no downsampling), the run's hparams, and an integrity check.

Only used for runs without metrics.csv (older runs, other tools). TensorBoard's own loader stops
silently at a damaged record, so each file's records are first checked (length and CRC framing) and a
damaged file is reported, never read as a shorter run.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class CorruptEventFile(Exception):
    pass


@dataclass
class EventData:
    scalars: dict[str, tuple[np.ndarray, np.ndarray]]  # tag -> (steps, values), ascending steps
    hparams: dict[str, object]  # empty if the run logged none


def check_event_file(path: Path) -> int:
    """Count the records of an event file, verifying every length and CRC; raise CorruptEventFile."""
    from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow

    reader = pywrap_tensorflow.PyRecordReader_New(str(path), 0, None, None)
    records = 0
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:  # clean end of file
            return records
        except errors.DataLossError as error:
            detail = str(error.message).replace(str(path), "file")
            raise CorruptEventFile(f"{path.name}: damaged record after {records} good ones ({detail})") from None
        except Exception as error:  # a file that is not a record file at all
            raise CorruptEventFile(
                f"{path.name}: not a TensorBoard event file ({type(error).__name__}: {error})") from None
        records += 1


def read_events(run_dir: Path, event_files: list[Path]) -> EventData:
    """All scalars of a run directory's event files (resumed runs' purges applied by TensorBoard)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for path in event_files:
        if check_event_file(path) == 0:
            raise CorruptEventFile(f"{path.name}: empty event file")
    # size_guidance 0 = keep everything: the default keeps a 10,000-point reservoir sample per tag.
    accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    scalars = {}
    for tag in accumulator.Tags()["scalars"]:
        events = accumulator.Scalars(tag)
        steps = np.fromiter((event.step for event in events), dtype=np.int64, count=len(events))
        values = np.fromiter((event.value for event in events), dtype=np.float64, count=len(events))
        order = np.argsort(steps, kind="stable")
        scalars[tag] = (steps[order], values[order])
    return EventData(scalars, _hparams(accumulator))


def _hparams(accumulator) -> dict[str, object]:
    from tensorboard.plugins.hparams import plugin_data_pb2

    try:
        raw = accumulator.PluginTagToContent("hparams").get("_hparams_/session_start_info")
    except KeyError:  # the run logged no hparams
        return {}
    if raw is None:
        return {}
    hparams = plugin_data_pb2.HParamsPluginData.FromString(raw).session_start_info.hparams
    return {name: _value(value) for name, value in hparams.items()}


def _value(value):
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        return int(number) if math.isfinite(number) and number.is_integer() else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None
