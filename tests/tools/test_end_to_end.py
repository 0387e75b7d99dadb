"""End to end through the command-line tools, as a user runs them.

Tiny VOC-format data is generated in a temp dir; a tiny teacher is trained
with ``tools/train.py``; a student is distilled from its (mmengine runner)
checkpoint with ICKD, interrupted and resumed; ``tools/test.py`` evaluates
the student; ``tools/export_student.py`` exports it; and a separate Python
process that never imports mmkd evaluates the export with plain mmseg and
must report the same mIoU.
"""
import copy
import os
import os.path as osp
import re
import subprocess
import sys
import textwrap

import pytest
import torch
from tiny_models import tiny_deeplabv3
from mmengine.config import Config

from mmkd.datasets import SYNTHETIC_CLASSES, SYNTHETIC_PALETTE
from mmkd.datasets import generate_synthetic_voc

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZE = 64
NUM_CLASSES = len(SYNTHETIC_CLASSES)


def dataset(data_root, split, pipeline):
    return dict(
        type='BaseSegDataset',
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file=f'ImageSets/Segmentation/{split}.txt',
        img_suffix='.jpg',
        seg_map_suffix='.png',
        metainfo=dict(
            classes=SYNTHETIC_CLASSES, palette=SYNTHETIC_PALETTE),
        pipeline=pipeline)


def runtime(data_root, max_iters=6):
    train_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputs')
    ]
    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs')
    ]
    test_loader = dict(
        batch_size=1,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dataset(data_root, 'val', test_pipeline))
    return dict(
        default_scope='mmkd',
        env_cfg=dict(
            cudnn_benchmark=False,
            mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
            dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0),
        vis_backends=[dict(type='LocalVisBackend')],
        visualizer=dict(
            type='SegLocalVisualizer',
            vis_backends=[dict(type='LocalVisBackend')],
            name='visualizer'),
        log_processor=dict(by_epoch=False),
        log_level='INFO',
        load_from=None,
        resume=False,
        train_dataloader=dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            dataset=dataset(data_root, 'train', train_pipeline)),
        val_dataloader=test_loader,
        test_dataloader=test_loader,
        tta_pipeline=[
            dict(type='LoadImageFromFile'),
            dict(
                type='TestTimeAug',
                transforms=[[
                    dict(type='Resize', scale_factor=r, keep_ratio=True)
                    for r in (0.75, 1.0)
                ],
                            [
                                dict(type='RandomFlip', prob=0.),
                                dict(type='RandomFlip', prob=1.)
                            ], [dict(type='LoadAnnotations')],
                            [dict(type='PackSegInputs')]])
        ],
        tta_model=dict(type='SegTTAModel'),
        val_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']),
        test_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']),
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(
                type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4)),
        param_scheduler=[
            dict(
                type='PolyLR',
                eta_min=1e-4,
                power=0.9,
                begin=0,
                end=max_iters,
                by_epoch=False)
        ],
        train_cfg=dict(
            type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4),
        val_cfg=dict(type='ValLoop'),
        test_cfg=dict(type='TestLoop'),
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(
                type='LoggerHook', interval=1, log_metric_by_epoch=False),
            param_scheduler=dict(type='ParamSchedulerHook'),
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=2),
            sampler_seed=dict(type='DistSamplerSeedHook'),
            visualization=dict(type='SegVisualizationHook')))


def model(base_channels, head_channels):
    cfg = tiny_deeplabv3(base_channels, head_channels, NUM_CLASSES)
    cfg['data_preprocessor']['size'] = (SIZE, SIZE)
    return cfg


def run(args, cwd=ROOT, env=None, check=True):
    proc = subprocess.run([sys.executable, *args],
                          cwd=cwd,
                          env=env,
                          capture_output=True,
                          text=True)
    output = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n'
                             f'{output[-6000:]}')
    return proc.returncode, output


def miou(output):
    found = re.findall(r'mIoU: ([0-9.]+)', output)
    assert found, output[-3000:]
    return float(found[-1])


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('e2e')
    data_root = generate_synthetic_voc(
        str(tmp / 'data'), num_train=8, num_val=4, img_size=SIZE, seed=3)
    teacher_cfg = Config(
        dict(runtime(data_root, max_iters=4), model=model(16, 32)))
    teacher_cfg.dump(str(tmp / 'teacher.py'))
    return tmp, data_root


def distill_config(tmp, data_root, teacher_ckpt):
    cfg = runtime(data_root)
    student = model(8, 16)
    cfg['model'] = dict(
        type='SegDistiller',
        student=student,
        teacher=model(16, 32),
        teacher_checkpoint=teacher_ckpt,
        data_preprocessor=copy.deepcopy(student['data_preprocessor']),
        distill=[
            dict(
                name='loss_ickd',
                student='decode_head.bottleneck',
                teacher='decode_head.bottleneck',
                student_transforms=[dict(type='ConvBNConnector')],
                loss=dict(type='ICKDLoss', grid_size=(2, 2), loss_weight=1.0))
        ])
    cfg['custom_hooks'] = [dict(type='TeacherEvalHook')]
    path = str(tmp / 'distill.py')
    Config(cfg).dump(path)
    return path


def test_train_distill_resume_test_export(workspace):
    tmp, data_root = workspace
    # 1. A teacher trained by tools/train.py: its checkpoint is a full
    #    mmengine runner checkpoint (message hub, optimizer, numpy state).
    run(['tools/train.py', str(tmp / 'teacher.py'), '--work-dir',
         str(tmp / 'teacher')])
    teacher_ckpt = str(tmp / 'teacher' / 'iter_4.pth')
    assert osp.isfile(teacher_ckpt)

    # 2. Distil, stopping after 4 of 6 iterations.
    config = distill_config(tmp, data_root, teacher_ckpt)
    work_dir = str(tmp / 'distill')
    _, out = run(['tools/train.py', config, '--work-dir', work_dir,
                  '--cfg-options', 'train_cfg.max_iters=4'])
    assert 'loaded teacher from' in out
    assert 'Teacher evaluation: ' in out and 'mIoU: ' in out
    assert 'distill.loss_ickd: ' in out and 'decode.loss_ce: ' in out
    assert re.search(r'mIoU: student [0-9.]+ vs teacher [0-9.]+', out)
    assert osp.isfile(osp.join(work_dir, 'iter_4.pth'))
    assert not osp.exists(osp.join(work_dir, 'iter_6.pth'))

    # 3. Resume: continues at iteration 5, the teacher is not re-evaluated.
    _, out = run(['tools/train.py', config, '--work-dir', work_dir,
                  '--resume'])
    assert 'resumed epoch: 0, iter: 4' in out
    assert 'Iter(train) [5/6]' in out and 'Iter(train) [1/6]' not in out
    assert 'Evaluating the teacher' not in out
    final = osp.join(work_dir, 'iter_6.pth')
    assert osp.isfile(final)

    # 4. Evaluate the distilled student with tools/test.py. The teacher is
    #    never built: a teacher checkpoint that does not exist is no error.
    _, out = run(['tools/test.py', config, final, '--work-dir',
                  str(tmp / 'test'), '--cfg-options',
                  'model.teacher_checkpoint=/nonexistent/teacher.pth'])
    assert 'loaded teacher' not in out
    distiller_miou = miou(out)
    assert distiller_miou == pytest.approx(mean_class_iou(out), abs=0.01)
    _, out = run(['tools/test.py', config, final, '--tta', '--work-dir',
                  str(tmp / 'test_tta')])
    # every val image went through the TTA model, and the reported mIoU is
    # the mean of the per-class table it printed
    assert re.search(r'Iter\(test\) \[4/4\]', out)
    assert miou(out) == pytest.approx(mean_class_iou(out), abs=0.01)

    # 5. Export, then evaluate with plain mmseg in a process without mmkd,
    #    and compare its logits on a fixed batch with the distiller's.
    export_dir = str(tmp / 'export')
    run(['tools/export_student.py', config, final, export_dir])
    logits_path = str(tmp / 'plain_logits.pt')
    script = textwrap.dedent(f"""
        import sys
        import torch
        from mmengine.config import Config
        from mmengine.runner import Runner
        from mmseg.apis import init_model
        cfg = Config.fromfile({export_dir + '/student_config.py'!r})
        model = init_model(cfg, {export_dir + '/student.pth'!r}, device='cpu')
        assert model.dataset_meta['classes'][1] == 'disc', model.dataset_meta
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(2, 3, 64, 64, generator=gen)
        with torch.no_grad():
            torch.save(model(x, mode='tensor'), {logits_path!r})
        cfg.work_dir = {str(tmp / 'plain')!r}
        cfg.load_from = {export_dir + '/student.pth'!r}
        Runner.from_cfg(cfg).test()
        assert not [m for m in sys.modules if m.split('.')[0] == 'mmkd'], \\
            'mmkd was imported'
        """)
    env = dict(os.environ, PYTHONPATH='')
    _, out = run(['-c', script], cwd=str(tmp), env=env)
    assert miou(out) == distiller_miou
    distiller = build_distiller(config, final)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = distiller(x, mode='tensor')
    torch.testing.assert_close(torch.load(logits_path), expected)


def build_distiller(config, checkpoint):
    """The trained distiller, in this process, through mmkd."""
    from mmengine.registry import init_default_scope
    from mmengine.runner.checkpoint import load_checkpoint

    from mmkd.registry import MODELS
    cfg = Config.fromfile(config)
    cfg.model.teacher_checkpoint = None
    init_default_scope('mmkd')
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.eval()


def mean_class_iou(output: str) -> float:
    """Mean of the IoU column of the last per-class table in ``output``."""
    table = output.rsplit('per class results:', 1)[-1]
    rows = re.findall(r'^\|\s*[A-Za-z_]+\s*\|\s*([0-9.]+|nan)\s*\|', table,
                      flags=re.M)
    values = [float(v) for v in rows if v != 'nan']
    assert values, output[-2000:]
    return sum(values) / len(values)


def test_train_stops_early_when_data_is_missing(workspace, tmp_path):
    tmp, _ = workspace
    cfg = Config.fromfile(str(tmp / 'teacher.py'))
    missing = str(tmp_path / 'VOCdevkit' / 'VOC2012')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader]['dataset']['data_root'] = missing
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    code, out = run(['tools/train.py', path, '--work-dir',
                     str(tmp_path / 'wd')],
                    check=False)
    assert code == 1
    assert f'expects data_root at {missing}' in out
    assert 'VOCtrainval_11-May-2012.tar' in out and 'convert_voc_aug' in out
    assert not osp.exists(tmp_path / 'wd')  # stopped before the runner


def test_export_refuses_non_distiller_config(workspace, tmp_path):
    tmp, _ = workspace
    code, out = run(['tools/export_student.py', str(tmp / 'teacher.py'),
                     'nothing.pth', str(tmp_path)],
                    check=False)
    assert code != 0 and 'expected a SegDistiller config' in out
