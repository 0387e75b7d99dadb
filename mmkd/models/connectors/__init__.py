from .conv_bn_connector import ConvBNConnector

__all__ = ['ConvBNConnector']
