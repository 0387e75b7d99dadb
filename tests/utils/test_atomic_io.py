"""mmkd.utils.atomic_io: files are replaced whole or not at all."""
import json
import os
import stat

import pytest
import torch

from mmkd.utils import atomic_io
from mmkd.utils.atomic_io import (atomic_open, atomic_torch_save,
                                  atomic_write_bytes, atomic_write_json,
                                  atomic_write_text)


class _Crash(RuntimeError):
    pass


def _listing(path):
    return sorted(os.listdir(path))


def test_text_bytes_json_and_torch(tmp_path):
    atomic_write_text('héllo\r\nworld\n', tmp_path / 'a.txt')
    assert (tmp_path / 'a.txt').read_bytes() == 'héllo\r\nworld\n'.encode()
    atomic_write_bytes(b'\x00\x01', tmp_path / 'b.bin')
    assert (tmp_path / 'b.bin').read_bytes() == b'\x00\x01'
    atomic_write_json({'k': [1, 2.5]}, tmp_path / 'c.json', indent=1)
    text = (tmp_path / 'c.json').read_text()
    assert text == json.dumps({'k': [1, 2.5]}, indent=1)
    atomic_torch_save({'w': torch.arange(3)}, tmp_path / 'd.pth')
    loaded = torch.load(tmp_path / 'd.pth', weights_only=True)
    assert loaded['w'].tolist() == [0, 1, 2]
    # the parent directory is created; no temp file is left anywhere
    atomic_write_text('x', tmp_path / 'new' / 'sub' / 'e.txt')
    assert (tmp_path / 'new' / 'sub' / 'e.txt').read_text() == 'x'
    assert _listing(tmp_path) == ['a.txt', 'b.bin', 'c.json', 'd.pth', 'new']
    assert _listing(tmp_path / 'new' / 'sub') == ['e.txt']


@pytest.mark.parametrize('mode', ['w', 'wb'])
def test_crash_mid_write_keeps_previous_content(tmp_path, mode):
    target = tmp_path / 'result.json'
    target.write_text('{"old": true}')
    with pytest.raises(_Crash):
        with atomic_open(target, mode) as f:
            f.write('{"new": ' if mode == 'w' else b'{"new": ')
            f.flush()
            raise _Crash('simulated crash mid-write')
    assert target.read_text() == '{"old": true}'
    assert _listing(tmp_path) == ['result.json']
    # a new file is not created at all
    with pytest.raises(_Crash):
        with atomic_open(tmp_path / 'other.txt', mode) as f:
            raise _Crash
    assert _listing(tmp_path) == ['result.json']


def test_unserialisable_json_leaves_no_trace(tmp_path):
    target = tmp_path / 'r.json'
    target.write_text('[1]')
    with pytest.raises(TypeError):
        atomic_write_json({'x': object()}, target)
    assert target.read_text() == '[1]'
    assert _listing(tmp_path) == ['r.json']


def test_fsync_before_replace(monkeypatch, tmp_path):
    """The data is on disk before the rename, and the rename after it."""
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, 'fsync',
                        lambda fd: (calls.append('fsync'), real_fsync(fd)))
    monkeypatch.setattr(os, 'replace', lambda a, b: (calls.append(
        'replace'), real_replace(a, b)))
    atomic_write_text('x', tmp_path / 'f.txt')
    assert calls == ['fsync', 'replace', 'fsync']  # file, rename, dir


def test_mode_of_new_and_replaced_files(tmp_path):
    new = tmp_path / 'new.txt'
    atomic_write_text('x', new)
    expected = 0o666 & ~atomic_io._umask()
    assert stat.S_IMODE(new.stat().st_mode) == expected  # not mkstemp's 600
    old = tmp_path / 'old.txt'
    old.write_text('x')
    old.chmod(0o640)
    atomic_write_text('y', old)
    assert stat.S_IMODE(old.stat().st_mode) == 0o640


def test_symlink_is_written_through(tmp_path):
    real = tmp_path / 'real.txt'
    real.write_text('old')
    link = tmp_path / 'link.txt'
    link.symlink_to(real)
    atomic_write_text('new', link)
    assert link.is_symlink()
    assert real.read_text() == 'new'


@pytest.mark.parametrize('mode', ['a', 'r+', 'w+', 'x', 'r'])
def test_non_whole_file_modes_are_refused(tmp_path, mode):
    with pytest.raises(ValueError, match='whole content'):
        with atomic_open(tmp_path / 'f', mode):
            pass
    assert _listing(tmp_path) == []


def test_encoding_is_for_text_mode_only(tmp_path):
    with pytest.raises(ValueError, match='text mode'):
        with atomic_open(tmp_path / 'f', 'wb', encoding='utf-8'):
            pass
