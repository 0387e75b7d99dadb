"""Classifiers: torchvision classification models as mmengine models."""
from .scalable_resnet import RESNET_BLOCKS, ScalableResNet
from .torchvision_classifier import (IMAGENET_DATA_PREPROCESSOR,
                                     TorchvisionClassifier,
                                     build_torchvision_model,
                                     torchvision_weights_url)

__all__ = [
    'RESNET_BLOCKS', 'ScalableResNet', 'IMAGENET_DATA_PREPROCESSOR',
    'TorchvisionClassifier', 'build_torchvision_model',
    'torchvision_weights_url'
]
