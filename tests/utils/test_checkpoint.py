"""Safe (weights-only) checkpoint loading and atomic saving.

A real mmengine runner checkpoint is produced once per module (tiny model,
2 CPU iterations, CheckpointHook interval 1, a validation metric returning a
numpy scalar as mmseg's IoUMetric does).  The state *without* mmkd is checked
in a subprocess, since ``add_safe_globals`` is process-global.
"""
import argparse
import io
import json
import os
import os.path as osp
import pickle
import shlex
import shutil
import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.fileio import get_file_backend
from mmengine.fileio import io as fileio_io
from mmengine.fileio.backends import LocalBackend
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import CheckpointLoader, Runner
from mmengine.runner import checkpoint as mmengine_ckpt
from torch.utils.data import Dataset

from mmkd.utils import (SAFE_CHECKPOINT_GLOBAL_NAMES, SAFE_CHECKPOINT_GLOBALS,
                        AtomicLocalBackend, UnsafeCheckpointError,
                        atomic_torch_save, install_safe_checkpoint_loading,
                        safe_load)
from mmkd.utils import atomic_backends, safe_loading

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NP_CORE = 'numpy._core' if int(np.__version__.split('.')[0]) >= 2 \
    else 'numpy.core'
# The pickle GLOBALs of a runner checkpoint beyond torch's defaults.
RUNNER_CKPT_GLOBALS = {
    'mmengine.logging.history_buffer.HistoryBuffer',
    # HistoryBuffer.__getstate__ adds its statistics methods, pickled as
    # getattr(HistoryBuffer, 'min') etc.
    'builtins.getattr',
    'numpy.ndarray',
    'numpy.dtype',
    f'{NP_CORE}.multiarray._reconstruct',
    f'{NP_CORE}.multiarray.scalar',  # from the metric's np.float64
}
MMENGINE_PREFIXES = ('', 'http://', 'https://', 'modelzoo://',
                     'torchvision://', 'open-mmlab://', 'openmmlab://',
                     'mmcls://', 'pavi://', r'(\S+\:)?s3://',
                     r'(\S+\:)?petrel://')


def _run_python(code, *args):
    env = dict(os.environ)
    env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO_ROOT] + [p for p in [env.get('PYTHONPATH')] if p])
    return subprocess.run([sys.executable, '-c',
                           textwrap.dedent(code), *map(str, args)],
                          capture_output=True, text=True, env=env,
                          cwd=REPO_ROOT, timeout=120)


@pytest.fixture(scope='module', autouse=True)
def _installed():
    install_safe_checkpoint_loading()


# ---------------------------------------------------------------------------
# A tiny mmengine runner
# ---------------------------------------------------------------------------


class _ToyDataset(Dataset):
    # like mmseg datasets: the runner saves it as meta['dataset_meta']
    metainfo = dict(classes=('bg', 'fg'), palette=[[0, 0, 0], [255, 0, 0]])

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        gen = torch.Generator().manual_seed(idx)
        return dict(
            inputs=torch.randn(2, generator=gen),
            data_samples=torch.randn(1, generator=gen))


class _ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.bn = nn.BatchNorm1d(1)  # buffers incl. an int64 counter

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.bn(self.linear(inputs))
        if mode == 'loss':
            return dict(loss=(out - data_samples).pow(2).mean())
        return out


class _ToyMetric(BaseMetric):
    default_prefix = 'toy'

    def process(self, data_batch, data_samples):
        self.results.append(len(data_samples))

    def compute_metrics(self, results):
        # mmseg's IoUMetric returns numpy scalars like this one
        return dict(acc=np.round(np.float64(0.5), 2))


def _make_runner(work_dir, max_iters, **kwargs):
    loader = dict(
        dataset=_ToyDataset(),
        sampler=dict(type='DefaultSampler', shuffle=False),
        batch_size=4,
        num_workers=0,
        collate_fn=dict(type='default_collate'))
    return Runner(
        model=_ToyModel(),
        work_dir=str(work_dir),
        experiment_name=f'mmkd_ckpt_{uuid.uuid4().hex}',
        train_dataloader=loader,
        val_dataloader=loader,
        val_evaluator=[_ToyMetric()],
        val_cfg=dict(),
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=1),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1],
                             by_epoch=False),
        default_hooks=dict(
            checkpoint=dict(
                type='CheckpointHook',
                interval=1,
                by_epoch=False,
                save_best='toy/acc',
                rule='greater'),
            logger=dict(type='LoggerHook', interval=1)),
        log_processor=dict(by_epoch=False),
        default_scope='mmengine',
        log_level='WARNING',
        **kwargs)


@pytest.fixture(scope='module')
def runner_ckpt(tmp_path_factory):
    """Train 2 iterations; returns (work_dir, iter_2.pth, atomic writes)."""
    work_dir = tmp_path_factory.mktemp('runner')
    writes = []
    real_write = atomic_backends.atomic_write_bytes

    def spy(data, filepath):
        writes.append(os.fspath(filepath))
        return real_write(data, filepath)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(atomic_backends, 'atomic_write_bytes', spy)
        runner = _make_runner(work_dir, max_iters=2)
        runner.train()
    ckpt = work_dir / 'iter_2.pth'
    assert ckpt.is_file()
    return work_dir, ckpt, writes


def test_runner_checkpoint_fails_without_mmkd(runner_ckpt):
    """Before mmkd: mmengine cannot load its own checkpoint on torch>=2.6."""
    _, ckpt, _ = runner_ckpt
    proc = _run_python(
        """
        import json, pickle, sys
        import torch
        from mmengine.runner.checkpoint import _load_checkpoint
        path = sys.argv[1]
        out = dict(unsafe=sorted(
            torch.serialization.get_unsafe_globals_in_checkpoint(path)))
        for name, load in [
                ('torch', lambda: torch.load(path, weights_only=True)),
                ('mmengine', lambda: _load_checkpoint(path, 'cpu'))]:
            try:
                load()
                out[name] = 'loaded'
            except pickle.UnpicklingError as e:
                out[name] = type(e).__name__
        out['mmkd_imported'] = any(m.startswith('mmkd') for m in sys.modules)
        print(json.dumps(out))
        """, ckpt)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out['mmkd_imported'] is False
    assert out['torch'] == 'UnpicklingError'
    assert out['mmengine'] == 'UnpicklingError'
    # exactly what mmengine carries, and all of it allow-listed
    assert set(out['unsafe']) == RUNNER_CKPT_GLOBALS
    assert set(out['unsafe']) <= SAFE_CHECKPOINT_GLOBAL_NAMES


def test_allow_list_is_exactly_mmengine_types():
    pickled = {
        n
        for n in SAFE_CHECKPOINT_GLOBAL_NAMES
        if not n.startswith('numpy.dtypes.')
    }
    other_core = 'numpy.core' if NP_CORE == 'numpy._core' else 'numpy._core'
    # + the other numpy major's names of the same two functions
    assert pickled == RUNNER_CKPT_GLOBALS | {
        f'{other_core}.multiarray._reconstruct',
        f'{other_core}.multiarray.scalar'
    }
    dtype_classes = [g for g in SAFE_CHECKPOINT_GLOBALS
                     if isinstance(g, type) and g.__module__ == 'numpy.dtypes']
    assert type(np.dtype('float64')) in dtype_classes
    assert type(np.dtype('int64')) in dtype_classes
    assert type(np.dtype('O')) not in dtype_classes  # no object arrays
    safe = torch.serialization.get_safe_globals()
    assert all(g in safe for g in SAFE_CHECKPOINT_GLOBALS)


def test_runner_checkpoint_loads_after_install(runner_ckpt):
    work_dir, ckpt, writes = runner_ckpt
    assert torch.serialization.get_unsafe_globals_in_checkpoint(
        str(ckpt)) == []
    state = safe_load(ckpt)
    assert state['meta']['iter'] == 2
    buffers = state['message_hub']['log_scalars']
    buf = buffers['train/loss']
    assert type(buf).__name__ == 'HistoryBuffer'
    assert isinstance(buf._log_history, np.ndarray)
    assert len(buf._log_history) == 2
    assert buf.mean() == pytest.approx(float(np.mean(buf._log_history)))
    assert buf.statistics('max') == buf.max()
    assert HistoryBuffer._statistics_methods['mean'] is HistoryBuffer.mean
    best = state['message_hub']['runtime_info']['best_score']
    assert isinstance(best, np.float64) and best == 0.5
    assert 'state_dict' in state and 'optimizer' in state
    # CheckpointHook's writes went through the atomic backend
    for name in ('iter_1.pth', 'iter_2.pth', 'best_toy_acc_iter_1.pth'):
        assert str(work_dir / name) in writes


def test_runner_resume_after_install(runner_ckpt, tmp_path):
    _, ckpt, _ = runner_ckpt
    runner = _make_runner(
        tmp_path, max_iters=3, resume=True, load_from=str(ckpt))
    runner.train()
    assert runner.iter == 3
    hub = runner.message_hub
    assert hub.get_info('best_score') == 0.5
    assert len(hub.get_scalar('train/loss')._log_history) == 3
    # load_from (weights only) and mmengine's load_checkpoint work too
    state = mmengine_ckpt.load_checkpoint(_ToyModel(), str(ckpt))
    assert state['meta']['iter'] == 2
    runner.load_checkpoint(str(ckpt))


# ---------------------------------------------------------------------------
# Refusing pickled code
# ---------------------------------------------------------------------------


class _RunsShell:
    """Unpickling this runs a shell command (creates ``marker``)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f'touch {shlex.quote(self.marker)}', ))


class _Getattr:
    """Pickles as ``builtins.getattr(obj, name)``."""

    def __init__(self, obj, name):
        self.obj, self.name = obj, name

    def __reduce__(self):
        return (getattr, (self.obj, self.name))


def _a_function(x):
    return x


def _ckpt_with(payload):
    return {'state_dict': {'w': torch.ones(2)}, 'payload': payload}


def _payloads(marker):
    fn = f'{_a_function.__module__}.{_a_function.__qualname__}'
    return {
        'os.system': (_RunsShell(marker), f'{os.system.__module__}.system'),
        'function': (_a_function, fn),
        'class': (argparse.Namespace(lr=0.1), 'argparse.Namespace'),
        # builtins.getattr is only allowed for HistoryBuffer's statistics
        'getattr': (_Getattr(HistoryBuffer, '__init__'),
                    'builtins.getattr(mmengine.logging.history_buffer.'
                    "HistoryBuffer, '__init__')"),
        'getattr_ndarray': (_Getattr(np.ndarray, 'tofile'),
                            "builtins.getattr(numpy.ndarray, 'tofile')"),
    }


def _check_refusal(err, name, source):
    msg = str(err.value)
    assert isinstance(err.value, pickle.UnpicklingError)
    assert name in err.value.unsafe_globals
    assert name in msg
    assert str(source) in msg
    assert 'arbitrary code' in msg
    assert 'torch.serialization.add_safe_globals' in msg
    assert 'state_dict' in msg  # how to re-save a trusted file


@pytest.mark.parametrize(
    'kind', ['os.system', 'function', 'class', 'getattr', 'getattr_ndarray'])
def test_pickled_code_is_refused(kind, tmp_path):
    marker = tmp_path / 'pwned'
    payload, name = _payloads(marker)[kind]
    path = tmp_path / 'evil.pth'
    torch.save(_ckpt_with(payload), path)
    with pytest.raises(UnsafeCheckpointError) as err:
        safe_load(path)
    _check_refusal(err, name, path)
    # through mmengine's own API as well
    with pytest.raises(UnsafeCheckpointError):
        mmengine_ckpt.load_checkpoint(nn.Linear(2, 2), str(path))
    assert not marker.exists()


def test_payload_is_live_without_weights_only(tmp_path):
    """The os.system payload really runs when unpickled unrestricted (so
    the refusals above are meaningful)."""
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save(_ckpt_with(_RunsShell(marker)), path)
    with pytest.raises(UnsafeCheckpointError):
        safe_load(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # runs `touch marker`
    assert marker.exists()


def test_missing_local_file(tmp_path):
    path = tmp_path / 'teacher.pth'
    with pytest.raises(FileNotFoundError) as err:
        safe_load(path)
    assert str(path) in str(err.value)
    assert 'model.teacher_checkpoint' in str(err.value)


# ---------------------------------------------------------------------------
# Loader schemes
# ---------------------------------------------------------------------------


def test_all_schemes_reregistered_idempotently():
    schemes = CheckpointLoader._schemes
    for prefix in MMENGINE_PREFIXES:
        assert getattr(schemes[prefix], '_mmkd_safe_loader', False), prefix
    before = dict(schemes)
    install_safe_checkpoint_loading()
    install_safe_checkpoint_loading()
    assert dict(CheckpointLoader._schemes) == before
    assert CheckpointLoader._get_checkpoint_loader(
        'https://x/y.pth') is safe_loading.load_from_http


@pytest.fixture
def fake_download(monkeypatch, tmp_path):
    """No network: serve local files for URLs, cache in a temp hub dir."""
    served = {}

    def download_url_to_file(url, dst, hash_prefix=None, progress=True):
        served.setdefault('urls', []).append(url)
        shutil.copyfile(served.get(url, served.get('*')), dst)

    monkeypatch.setattr(torch.hub, 'download_url_to_file',
                        download_url_to_file)
    monkeypatch.setattr(torch.hub, '_hub_dir', str(tmp_path / 'hub'))
    return served


def test_http_loader_is_weights_only(fake_download, tmp_path):
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': {'w': torch.arange(3)}}, good)
    fake_download['https://example.invalid/good.pth'] = str(good)
    state = safe_load('https://example.invalid/good.pth')
    assert state['state_dict']['w'].tolist() == [0, 1, 2]

    marker = tmp_path / 'pwned'
    evil = tmp_path / 'evil_src.pth'
    torch.save(_ckpt_with(_RunsShell(marker)), evil)
    url = 'https://example.invalid/evil.pth'
    fake_download[url] = str(evil)
    with pytest.raises(UnsafeCheckpointError) as err:
        safe_load(url)
    _check_refusal(err, f'{os.system.__module__}.system', url)
    assert not marker.exists()

    # open-mmlab:// (and torchvision://, mmcls://) go through it too
    fake_download['*'] = str(evil)
    with pytest.raises(UnsafeCheckpointError):
        safe_load('open-mmlab://resnet50_v1c')
    assert fake_download['urls'][-1].startswith('https://')
    assert not marker.exists()


def test_mmengine_http_loader_alone_runs_the_payload(fake_download,
                                                     tmp_path):
    """Why the http loader is replaced rather than only wrapped: mmengine's
    goes through torch.hub.load_state_dict_from_url(weights_only=False)."""
    marker = tmp_path / 'pwned'
    evil = tmp_path / 'evil_src.pth'
    torch.save(_ckpt_with(_RunsShell(marker)), evil)
    fake_download['*'] = str(evil)
    mmengine_ckpt.load_from_http('https://example.invalid/e.pth')  # original
    assert marker.exists()


def test_foreign_loader_errors_are_translated(monkeypatch, tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(_ckpt_with(argparse.Namespace()), path)

    def load_from_toy(filename, map_location=None):
        return torch.load(filename[len('toy://'):], map_location)

    monkeypatch.setattr(CheckpointLoader, '_schemes',
                        type(CheckpointLoader._schemes)(
                            CheckpointLoader._schemes))
    CheckpointLoader.register_scheme('toy://', load_from_toy)
    install_safe_checkpoint_loading()
    with pytest.raises(UnsafeCheckpointError) as err:
        safe_load(f'toy://{path}')
    assert 'argparse.Namespace' in str(err.value)


# ---------------------------------------------------------------------------
# Atomic saving
# ---------------------------------------------------------------------------


class _DiesMidWrite:
    """A file object that writes half of the data, then fails."""

    def __init__(self, f):
        self._f = f

    def write(self, data):
        self._f.write(bytes(data)[:len(data) // 2])
        self._f.flush()
        raise OSError(28, 'No space left on device (simulated)')

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


def _die_mid_write(monkeypatch):
    real_fdopen = os.fdopen
    monkeypatch.setattr(
        os, 'fdopen', lambda *a, **k: _DiesMidWrite(real_fdopen(*a, **k)))


def test_atomic_torch_save_crash_keeps_previous(monkeypatch, tmp_path):
    target = tmp_path / 'ckpt.pth'
    atomic_torch_save({'v': torch.tensor([1.0])}, target)
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's

    real_save = torch.save

    def crashing_save(obj, f, **kwargs):
        buf = io.BytesIO()
        real_save(obj, buf)
        f.write(buf.getvalue()[:buf.tell() // 2])
        raise RuntimeError('simulated crash mid-write')

    monkeypatch.setattr(torch, 'save', crashing_save)
    with pytest.raises(RuntimeError, match='mid-write'):
        atomic_torch_save({'v': torch.tensor([2.0])}, target)
    with pytest.raises(RuntimeError, match='mid-write'):
        atomic_torch_save({'v': torch.tensor([2.0])}, tmp_path / 'new.pth')
    monkeypatch.undo()

    assert sorted(os.listdir(tmp_path)) == ['ckpt.pth']  # no temp files
    assert torch.load(target, weights_only=True)['v'].item() == 1.0


def test_mmengine_save_checkpoint_is_atomic(monkeypatch, tmp_path):
    target = str(tmp_path / 'sub' / 'iter_1.pth')
    assert isinstance(get_file_backend(target), AtomicLocalBackend)

    # a local backend cached before install is replaced by install
    fileio_io.backend_instances[':{}'] = LocalBackend()
    install_safe_checkpoint_loading()
    assert isinstance(
        get_file_backend(target, enable_singleton=True), AtomicLocalBackend)

    writes = []
    real_write = atomic_backends.atomic_write_bytes
    monkeypatch.setattr(atomic_backends, 'atomic_write_bytes',
                        lambda d, p: (writes.append(p), real_write(d, p)))
    mmengine_ckpt.save_checkpoint({'state_dict': {'w': torch.ones(1)}},
                                  target)
    # the deprecated FileClient path as well
    mmengine_ckpt.save_checkpoint({'state_dict': {'w': torch.ones(1)}},
                                  target,
                                  file_client_args=dict(backend='disk'))
    assert writes == [target, target]
    assert safe_load(target)['state_dict']['w'].item() == 1.0

    _die_mid_write(monkeypatch)
    with pytest.raises(OSError, match='simulated'):
        mmengine_ckpt.save_checkpoint({'state_dict': {'w': torch.zeros(1)}},
                                      target)
    with pytest.raises(OSError, match='simulated'):
        mmengine_ckpt.save_checkpoint({'state_dict': {'w': torch.zeros(1)}},
                                      str(tmp_path / 'sub' / 'iter_2.pth'))
    monkeypatch.undo()
    assert os.listdir(tmp_path / 'sub') == ['iter_1.pth']
    assert safe_load(target)['state_dict']['w'].item() == 1.0


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs os.fork')
def test_killed_mid_write_never_truncates(tmp_path):
    """A process killed mid-write (no except/finally runs) leaves the
    previous file intact under the final name; only a stray temp file."""
    target = tmp_path / 'ckpt.pth'
    atomic_torch_save({'v': torch.tensor([1.0])}, target)
    pid = os.fork()
    if pid == 0:  # child: die halfway through writing the new checkpoint
        try:
            real_fdopen = os.fdopen

            class Dies(_DiesMidWrite):

                def write(self, data):
                    self._f.write(bytes(data)[:len(data) // 2])
                    self._f.flush()
                    os._exit(3)

            os.fdopen = lambda *a, **k: Dies(real_fdopen(*a, **k))
            AtomicLocalBackend().put(b'x' * 100000, str(target))
        finally:
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 3
    assert torch.load(target, weights_only=True)['v'].item() == 1.0
    leftovers = [n for n in os.listdir(tmp_path) if n != 'ckpt.pth']
    assert len(leftovers) == 1
    assert leftovers[0].startswith('.ckpt.pth.')
    assert leftovers[0].endswith('.tmp')


# ---------------------------------------------------------------------------
# The last_checkpoint pointer
# ---------------------------------------------------------------------------


def _save_next_with_full_disk(hook, runner, limit):
    """In a child process: save checkpoint 2 through ``hook``, with the
    disk "full" (RLIMIT_FSIZE) from the moment the checkpoint file is
    written, i.e. for the ``last_checkpoint`` pointer. Returns the child's
    exit status: 10 = the pointer write failed with EFBIG."""
    import errno
    import resource
    import signal
    pid = os.fork()
    if pid == 0:  # child
        try:
            real_save = runner.save_checkpoint

            def save_then_fill_disk(*args, **kwargs):
                real_save(*args, **kwargs)
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

            runner.save_checkpoint = save_then_fill_disk
            try:
                hook._save_checkpoint_with_step(runner, 2, dict(iter=2))
            except OSError as exc:
                os._exit(10 if exc.errno == errno.EFBIG else 11)
            os._exit(12)
        finally:
            os._exit(13)
    _, status = os.waitpid(pid, 0)
    return os.WEXITSTATUS(status)


@pytest.fixture
def trained_one_iter(tmp_path):
    """A runner trained 1 iteration: last_checkpoint names iter_1.pth."""
    runner = _make_runner(tmp_path, max_iters=1)
    runner.train()
    (hook, ) = [h for h in runner.hooks
                if type(h).__name__ == 'CheckpointHook']
    pointer = tmp_path / 'last_checkpoint'
    assert pointer.read_text() == str(tmp_path / 'iter_1.pth')
    return runner, hook, pointer


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs os.fork')
def test_last_checkpoint_pointer_survives_a_failed_write(trained_one_iter):
    """The disk fills up while CheckpointHook writes last_checkpoint: the
    pointer still names the previous, whole checkpoint."""
    runner, hook, pointer = trained_one_iter
    old = pointer.read_text()
    status = _save_next_with_full_disk(hook, runner, limit=len(old) // 2)
    assert status == 10  # the pointer write did fail halfway
    assert (pointer.parent / 'iter_2.pth').is_file()
    assert pointer.read_text() == old  # intact, not half a path
    assert mmengine_ckpt.find_latest_checkpoint(str(pointer.parent)) == old
    assert not [n for n in os.listdir(pointer.parent) if n.endswith('.tmp')]
    # and a normal save moves the pointer on
    hook._save_checkpoint_with_step(runner, 2, dict(iter=2))
    assert pointer.read_text() == str(pointer.parent / 'iter_2.pth')


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs os.fork')
def test_mmengine_alone_truncates_the_pointer(trained_one_iter, monkeypatch):
    """Why mmkd patches it: mmengine's own in-place write leaves half a path
    under last_checkpoint, and resume then fails on a missing file."""
    from mmengine.hooks import checkpoint_hook
    runner, hook, pointer = trained_one_iter
    monkeypatch.delattr(checkpoint_hook, 'open')  # back to builtins.open
    old = pointer.read_text()
    status = _save_next_with_full_disk(hook, runner, limit=len(old) // 2)
    assert status == 10
    assert pointer.read_text() == old[:len(old) // 2]  # truncated
    assert not osp.isfile(
        mmengine_ckpt.find_latest_checkpoint(str(pointer.parent)))


def test_pointer_write_goes_through_atomic_open(trained_one_iter,
                                                monkeypatch):
    from mmengine.hooks import checkpoint_hook
    runner, hook, pointer = trained_one_iter
    opened = []
    real = atomic_backends.atomic_open
    monkeypatch.setattr(atomic_backends, 'atomic_open',
                        lambda p, *a, **k: (opened.append(p), real(
                            p, *a, **k))[1])
    hook._save_checkpoint_with_step(runner, 2, dict(iter=2))
    assert opened == [str(pointer)]
    assert pointer.read_text() == str(pointer.parent / 'iter_2.pth')
    # reads in that module still use the builtin
    with checkpoint_hook.open(str(pointer)) as f:
        assert f.read() == pointer.read_text()
    install_safe_checkpoint_loading()  # idempotent
    assert checkpoint_hook.open is atomic_backends._checkpoint_hook_open
