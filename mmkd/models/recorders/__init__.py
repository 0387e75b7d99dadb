from .feature_recorder import FeatureRecorder, FeatureSpec

__all__ = ['FeatureRecorder', 'FeatureSpec']
