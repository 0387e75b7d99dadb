#!/usr/bin/env bash
# Create the project virtual environment with mmkd's pinned stack.
#
# Usage: tools/setup_env.sh [VENV_DIR]        (default: .venv)
#
# mmcv 2.1.0 has no wheel for torch 2.14, so it is built from source with its
# compiled ops. The build takes ~15-20 minutes on 2 cores, so the wheel is
# kept in a cache outside the clone, keyed by mmcv, torch and Python versions:
#   ${MMKD_CACHE:-~/.cache/mmkd}/wheels/mmcv-<ver>-torch<ver>-cp<ver>/
# A second setup (or a CI run on the same machine) reuses it.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV="${1:-.venv}"
PYTHON="${PYTHON:-python3.11}"
CACHE="${MMKD_CACHE:-$HOME/.cache/mmkd}"

TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.2
MMCV_VERSION=2.1.0
MMENGINE_VERSION=0.10.7
MMSEG_VERSION=1.2.2

log() { printf '[setup_env] %s\n' "$*" >&2; }

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  log "error: $PYTHON not found; set PYTHON=/path/to/python3.11"
  exit 1
fi
PYTAG="cp$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')"

# The stamp is written last: an interrupted setup is redone from scratch.
STAMP="$VENV/.mmkd-env-ok"
rm -f "$STAMP"
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check)

log "installing torch $TORCH_VERSION, torchvision $TORCHVISION_VERSION and build tools"
"${PIP[@]}" "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" \
  wheel ninja "numpy<2"

WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-torch$TORCH_VERSION-$PYTAG"
if ! ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-*.whl >/dev/null 2>&1; then
  log "no cached mmcv wheel in $WHEEL_DIR: building mmcv $MMCV_VERSION from source (~15-20 min)"
  # mmcv's setup.py imports pkg_resources (setuptools<70), while torch 2.14
  # asks for setuptools>=77: downgrade for the build only, restored below.
  "${PIP[@]}" "setuptools<70"
  BUILD="$(mktemp -d)"
  trap 'rm -rf "$BUILD"' EXIT
  "$VENV/bin/python" -m pip download --no-deps --no-binary :all: --no-build-isolation \
    "mmcv==$MMCV_VERSION" -d "$BUILD"
  tar -xzf "$BUILD"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD"
  SRC="$BUILD/mmcv-$MMCV_VERSION"
  # torch >= 2.10 headers need C++20; mmcv's setup.py hard-codes C++17.
  sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
  mkdir -p "$WHEEL_DIR.partial"
  ( cd "$SRC" && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "$ROOT/$VENV/bin/python" -m pip wheel --no-build-isolation --no-deps \
      -w "$WHEEL_DIR.partial" . )
  # Publish the cache entry atomically: a half-built wheel is never reused.
  mkdir -p "$(dirname "$WHEEL_DIR")"
  rm -rf "$WHEEL_DIR"
  mv "$WHEEL_DIR.partial" "$WHEEL_DIR"
fi
"${PIP[@]}" "setuptools>=77.0.3"
log "installing mmcv from $WHEEL_DIR"
"${PIP[@]}" --no-deps "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-*.whl
# mmcv's own runtime requirements (installed --no-deps above).
"${PIP[@]}" addict "numpy<2" packaging Pillow pyyaml yapf opencv-python "mmengine==$MMENGINE_VERSION"

log "installing mmsegmentation $MMSEG_VERSION, mmkd and test tools"
"${PIP[@]}" "mmsegmentation==$MMSEG_VERSION" ftfy regex scipy matplotlib \
  prettytable pytest
log "installing mmpretrain 1.2.0 (ImageNet datasets, pipelines, Accuracy)"
"${PIP[@]}" "mmpretrain==1.2.0" "importlib_metadata<8" model-index
"${PIP[@]}" --no-deps --no-build-isolation -e .

"$VENV/bin/python" - <<'PY'
import mmcv, mmengine, mmpretrain, mmseg, torch, torchvision
from mmcv.ops import RoIAlign  # noqa: F401  compiled ops must load
import mmkd  # noqa: F401
print(f'torch {torch.__version__}, torchvision {torchvision.__version__}, '
      f'mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, '
      f'mmseg {mmseg.__version__}, mmpretrain {mmpretrain.__version__}')
PY
touch "$STAMP"
log "environment ready in $VENV"
