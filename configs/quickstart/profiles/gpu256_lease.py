# gpu256 (./gpu256.py: 256 px data, DeepLabV3 ResNet-50 teacher, ResNet-18
# student, bf16) cut to what one 15-minute device lease could still hold
# after the full profile's first try: on the lent H200 a training step is
# bound by the host (launches, data loading; not profiled), not by the GPU
# (teacher: 60 ms a step at batch 8 for ~2 TFLOP; docs/efficacy.md, "On a
# GPU"), so the steps are made fewer and larger:
#   data     800 train / 160 val images (gpu256: 2000 / 300)
#   batch    16 for every stage (gpu256: 8)
# and the driver gives the schedules (tools/efficacy_gpu.sh):
#   PROFILE=gpu256_lease TEACHER_ITERS=800 PRETEXT_ITERS=300 \
#   STUDENT_ITERS=400 JOBS=9 EXTRA=--no-diagnostics \
#   tools/efficacy_gpu.sh 262 RESULTS_DIR
# Run so on 2026-12-04: the teacher reached 63.22 mIoU (160 val images);
# the nine students had not finished when the lease's time ran out.
_base_ = ['./gpu256.py']
data = dict(num_train=800, num_val=160)
data_root = 'data/synthetic_voc_gpu256_lease'
protocol_dir = 'work_dirs/quickstart_gpu256_lease'
train_loader = dict(batch_size=16)
