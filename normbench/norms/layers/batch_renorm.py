"""The Batch Renormalization layer (Ioffe 2017): the algorithm, its schedule and its keys are described in
normbench/norms/batch_renorm.py, which builds it.
"""

import torch
import torch.nn.functional as F

from normbench.norms.batch_renorm import RenormSchedule
from normbench.norms.layers.batch_family import BatchFamilyNorm
from normbench.norms.layers.hooks import ReportsScalars, TrainStepAware


class BatchRenorm(BatchFamilyNorm, TrainStepAware, ReportsScalars):
    def __init__(self, num_features: int, schedule: RenormSchedule, **options):
        super().__init__(num_features, **options)
        self.schedule = schedule
        self.rmax, self.dmax = schedule.limits(0, schedule.reference_steps)

    def on_train_step(self, step: int, max_steps: int) -> None:
        """Called by the trainer before every training forward: sets the clipping limits for this step."""
        self.rmax, self.dmax = self.schedule.limits(step, max_steps)

    def scalars(self, name: str) -> dict[str, float]:
        """The clipping limits now in force (one schedule for the whole model, so one pair of tags)."""
        return {"batch_renorm.rmax": float(self.rmax), "batch_renorm.dmax": float(self.dmax)}

    def _normalize(self, x: torch.Tensor, first: int, steps: int) -> torch.Tensor:
        weight, bias = self._affine(steps)
        running_mean, running_var = self._running(first, steps)
        if not self.training or running_mean is None:
            # Evaluation with running statistics, or batch statistics where there are none (r = 1, d = 0).
            return F.batch_norm(x, running_mean, running_var, weight, bias, running_mean is None, 0.0, self.eps)
        r, d = self._correction_and_update(x, running_mean, running_var)
        # γ(x̂·r + d) + β = (γr)·x̂ + (γd + β): the fused BN kernel with a corrected gain and shift; r and d
        # carry no gradient, γ and β still get theirs through the products.
        weight, bias = (r, d) if weight is None else (weight * r, torch.addcmul(bias, weight, d))
        return F.batch_norm(x, None, None, weight, bias, True, 0.0, self.eps)

    @torch.no_grad()
    def _correction_and_update(self, x: torch.Tensor, running_mean: torch.Tensor, running_var: torch.Tensor):
        """r and d from the batch and the running statistics before this batch, then the paper's EMA update."""
        # The fused BN kernel as the statistics pass (torch.var_mean over these axes is ~10x slower on CPU):
        # with momentum 1 its "running" outputs become the batch mean and the unbiased batch variance.
        batch_mean, batch_var = x.new_zeros(2, running_mean.shape[0]).unbind()
        F.batch_norm(x, batch_mean, batch_var, None, None, True, 1.0, self.eps)
        count = x.numel() // x.shape[1]
        batch_std = batch_var.mul_((count - 1) / count).add_(self.eps).sqrt_()  # σ_B, biased, with ε
        running_std = running_var.add(self.eps).sqrt_()
        r = torch.div(batch_std, running_std).clamp_(1.0 / self.rmax, self.rmax)
        d = torch.sub(batch_mean, running_mean).div_(running_std).clamp_(-self.dmax, self.dmax)
        running_mean.lerp_(batch_mean, self.momentum)
        torch.sub(running_std.lerp_(batch_std, self.momentum).square_(), self.eps, out=running_var)
        return r, d
