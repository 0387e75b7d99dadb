# Quickstart student alone: ResNet10 layout (BasicBlock [1,1,1,1]) at
# quarter width (16), 0.3M parameters, trained from scratch: the number
# every distilled student is compared with.
_base_ = ['./_base_/models.py', './_base_/schedule.py', './_base_/runtime.py']
model = _base_.student_model
