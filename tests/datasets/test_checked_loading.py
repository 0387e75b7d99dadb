"""CheckedLoadImageFromFile / CheckedLoadAnnotations refuse bad data and
name the file; on good data they load exactly what mmcv/mmseg load."""
import io

import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from mmengine.registry import DefaultScope
from mmseg.datasets.transforms import LoadAnnotations
from PIL import Image

from mmkd.datasets import (BadDataError, CheckedLoadAnnotations,
                           CheckedLoadImageFromFile, check_image_bytes)
from mmkd.datasets.synthetic_classes import voc_palette
from mmkd.registry import TRANSFORMS

H, W = 24, 32


def _image(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


def _save_image(path, fmt, **kwargs):
    Image.fromarray(_image()).save(path, format=fmt, **kwargs)
    return str(path)


def _save_label(path, label):
    """An index PNG (mode 'P', VOC palette), as VOC's labels are."""
    label = np.ascontiguousarray(label, np.uint8)
    im = Image.frombytes('P', label.shape[::-1], label.tobytes())
    im.putpalette([v for rgb in voc_palette() for v in rgb])
    im.save(path, format='PNG')
    return str(path)


def _truncate(path, keep):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:int(len(data) * keep)])
    return path


def _label(num_classes=3):
    lab = np.zeros((H, W), np.uint8)
    lab[4:10, 4:12] = num_classes - 1
    lab[0, :] = 255
    return lab


def _results(img_path=None, seg_path=None, **extra):
    return dict(img_path=img_path, seg_map_path=seg_path, seg_fields=[],
                reduce_zero_label=False, label_map=None, **extra)


def _load(img_path, seg_path, num_classes=3, **kwargs):
    res = CheckedLoadImageFromFile()(_results(img_path, seg_path, **kwargs))
    return CheckedLoadAnnotations(num_classes=num_classes)(res)


# --------------------------------------------------------------------------
# good data: the same result as mmcv / mmseg
# --------------------------------------------------------------------------
@pytest.mark.parametrize('fmt,kwargs', [('JPEG', dict(quality=90)),
                                        ('JPEG', dict(progressive=True)),
                                        ('PNG', {}), ('BMP', {})])
def test_good_files_load_like_mmcv_and_mmseg(tmp_path, fmt, kwargs):
    img = _save_image(tmp_path / f'a.{fmt.lower()}', fmt, **kwargs)
    seg = _save_label(tmp_path / 'a.png', _label())
    ours = _load(img, seg)
    ref = LoadImageFromFile()(_results(img, seg))
    ref = LoadAnnotations()(ref)
    np.testing.assert_array_equal(ours['img'], ref['img'])
    np.testing.assert_array_equal(ours['gt_seg_map'], ref['gt_seg_map'])
    assert ours['img_shape'] == ref['img_shape'] == (H, W)
    assert ours['seg_fields'] == ['gt_seg_map']


def test_trailing_bytes_after_jpeg_end_are_fine(tmp_path):
    path = _save_image(tmp_path / 'a.jpg', 'JPEG')
    with open(path, 'ab') as f:
        f.write(b'\x00' * 10 + b'trailer \xff\xda\x00')
    check_image_bytes(open(path, 'rb').read(), path)


def test_built_from_config_in_the_mmkd_scope(tmp_path):
    with DefaultScope.overwrite_default_scope('mmkd'):
        t = TRANSFORMS.build(
            dict(type='CheckedLoadAnnotations', num_classes=21))
        i = TRANSFORMS.build(dict(type='CheckedLoadImageFromFile'))
    assert isinstance(t, CheckedLoadAnnotations) and t.num_classes == 21
    assert isinstance(i, CheckedLoadImageFromFile)
    with DefaultScope.overwrite_default_scope('mmseg'):
        assert isinstance(
            TRANSFORMS.build(dict(type='mmkd.CheckedLoadImageFromFile')),
            CheckedLoadImageFromFile)


# --------------------------------------------------------------------------
# truncated / undecodable files
# --------------------------------------------------------------------------
@pytest.mark.parametrize('keep', [0.3, 0.7, 0.98])
def test_truncated_jpeg_is_refused(tmp_path, keep):
    img = _truncate(_save_image(tmp_path / 'cut.jpg', 'JPEG', quality=95),
                    keep)
    # mmcv: an assert (cv2), or an OSError that names no file (pillow)
    with pytest.raises(AssertionError):
        LoadImageFromFile()(_results(img))
    with pytest.raises(OSError) as bare:
        LoadImageFromFile(imdecode_backend='pillow')(_results(img))
    assert img not in str(bare.value)
    with pytest.raises(BadDataError, match='truncated JPEG') as err:
        CheckedLoadImageFromFile()(_results(img))
    assert str(err.value).startswith(img)
    assert err.value.path == img
    assert 'ann_file' in str(err.value)  # says what to do


def test_truncated_jpeg_is_refused_even_where_pillow_accepts_it(
        tmp_path, monkeypatch):
    from PIL import ImageFile
    img = _truncate(_save_image(tmp_path / 'cut.jpg', 'JPEG'), 0.7)
    monkeypatch.setattr(ImageFile, 'LOAD_TRUNCATED_IMAGES', True)
    # mmcv decodes it "successfully", the missing rows grey
    silent = LoadImageFromFile(imdecode_backend='pillow')(_results(img))
    assert silent['img'].shape == (H, W, 3)
    with pytest.raises(BadDataError, match='truncated JPEG'):
        CheckedLoadImageFromFile(imdecode_backend='pillow')(_results(img))


def test_truncated_png_image_is_refused(tmp_path):
    img = _truncate(_save_image(tmp_path / 'cut.png', 'PNG'), 0.6)
    with pytest.raises(BadDataError, match='truncated PNG') as err:
        CheckedLoadImageFromFile()(_results(img))
    assert img in str(err.value)


def test_corrupt_png_crc_and_garbage_and_empty(tmp_path):
    path = _save_image(tmp_path / 'flip.png', 'PNG')
    data = bytearray(open(path, 'rb').read())
    data[60] ^= 0xFF  # inside IDAT
    open(path, 'wb').write(bytes(data))
    with pytest.raises(BadDataError, match='CRC mismatch'):
        CheckedLoadImageFromFile()(_results(path))
    junk = tmp_path / 'junk.jpg'
    junk.write_bytes(b'this is not an image at all')
    with pytest.raises(BadDataError, match='cannot decode the image') as err:
        CheckedLoadImageFromFile()(_results(str(junk)))
    assert str(junk) in str(err.value)
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    with pytest.raises(BadDataError, match='empty'):
        CheckedLoadImageFromFile()(_results(str(empty)))


def test_missing_file_still_honours_ignore_empty(tmp_path):
    missing = str(tmp_path / 'nope.jpg')
    assert CheckedLoadImageFromFile(ignore_empty=True)(
        _results(missing)) is None
    with pytest.raises(FileNotFoundError):
        CheckedLoadImageFromFile()(_results(missing))
    # bad data is refused even with ignore_empty
    cut = _truncate(_save_image(tmp_path / 'cut.jpg', 'JPEG'), 0.5)
    with pytest.raises(BadDataError):
        CheckedLoadImageFromFile(ignore_empty=True)(_results(cut))


@pytest.mark.parametrize('backend', ['pillow', 'cv2'])
def test_truncated_or_garbage_label_is_refused(tmp_path, backend):
    img = _save_image(tmp_path / 'a.jpg', 'JPEG')
    seg = _truncate(_save_label(tmp_path / 'a.png', _label()), 0.5)
    res = CheckedLoadImageFromFile()(_results(img, seg))
    t = CheckedLoadAnnotations(num_classes=3, imdecode_backend=backend)
    with pytest.raises(BadDataError, match='truncated PNG') as err:
        t(dict(res))
    assert str(err.value).startswith(seg)
    junk = tmp_path / 'junk.png'
    junk.write_bytes(b'GIF89a not really')
    with pytest.raises(BadDataError, match='cannot decode the label map') \
            as err:
        t(_results(img, str(junk)))
    assert str(junk) in str(err.value)


# --------------------------------------------------------------------------
# inconsistent labels
# --------------------------------------------------------------------------
def test_label_of_another_size_is_refused(tmp_path):
    img = _save_image(tmp_path / 'a.jpg', 'JPEG')
    seg = _save_label(tmp_path / 'a.png', np.zeros((H, W + 1), np.uint8))
    with pytest.raises(BadDataError) as err:
        _load(img, seg)
    msg = str(err.value)
    assert msg.startswith(seg) and img in msg
    assert f'{W + 1}x{H}' in msg and f'{W}x{H}' in msg
    # mmseg alone loads the pair without a word
    ref = LoadAnnotations()(LoadImageFromFile()(_results(img, seg)))
    assert ref['gt_seg_map'].shape != ref['img'].shape[:2]


def test_values_outside_the_classes_are_listed(tmp_path):
    img = _save_image(tmp_path / 'a.jpg', 'JPEG')
    lab = _label(num_classes=3)
    lab[20:22, 0:3] = 7
    lab[23, 0] = 254
    seg = _save_label(tmp_path / 'a.png', lab)
    with pytest.raises(BadDataError) as err:
        _load(img, seg, num_classes=3)
    msg = str(err.value)
    assert msg.startswith(seg)
    assert 'label values 7 (6 px), 254 (1 px)' in msg
    assert '3 classes [0, 2]' in msg and 'ignore index 255' in msg
    # 255 and every class index are fine; so is a larger num_classes
    assert _load(img, seg, num_classes=255)['gt_seg_map'].max() == 255


def test_colour_label_is_refused(tmp_path):
    img = _save_image(tmp_path / 'a.jpg', 'JPEG')
    seg = str(tmp_path / 'rgb.png')
    Image.fromarray(_image(1)).save(seg)
    with pytest.raises(BadDataError, match=r'shape \(24, 32, 3\)') as err:
        _load(img, seg)
    assert 'index' in str(err.value)


def test_reduce_zero_label_is_noted(tmp_path):
    img = _save_image(tmp_path / 'a.jpg', 'JPEG')
    lab = np.ones((H, W), np.uint8)
    lab[0, 0] = 9  # class 8 after reduce_zero_label
    seg = _save_label(tmp_path / 'a.png', lab)
    res = CheckedLoadImageFromFile()(_results(img, seg))
    res['reduce_zero_label'] = True
    with pytest.raises(BadDataError, match='reduce_zero_label') as err:
        CheckedLoadAnnotations(num_classes=5)(res)
    assert 'label values 8 (1 px)' in str(err.value)


@pytest.mark.parametrize('kwargs', [dict(num_classes=0),
                                    dict(num_classes=2.0),
                                    dict(num_classes=3, ignore_index=-1),
                                    dict(num_classes=3, ignore_index=256)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match='CheckedLoadAnnotations'):
        CheckedLoadAnnotations(**kwargs)
    with pytest.raises(TypeError):
        CheckedLoadAnnotations()


def test_check_image_bytes_directly():
    buf = io.BytesIO()
    Image.fromarray(_image()).save(buf, format='JPEG')
    data = buf.getvalue()
    check_image_bytes(data, 'x.jpg')
    with pytest.raises(BadDataError, match='x.jpg: truncated JPEG'):
        check_image_bytes(data[:-2], 'x.jpg')  # only the EOI marker gone
