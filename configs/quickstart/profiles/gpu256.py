# The efficacy protocol at GPU scale ("On a GPU" in docs/efficacy.md):
#   tools/benchmark_efficacy.py --profile gpu256 --methods ickd kd \
#       --iters teacher=10000,student=N --jobs 9
# Everything not named here is the quickstart's (configs/quickstart/): the
# generator and its 'large' layout, the class-balanced list, the pretext,
# the recipe (AdamW 2e-3, poly decay, batch 8), the methods' configs and
# their weight rules. What changes:
#
#   data     256x256 images (2000 train / 300 val), 256x256 crops
#   teacher  DeepLabV3, ResNetV1c-50 at full width, output stride 8, ASPP
#            dilations (1, 6, 12, 18) (mmseg's VOC rates at 512 px halved
#            for 256 px), head 256 channels (mmseg's R50: 512)
#   student  DeepLabV3, ResNetV1c-18 at full width, output stride 8, head
#            128 channels (mmseg's deeplabv3_r18-d8)
#   runtime  bf16 autocast (AmpOptimWrapper), 3 loader workers per run
#
# The models are the quickstart's (../_base_/models.py: ResNetV1c, output
# stride 8, ASPP + FCN heads, plain BN) at full width, with the ASPP rates
# and input size of 256 px.
#
# tools/benchmark_efficacy.py applies it to every stage's config
# (mmkd/apis/quickstart_profile.py): the teacher config's model becomes
# `teacher_model`, the student alone's `student_model`, a distiller's
# student and teacher both; the loaders keep the quickstart's pipelines
# (configs/quickstart/_base_/data.py) with every `scale` set to `img_scale`
# and every `crop_size` to `crop_size` (a profile may give its own
# `train_pipeline` / `test_pipeline` instead), and take the profile's
# workers.
_base_ = ['../_base_/models.py']
crop_size = (256, 256)
img_scale = (256, 256)

# mmkd.datasets.synthetic_voc.generate_synthetic_voc arguments
data = dict(num_train=2000, num_val=300, img_size=256, seed=0,
            layout='large', num_classes=7)
# default data root and protocol cache dir of this profile
data_root = 'data/synthetic_voc_gpu256'
protocol_dir = 'work_dirs/quickstart_gpu256'
# mmkd.apis.pretext recipe overrides (object crops at 64 px, not 32)
pretext = dict(crop_size=64, batch_size=64)
# table labels of the two plain models
labels = dict(teacher='Teacher (DeepLabV3 R50, full width)',
              baseline='Student alone (DeepLabV3 R18, full width)')

data_preprocessor = dict(size=crop_size)
_aspp_rates = (1, 6, 12, 18)
teacher_model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(depth=50, stem_channels=64, base_channels=64),
    decode_head=dict(in_channels=2048, channels=256, dilations=_aspp_rates),
    auxiliary_head=dict(in_channels=1024, channels=256))
student_model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(depth=18, stem_channels=64, base_channels=64),
    decode_head=dict(in_channels=512, channels=128, dilations=_aspp_rates),
    auxiliary_head=dict(in_channels=256, channels=64))

# merged into each loader (batch sizes stay the quickstart's)
train_loader = dict(num_workers=3, persistent_workers=True)
val_loader = dict(num_workers=2, persistent_workers=True)
# replaces the config's optim_wrapper type (optimizer and lr kept)
optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16')
