from .exact_resume_hook import ExactResumeHook
from .matching_guided_hook import MatchingGuidedHook  # noqa: F401
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .teacher_eval_hook import TeacherEvalHook

__all__ = [
    'TeacherEvalHook', 'ExactResumeHook', 'NonFiniteLossHook',
    'NonFiniteLossError'
]
