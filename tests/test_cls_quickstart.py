"""The classification quickstart: its generated data and a tiny run."""
import filecmp
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image
from tool_helpers import load_tool

from mmkd.apis.cls_quickstart import (CLS_QUICKSTART_STAGES,
                                      format_cls_table, mean_std,
                                      run_cls_quickstart)
from mmkd.datasets.synthetic_cls import (SYNTHETIC_CLS_CLASSES,
                                         generate_synthetic_cls)


def test_generated_layout_is_imagefolder_and_deterministic(tmp_path):
    a = generate_synthetic_cls(str(tmp_path / 'a'), num_train=2, num_val=1,
                               img_size=32, seed=5)
    b = generate_synthetic_cls(str(tmp_path / 'b'), num_train=2, num_val=1,
                               img_size=32, seed=5)
    assert sorted(os.listdir(osp.join(a, 'train'))) == list(
        SYNTHETIC_CLS_CLASSES)
    files = sorted(os.listdir(osp.join(a, 'train', 'disc')))
    assert files == ['disc_000000.JPEG', 'disc_000001.JPEG']
    img = Image.open(osp.join(a, 'val', 'ring', 'ring_000000.JPEG'))
    assert img.size == (32, 32) and img.mode == 'RGB'
    match, mismatch, errors = filecmp.cmpfiles(
        osp.join(a, 'train', 'disc'), osp.join(b, 'train', 'disc'), files,
        shallow=False)
    assert match == files and mismatch == [] and errors == []
    # another seed draws other images
    c = generate_synthetic_cls(str(tmp_path / 'c'), num_train=2, num_val=1,
                               img_size=32, seed=6)
    assert not filecmp.cmp(osp.join(a, 'train', 'disc', files[0]),
                           osp.join(c, 'train', 'disc', files[0]),
                           shallow=False)


def test_generated_data_is_reused_and_foreign_dirs_kept(tmp_path):
    root = generate_synthetic_cls(str(tmp_path / 'd'), num_train=1,
                                  num_val=1, img_size=32)
    probe = osp.join(root, 'train', 'bar', 'bar_000000.JPEG')
    before = os.stat(probe).st_mtime_ns
    generate_synthetic_cls(root, num_train=1, num_val=1, img_size=32)
    assert os.stat(probe).st_mtime_ns == before
    generate_synthetic_cls(root, num_train=2, num_val=1, img_size=32)
    assert osp.isfile(osp.join(root, 'train', 'bar', 'bar_000001.JPEG'))
    foreign = tmp_path / 'mine'
    foreign.mkdir()
    (foreign / 'keep.txt').write_text('x')
    with pytest.raises(FileExistsError, match='refusing'):
        generate_synthetic_cls(str(foreign), num_train=1, num_val=1)
    assert (foreign / 'keep.txt').exists()


def test_colour_statistics_do_not_give_the_class(tmp_path):
    """A nearest-centroid classifier on colour histograms, mean and std is
    near chance (1/9): the class is in the shape."""
    root = generate_synthetic_cls(str(tmp_path / 'e'), num_train=20,
                                  num_val=10, img_size=32)

    def features(split):
        x, y = [], []
        for label, name in enumerate(SYNTHETIC_CLS_CLASSES):
            folder = osp.join(root, split, name)
            for f in sorted(os.listdir(folder)):
                p = np.asarray(Image.open(osp.join(folder, f)),
                               np.float32) / 255
                hist = [np.histogram(p[..., c], 8, (0, 1))[0] / p[..., 0].size
                        for c in range(3)]
                x.append(np.concatenate(hist + [p.mean((0, 1)),
                                                p.std((0, 1))]))
                y.append(label)
        return np.array(x), np.array(y)

    xt, yt = features('train')
    xv, yv = features('val')
    mu, sd = xt.mean(0), xt.std(0) + 1e-6
    centroids = np.stack([xt[yt == k].mean(0) for k in range(9)])
    dist = ((((xv - mu) / sd)[:, None] - ((centroids - mu) / sd)[None])**2)
    accuracy = (dist.sum(-1).argmin(1) == yv).mean()
    assert accuracy < 0.3, accuracy


def test_mean_std_and_table():
    assert mean_std([1.0]) == (1.0, None)
    mean, std = mean_std([1.0, 2.0, 3.0])
    assert mean == 2.0 and std == pytest.approx(1.0)
    results = dict(
        teacher=[dict(top1=90.0, top5=99.0, seed=None)],
        baseline=[dict(top1=50.0, top5=90.0, seed=0),
                  dict(top1=60.0, top5=92.0, seed=1)],
        kd=[dict(top1=70.0, top5=95.0, seed=0),
            dict(top1=70.0, top5=95.0, seed=1)])
    table = format_cls_table(results)
    assert '| 55.00 ± 7.07 |' in table
    assert '70.00 ± 0.00' in table and '+43%' in table  # (70-55)/(90-55)
    assert CLS_QUICKSTART_STAGES['kd']['label'] in table


def test_tiny_quickstart_runs_every_stage_and_caches_the_teacher(tmp_path):
    kwargs = dict(work_dir=str(tmp_path / 'work'),
                  data_root=str(tmp_path / 'data'), tiny=True, threads=1,
                  log=lambda *a: None)
    out = run_cls_quickstart(seeds=[0, 1], **kwargs)
    results = out['results']
    assert list(results) == ['teacher', 'baseline', 'ickd', 'kd']
    assert [r['seed'] for r in results['ickd']] == [0, 1]
    for runs in results.values():
        for r in runs:
            assert 0.0 <= r['top1'] <= r['top5'] <= 100.0
            assert osp.isfile(r['checkpoint'])
    assert not results['teacher'][0]['cached']
    saved = json.load(open(out['results_json']))
    assert saved['results']['kd'][1]['top1'] == results['kd'][1]['top1']
    assert '± ' in open(out['results_md']).read()

    again = run_cls_quickstart(seeds=[3], methods=['kd'], **kwargs)
    assert again['results']['teacher'][0]['cached']
    assert list(again['results']) == ['teacher', 'baseline', 'kd']


def test_cli_generates_data_only(tmp_path, capsys):
    tool = load_tool('cls_quickstart')
    tool.main(['--tiny', '--data-only', '--data-root',
               str(tmp_path / 'syn')])
    assert osp.isfile(tmp_path / 'syn' / 'meta.json')
    assert not osp.exists(tmp_path / 'work_dirs')
    with pytest.raises(ValueError, match='unknown methods'):
        run_cls_quickstart(methods=['baseline'], tiny=True,
                           data_root=str(tmp_path / 'syn'),
                           work_dir=str(tmp_path / 'w'))
