"""torchvision's ResNet with a base width and a block count of one's choice.

torchvision builds ResNets only at their published widths (64 channels in
``layer1``, doubling per stage). The quickstart and the tests need the same
architecture a few times narrower and shallower so that it trains on a CPU
in minutes. :class:`ScalableResNet` is torchvision's ``ResNet`` (same module
names, same ``_make_layer`` and ``forward``, same initialisation) with the
stem and stage widths scaled by ``width / 64``. At ``width=64`` it is
torchvision's network exactly: ``ScalableResNet('BasicBlock', [2, 2, 2, 2])``
has the state dict of ``torchvision.models.resnet18()``.
"""
from typing import Sequence, Union

from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

__all__ = ['ScalableResNet', 'RESNET_BLOCKS']

#: Block names accepted by :class:`ScalableResNet`.
RESNET_BLOCKS = dict(BasicBlock=BasicBlock, Bottleneck=Bottleneck)


class ScalableResNet(ResNet):
    """torchvision ``ResNet`` with a configurable base width.

    Args:
        block (str | type): ``'BasicBlock'`` or ``'Bottleneck'`` (or the
            torchvision class itself).
        layers (Sequence[int]): Blocks per stage, four entries
            (``[2, 2, 2, 2]`` is ResNet18, ``[1, 1, 1, 1]`` the smallest).
        num_classes (int): Outputs of ``fc``. Defaults to 1000.
        width (int): Channels of the stem and of ``layer1``; ``layer2`` to
            ``layer4`` have 2x, 4x, 8x that (times the block expansion).
            Defaults to 64 (torchvision's).
        zero_init_residual (bool): Zero the last BN of every residual
            branch, as torchvision's option does. Defaults to False.

    Raises:
        ValueError: An unknown block, not four stages, or a width or block
            count below 1.
    """

    def __init__(self,
                 block: Union[str, type] = 'BasicBlock',
                 layers: Sequence[int] = (2, 2, 2, 2),
                 num_classes: int = 1000,
                 width: int = 64,
                 zero_init_residual: bool = False) -> None:
        if isinstance(block, str):
            if block not in RESNET_BLOCKS:
                raise ValueError(f'block={block!r} is not a ResNet block; '
                                 f'use one of {sorted(RESNET_BLOCKS)}')
            block = RESNET_BLOCKS[block]
        elif block not in RESNET_BLOCKS.values():
            raise ValueError(f'block must be BasicBlock or Bottleneck, got '
                             f'{block!r}')
        layers = [int(n) for n in layers]
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError(f'layers must give 4 stages of >= 1 block each, '
                             f'got {list(layers)}')
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f'width must be a positive int, got {width!r}')
        # torchvision's ResNet.__init__ with 64 replaced by `width`; the
        # attributes below are the ones its _make_layer reads.
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = width
        self.dilation = 1
        self.groups = 1
        self.base_width = 64  # BasicBlock only supports torchvision's 64
        self.conv1 = nn.Conv2d(
            3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(
                    m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)
