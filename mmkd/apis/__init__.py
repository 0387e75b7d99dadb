from .export import export_student, student_config
from .quickstart import (QUICKSTART_METHODS, QUICKSTART_STAGES,
                         QuickstartResult, StageResult, redraw_report,
                         run_quickstart)
from .report import write_report

__all__ = [
    'export_student', 'student_config', 'QUICKSTART_STAGES',
    'QUICKSTART_METHODS', 'QuickstartResult', 'StageResult',
    'run_quickstart', 'redraw_report', 'write_report'
]
