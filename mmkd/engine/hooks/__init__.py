from .teacher_eval_hook import TeacherEvalHook

__all__ = ['TeacherEvalHook']
