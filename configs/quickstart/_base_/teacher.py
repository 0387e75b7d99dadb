# The trained quickstart teacher, for the distillation configs: the model of
# ../teacher_deeplabv3_r18-w32-d8_synvoc-64x64.py and its checkpoint.
# tools/quickstart.py trains it (cached) and passes the checkpoint it wrote;
# to distil by hand after training the teacher yourself:
#   python tools/train.py configs/quickstart/<distill config>.py \
#       --cfg-options model.teacher_checkpoint=work_dirs/quickstart/teacher/iter_3000.pth
teacher_checkpoint = 'work_dirs/quickstart/teacher/iter_3000.pth'
