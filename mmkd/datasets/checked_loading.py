"""Loading transforms that refuse bad data, naming the file.

mmcv's and mmseg's loaders fail on bad files without saying what is
wrong, or without naming the file, or not at all:

* a truncated or undecodable image fails with ``AssertionError: failed to
  load image`` (``cv2`` backend; gone under ``python -O``) or a bare
  ``OSError: image file is truncated`` (``pillow`` backend; no file
  named), and decodes silently with grey rows where
  ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` is set;
* an undecodable label fails with ``'NoneType' object has no attribute
  'squeeze'`` (``cv2``) or a bare ``OSError`` (``pillow``);
* a label map whose size differs from its image's fails much later (a crop
  or a loss with mismatched shapes), naming no file;
* label values outside the classes (a colour-coded PNG, 0/255 masks, a
  dataset with more classes than the config) are silently used as class
  indices, or crash a CUDA kernel with a device-side assert.

:class:`CheckedLoadImageFromFile` and :class:`CheckedLoadAnnotations` are
drop-in replacements of ``LoadImageFromFile`` and mmseg's
``LoadAnnotations`` that raise :class:`BadDataError` instead, with the file,
the problem and the fix. In a config (``default_scope='mmkd'``; else prefix
the types with ``mmkd.``)::

    train_pipeline = [
        dict(type='CheckedLoadImageFromFile'),
        dict(type='CheckedLoadAnnotations', num_classes=21),
        ...
    ]

The checks cost a walk over the JPEG/PNG structure (no second decode) and
one ``np.bincount`` of the label map.
"""
import re
import zlib
from typing import Optional, Sequence

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations

from mmkd.registry import TRANSFORMS

__all__ = [
    'BadDataError', 'check_image_bytes', 'check_label_map',
    'CheckedLoadImageFromFile', 'CheckedLoadAnnotations'
]


class BadDataError(ValueError):
    """A data file is truncated, undecodable or inconsistent.

    Attributes:
        path (str): The offending file.
    """

    def __init__(self, path: str, problem: str, fix: str):
        super().__init__(f'{path}: {problem}. {fix}')
        self.path = path


_REPLACE_FILE = ('Re-download / re-extract / regenerate this file, or remove '
                 "its id from the split's list (ann_file)")

_JPEG_SOI = b'\xff\xd8'
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# In entropy-coded JPEG data a 0xFF byte is followed by 0x00 (stuffing), a
# restart marker RST0-7 (0xD0-0xD7) or more 0xFF fill bytes; anything else
# is the next marker.
_JPEG_NEXT_MARKER = re.compile(rb'\xff[^\x00\xd0-\xd7\xff]')
# Markers without a length field: TEM, RST0-7 (SOI/EOI handled apart).
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _jpeg_problem(data: bytes) -> Optional[str]:
    """Why a JPEG is truncated or malformed, or None if it is whole.

    Walks the marker segments and the entropy-coded scans up to the
    end-of-image marker (EOI); bytes after EOI are ignored.
    """
    n, pos = len(data), 2
    while True:
        if pos >= n:
            return (f'truncated JPEG: the file ends after {n} bytes, before '
                    'its end-of-image marker')
        if data[pos] != 0xFF:
            return f'corrupt JPEG: no marker at byte {pos}'
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            continue  # reported as truncated above
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            return None
        if marker in _JPEG_STANDALONE:
            continue
        if pos + 2 > n:
            pos = n
            continue
        length = int.from_bytes(data[pos:pos + 2], 'big')
        if length < 2:
            return f'corrupt JPEG: segment length {length} at byte {pos}'
        pos += length
        if pos > n:
            return (f'truncated JPEG: the file ends after {n} bytes, inside '
                    f'a segment (marker 0xFF{marker:02X})')
        if marker == 0xDA:  # SOS: entropy-coded data up to the next marker
            found = _JPEG_NEXT_MARKER.search(data, pos)
            if found is None:
                return (f'truncated JPEG: the file ends after {n} bytes, '
                        'inside the image data')
            pos = found.start()


def _png_problem(data: bytes) -> Optional[str]:
    """Why a PNG is truncated or corrupt, or None if it is whole.

    Walks the chunks up to ``IEND``, checking each chunk's CRC.
    """
    n, pos = len(data), len(_PNG_SIGNATURE)
    while True:
        if pos + 8 > n:
            return (f'truncated PNG: the file ends after {n} bytes, before '
                    'its IEND chunk')
        length = int.from_bytes(data[pos:pos + 4], 'big')
        ctype = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > n:
            name = ctype.decode('latin-1')
            return (f'truncated PNG: the file ends after {n} bytes, inside '
                    f'its {name} chunk')
        crc = int.from_bytes(data[end - 4:end], 'big')
        if zlib.crc32(data[pos + 4:end - 4]) != crc:
            name = ctype.decode('latin-1')
            return f'corrupt PNG: CRC mismatch in its {name} chunk'
        if ctype == b'IEND':
            return None
        pos = end


def check_image_bytes(data: bytes, path: str) -> None:
    """Raise :class:`BadDataError` if a JPEG or PNG file is not whole.

    Other formats are left to their decoder.

    Args:
        data (bytes): The file's content.
        path (str): The file, for the message.
    """
    if not data:
        raise BadDataError(path, 'the file is empty', _REPLACE_FILE)
    problem = None
    if data.startswith(_JPEG_SOI):
        problem = _jpeg_problem(data)
    elif data.startswith(_PNG_SIGNATURE):
        problem = _png_problem(data)
    if problem:
        raise BadDataError(path, problem, _REPLACE_FILE)


def _decode_error(path: str, what: str, exc: Optional[BaseException]):
    detail = f' ({type(exc).__name__}: {exc})' if exc is not None else ''
    return BadDataError(path, f'cannot decode the {what}{detail}',
                        _REPLACE_FILE)


def _format_values(counts: np.ndarray, values: Sequence[int]) -> str:
    shown = ', '.join(f'{v} ({int(counts[v])} px)' for v in values[:10])
    return shown + (f', ... ({len(values)} values)' if len(values) > 10
                    else '')


def check_label_map(seg: np.ndarray,
                    path: str,
                    num_classes: int,
                    ignore_index: int = 255,
                    image_shape: Optional[Sequence[int]] = None,
                    image_path: Optional[str] = None,
                    note: str = '') -> None:
    """Raise :class:`BadDataError` unless ``seg`` is a valid label map.

    Valid: 2-D, of the image's size (if given), with values in
    ``[0, num_classes)`` or ``ignore_index``.

    Args:
        seg (np.ndarray): The label map as loaded (uint8).
        path (str): Its file, for the message.
        num_classes (int): Number of classes (background included).
        ignore_index (int): The void label. Defaults to 255.
        image_shape (Sequence[int], optional): ``(H, W)`` of the image.
        image_path (str, optional): The image, for the message.
        note (str): Appended to the values in the message, e.g. how they
            were mapped after reading.
    """
    if seg.ndim != 2:
        raise BadDataError(
            path, f'the label map has shape {tuple(seg.shape)}, expected '
            '(H, W) class indices', 'Save labels as single-channel index '
            "PNGs (mode 'L' or 'P'), not colour images; convert colour-coded"
            ' labels to class indices first')
    if image_shape is not None and tuple(seg.shape) != \
            tuple(image_shape[:2]):
        h, w = seg.shape
        ih, iw = image_shape[:2]
        image = f'its image {image_path}' if image_path else 'its image'
        raise BadDataError(
            path, f'the label map is {w}x{h} (WxH) but {image} is {iw}x{ih}',
            'A label map must have its image\'s size: re-create the label, '
            'or check that the lists pair each image with its own label')
    counts = np.bincount(seg.ravel(), minlength=256)
    valid = np.zeros(len(counts), bool)
    valid[:num_classes] = True
    if 0 <= ignore_index < len(valid):
        valid[ignore_index] = True
    bad = np.flatnonzero((counts > 0) & ~valid)
    if bad.size:
        bad = bad.tolist()
        shown = _format_values(counts, bad)
        note = f' {note}' if note else ''
        raise BadDataError(
            path, f'label values {shown}{note} are outside the '
            f'{num_classes} classes [0, {num_classes - 1}] and the ignore '
            f'index {ignore_index}',
            'Check num_classes (the model\'s decode head and this transform) '
            'and the dataset\'s classes; a colour-coded or 0/255 mask must '
            'be converted to class indices first')


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` that refuses truncated or undecodable images.

    Same arguments and outputs as mmcv's ``LoadImageFromFile``. Before
    decoding, a JPEG or PNG file is checked to be whole
    (:func:`check_image_bytes`); a decoding failure names the file.
    ``ignore_empty=True`` still skips files that cannot be read, not bad
    ones.

    Raises:
        BadDataError: The image is empty, truncated or undecodable.
    """

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            if self.file_client_args is not None:
                file_client = fileio.FileClient.infer_client(
                    self.file_client_args, filename)
                img_bytes = file_client.get(filename)
            else:
                img_bytes = fileio.get(
                    filename, backend_args=self.backend_args)
        except Exception:
            if self.ignore_empty:
                return None
            raise
        check_image_bytes(img_bytes, filename)
        try:
            img = mmcv.imfrombytes(
                img_bytes, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as exc:
            raise _decode_error(filename, 'image', exc) from exc
        if img is None:
            raise _decode_error(filename, 'image', None)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class CheckedLoadAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` that refuses bad label maps.

    Loads exactly as mmseg does (label map, ``label_map`` of the dataset,
    ``reduce_zero_label``), then checks the result with
    :func:`check_label_map`: one channel, the size of its image (the
    ``ori_shape`` set by the image loader, when it ran first) and values in
    ``[0, num_classes)`` or ``ignore_index``. A truncated PNG, or a label
    that cannot be decoded, is refused with the file named.

    Args:
        num_classes (int): Number of classes, background included (the
            decode head's ``num_classes``).
        ignore_index (int): The void label. Defaults to 255.
        **kwargs: mmseg ``LoadAnnotations`` arguments
            (``reduce_zero_label``, ``imdecode_backend``, ``backend_args``).

    Raises:
        BadDataError: The label map is truncated, undecodable, of another
            size than its image, or has values outside the classes.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255, **kwargs):
        if isinstance(num_classes, bool) or not isinstance(
                num_classes, int) or num_classes < 1:
            raise ValueError(
                f'CheckedLoadAnnotations: num_classes must be a positive '
                f'int (the number of classes, background included), got '
                f'{num_classes!r}')
        if isinstance(ignore_index, bool) or not isinstance(
                ignore_index, int) or not 0 <= ignore_index <= 255:
            raise ValueError(
                f'CheckedLoadAnnotations: ignore_index must be an int in '
                f'[0, 255] (label maps are uint8), got {ignore_index!r}')
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def _read(self, path: str) -> bytes:
        backend_args = getattr(self, 'backend_args', None)
        file_client = getattr(self, 'file_client', None)
        if backend_args is None and file_client is not None:
            return file_client.get(path)
        return fileio.get(path, backend_args=backend_args)

    def _load_seg_map(self, results: dict) -> None:
        path = results['seg_map_path']
        check_image_bytes(self._read(path), path)
        try:
            super()._load_seg_map(results)
        except (AttributeError, OSError, ValueError, SyntaxError) as exc:
            # cv2 gives None ('NoneType' has no attribute 'squeeze'),
            # pillow raises OSError / SyntaxError on broken files
            raise _decode_error(path, 'label map', exc) from exc
        notes = []
        if results.get('label_map'):
            notes.append("after the dataset's label_map")
        if getattr(self, 'reduce_zero_label', False):
            notes.append('after reduce_zero_label: the file holds each '
                         'value + 1')
        check_label_map(
            results['gt_seg_map'], path, self.num_classes,
            self.ignore_index, image_shape=results.get('ori_shape'),
            image_path=results.get('img_path'),
            note=f"({'; '.join(notes)})" if notes else '')

    def __repr__(self) -> str:
        return (super().__repr__() + f'(num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index})')
