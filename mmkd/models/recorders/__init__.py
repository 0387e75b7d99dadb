from .feature_recorder import (FeatureRecorder, FeatureSpec,
                               StaleFeatureError)

__all__ = ['FeatureRecorder', 'FeatureSpec', 'StaleFeatureError']
