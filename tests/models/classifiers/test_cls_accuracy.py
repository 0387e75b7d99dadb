"""Top-1 / top-5 of the classifier's predictions with mmpretrain's
Accuracy, on a case counted by hand."""
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.structures import DataSample

from mmkd.models.classifiers import TorchvisionClassifier


def test_top1_top5_counted_by_hand():
    # 6 classes; the label's rank in each row (0 = highest logit):
    #   sample 0: rank 0 -> top-1 and top-5 hit
    #   sample 1: rank 0 -> top-1 and top-5 hit
    #   sample 2: rank 2 -> top-5 hit only
    #   sample 3: rank 4 -> top-5 hit only
    #   sample 4: rank 5 -> miss both
    logits = torch.tensor([
        [9., 1., 2., 3., 4., 5.],  # label 0
        [1., 2., 9., 3., 4., 5.],  # label 2
        [6., 5., 4., 3., 2., 1.],  # label 2 (third highest)
        [6., 5., 4., 3., 2., 1.],  # label 4 (fifth highest)
        [6., 5., 4., 3., 2., 1.],  # label 5 (lowest)
    ])
    labels = [0, 2, 2, 4, 5]
    model = TorchvisionClassifier(
        arch=dict(block='BasicBlock', layers=[1, 1, 1, 1], width=8),
        num_classes=6)
    preds = model.predict_by_logits(
        logits, [DataSample().set_gt_label(y) for y in labels])
    evaluator = Evaluator(dict(type='mmpretrain.Accuracy', topk=(1, 5)))
    evaluator.process(preds)
    metrics = evaluator.evaluate(len(preds))
    assert metrics['accuracy/top1'] == pytest.approx(40.0)
    assert metrics['accuracy/top5'] == pytest.approx(80.0)
