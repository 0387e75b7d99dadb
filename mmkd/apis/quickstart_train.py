"""Training one quickstart stage the way ``tools/train.py`` does."""
import contextlib
import copy
import functools
import gc
import os.path as osp
import time
from typing import Callable, Dict, Optional

from mmengine.config import Config

from .quickstart_results import StageResult

__all__ = ['train_stage', 'collect_env_once']


class _CachedTextConfig(Config):
    """A Config whose ``pretty_text`` is formatted once per content.

    mmengine formats the whole config with yapf every time it logs, dumps
    or checkpoints it (five times per run, about a second each on a small
    CPU); the quickstart runs several short trainings in one process, so it
    caches the text, keyed by the config's content (a changed config gets a
    fresh text).
    """
    _pretty_cache: Dict[str, str] = {}

    @property
    def pretty_text(self) -> str:
        key = repr(self.to_dict())
        text = self._pretty_cache.get(key)
        if text is None:
            text = super().pretty_text
            if len(self._pretty_cache) > 64:
                self._pretty_cache.clear()
            self._pretty_cache[key] = text
        return text


@contextlib.contextmanager
def collect_env_once():
    """Collect the environment info mmengine logs once per process, not
    once per runner (it shells out to compilers; seconds on a small CPU)."""
    from mmengine.runner import runner as runner_module
    original = runner_module.collect_env
    runner_module.collect_env = functools.lru_cache(maxsize=1)(original)
    try:
        yield
    finally:
        runner_module.collect_env = original


def _final_metrics(runner) -> Dict[str, float]:
    hub = runner.message_hub
    metrics = {}
    for name in ('mIoU', 'mAcc', 'aAcc'):
        key = f'val/{name}'
        if key in hub.log_scalars:
            metrics[name] = float(hub.get_scalar(key).current())
    if 'mIoU' not in metrics:
        raise RuntimeError(
            f'{runner.experiment_name}: no validation mIoU was logged; the '
            f'config must validate at the end of training')
    return metrics


def train_stage(stage: str,
                cfg: Config,
                final_metrics: Optional[Callable] = None,
                check_data: Optional[Callable] = None) -> StageResult:
    """Train (and validate) one config with mmengine's Runner.

    The same path as ``tools/train.py``: dataset check, then
    ``Runner.from_cfg(cfg).train()``; the final validation metrics are
    read from the runner's message hub.

    Args:
        stage (str): Name of the stage (for messages).
        cfg (Config): The stage's config.
        final_metrics (callable, optional): ``runner -> dict`` of the final
            validation metrics; defaults to the segmentation ones (mIoU).
        check_data (callable, optional): ``cfg -> None``, raising when the
            data is missing; defaults to the segmentation check.
    """
    from mmengine.runner import Runner

    from mmkd.utils.data_check import check_datasets

    (check_data or check_datasets)(cfg)
    start = time.time()
    if type(cfg) is Config:
        cfg = copy.deepcopy(cfg)
        object.__setattr__(cfg, '__class__', _CachedTextConfig)
    runner = Runner.from_cfg(cfg)
    try:
        runner.train()
        metrics = (final_metrics or _final_metrics)(runner)
        work_dir, log_dir = runner.work_dir, runner.log_dir
        max_iters = runner.max_iters
    finally:
        # Close the runner's log file; the next stage gets its own.
        for handler in list(runner.logger.handlers):
            if hasattr(handler, 'baseFilename'):
                handler.close()
                runner.logger.removeHandler(handler)
        del runner
        gc.collect()
    last = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            checkpoint = f.read().strip()
    else:
        checkpoint = osp.join(work_dir, f'iter_{max_iters}.pth')
    if not osp.isfile(checkpoint):
        raise RuntimeError(f'{stage}: no checkpoint at {checkpoint}')
    return StageResult(
        stage=stage,
        config=cfg.filename,
        work_dir=work_dir,
        checkpoint=checkpoint,
        metrics=metrics,
        log_dir=log_dir,
        max_iters=max_iters,
        train_time_s=time.time() - start)
