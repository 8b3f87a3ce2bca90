"""The run's TensorBoard event file: one sink of its MetricsLog (normbench/rundir/metrics_log.py).

HParams (TensorBoard's own plugin protos, tensorboard.plugins.hparams): the session start info holds every
hyperparameter that identifies the run (normbench.rundir.identity.run_hparams), written when the run starts;
the session end info holds its status, written when it ends: STATUS_SUCCESS for a completed run,
STATUS_FAILURE for a diverged or failed one; an interrupted run writes none (its next attempt ends it). The
final metrics (`hparam/final_*`) are scalars at the run's last step.

No experiment summary (`_hparams_/experiment`) is written: TensorBoard takes the first one it finds in any
run as the whole experiment, so one run's summary would fix every column's domain to that run's values and
mark none of them as differing (what torch's `add_hparams` does, pytorch #32651). Without one, TensorBoard
derives the experiment from all runs' session start infos: strings and bools (Enums are logged by name) get
the discrete domain of the values seen, numbers the interval they span, and every column whose values differ
across the runs shown is marked `differs` and shown. That stays right when runs of several sweeps, with
different options and keys, share one log directory.
"""

import time

from normbench.rundir.contract import COMPLETED, DIVERGED, FAILED

_STATUS_NAMES = {COMPLETED: "STATUS_SUCCESS", DIVERGED: "STATUS_FAILURE", FAILED: "STATUS_FAILURE"}


class TensorBoardSink:
    def __init__(self, run_dir, hparams: dict, purge_step: int | None = None):
        from tensorboard.plugins.hparams import summary_v2
        from torch.utils.tensorboard import SummaryWriter

        # A large queue and explicit flushes at eval points and checkpoints: short or killed runs lose nothing
        # logged before them.
        self.writer = SummaryWriter(log_dir=str(run_dir), max_queue=1000, flush_secs=30, purge_step=purge_step)
        self.writer.file_writer.add_summary(summary_v2.hparams_pb(hparams))

    def scalars(self, points) -> None:
        for step, tag, value, wall_time in points:
            self.writer.add_scalar(tag, value, step, walltime=wall_time)

    def finish(self, status: str, metrics: dict, step: int) -> None:
        if status in _STATUS_NAMES:
            self.writer.file_writer.add_summary(session_end_summary(_STATUS_NAMES[status]), step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def session_end_summary(status_name: str, end_time_secs: float | None = None):
    """The HParams plugin's session end info (its `summary.session_end_pb` needs TensorFlow; this does not)."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionEndInfo(status=api_pb2.Status.Value(status_name),
                                          end_time_secs=time.time() if end_time_secs is None else end_time_secs)
    summary = summary_pb2.Summary()
    summary.value.add(tag=metadata.SESSION_END_INFO_TAG, tensor=metadata.NULL_TENSOR,
                      metadata=metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(session_end_info=info)))
    return summary
