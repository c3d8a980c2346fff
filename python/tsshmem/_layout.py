"""The on-host format, exactly as docs/format.md specifies it (the one spec
this module and the TypeScript library follow): names, the 32 metadata
fields (Part 1), tsshmem's extension area (Part 2) and the ring control area
(Part 3). This module is the one place on the Python side that knows the
offsets."""
import hashlib
import math
import os
import tempfile

import numpy as np

# --- Part 1: names and the 32 float64 metadata fields ---
FORMAT_VERSION = 2
RING_ONLY_VERSION = 1002  # pyshmemFrame off: pyshmem (which checks version == 2) refuses the stream
METADATA_FIELDS = 32
MAX_NDIM = 19
MAX_COUNTER = 2 ** 53
VERSION, COUNT, DTYPE_CODE, NDIM, SIZE, GPU, DEVICE, CREATOR, WRITE_TIME, SEQUENCE, OWNER, DEPTH, MIRROR, SHAPE = range(14)

DTYPES = ['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'float16', 'float32', 'float64']


def dtype_of_code(code):
    if code != int(code) or not 0 <= code < len(DTYPES):
        return None
    return np.dtype(DTYPES[int(code)]).newbyteorder('<')


def code_of_dtype(dtype):
    """The format's code for a NumPy dtype (any byte order spelling of the 11 supported), or None."""
    dtype = np.dtype(dtype)
    if dtype.name not in DTYPES or dtype.byteorder == '>':
        return None
    return DTYPES.index(dtype.name)


def base_name(name):
    return 'ps_' + hashlib.sha1(name.encode('utf-8')).hexdigest()[:14]


def lock_directory():
    # tempfile.gettempdir() is the rule tsshmem reproduces (format.md, "<tmp>").
    return os.path.join(tempfile.gettempdir(), 'pyshmem-locks')


class Location:
    """Where a stream's objects are: /dev/shm paths and the lock file."""

    def __init__(self, name):
        self.name = name
        self.base = base_name(name)
        self.data = '/dev/shm/' + self.base
        self.meta = '/dev/shm/' + self.base + '_meta'
        self.gpu = '/dev/shm/' + self.base + '_gpu'
        self.lock = os.path.join(lock_directory(), self.base + '.lock')


def is_counter(value):
    return value == math.floor(value) and 0 <= value < MAX_COUNTER


# --- Part 2: tsshmem's extension area (bytes 256-4095) ---
EXTENDED_METADATA_BYTES = 4096
EXTENSION_MAGIC = b'tsshmem1'
EXTENSION_VERSION = 1
MAGIC_OFFSET = 256
EXTENSION_VERSION_OFFSET = 264
NOTIFY_WORD = 272
WAKE_WAITING = 276
WAKE_SLOTS = 288
WAKE_SLOT_COUNT = 64
WAKE_SLOT_BYTES = 16
NAME_LENGTH = 1312
NAME = 1316
MAX_STORED_NAME_BYTES = EXTENDED_METADATA_BYTES - NAME
# Wake slot fields (u32 words) and states.
SLOT_PID, SLOT_TOKEN, SLOT_STATE = 0, 1, 2
IDLE, WAITING, SLEEPING = 0, 1, 2

# --- Part 3: the ring control area, at byte 4096 of the metadata object ---
RING_CONTROL_OFFSET = 4096
RING_MAGIC = b'tsring01'
RING_LAYOUT_VERSION = 2  # 2: each registered reader holds an OFD lock on its entry (liveness)
MIN_HISTORY = 2
MAX_HISTORY = 65536
READER_CAPACITY = 64
HOLDS_PER_READER = 4
SLOT_HEADER_BYTES = 32
READER_ENTRY_BYTES = 32
SLOT_ALIGNMENT = 64
PAGE = 4096
FLAG_BLOCK = 1
FLAG_PYSHMEM_FRAME = 2
NO_CURSOR = 2 ** 64 - 1
# Offsets inside the control area.
C_MAGIC, C_LAYOUT_VERSION, C_FLAGS, C_SLOTS, C_STRIDE, C_SLOTS_OFFSET, C_FRAME_BYTES, C_READERS, C_HOLDS = 0, 8, 12, 16, 24, 32, 40, 48, 52
C_HEAD, C_PROGRESS, C_WRITERS_WAITING, C_SLOT_HEADERS = 64, 72, 76, 128


def round_up(value, to):
    return -(-value // to) * to


def control_bytes(slots, readers):
    return C_SLOT_HEADERS + slots * SLOT_HEADER_BYTES + readers * READER_ENTRY_BYTES


def reader_entry_offset(slots, entry):
    """Byte offset of reader entry `entry` in the metadata object: also the start of its liveness lock range."""
    return RING_CONTROL_OFFSET + C_SLOT_HEADERS + slots * SLOT_HEADER_BYTES + entry * READER_ENTRY_BYTES


class Geometry:
    """How a ring stream is laid out (format.md Part 3, "Objects")."""

    def __init__(self, slots, overflow, pyshmem_frame, frame_bytes, stride, slots_offset, readers, meta_bytes, data_bytes):
        self.slots = slots
        self.overflow = overflow
        self.pyshmem_frame = pyshmem_frame
        self.frame_bytes = frame_bytes
        self.stride = stride
        self.slots_offset = slots_offset
        self.readers = readers
        self.meta_bytes = meta_bytes
        self.data_bytes = data_bytes

    @classmethod
    def plan(cls, frame_bytes, slots, overflow, pyshmem_frame):
        stride = round_up(frame_bytes, SLOT_ALIGNMENT)
        slots_offset = round_up(frame_bytes, PAGE)
        meta_bytes = round_up(RING_CONTROL_OFFSET + control_bytes(slots, READER_CAPACITY), PAGE)
        return cls(slots, overflow, pyshmem_frame, frame_bytes, stride, slots_offset, READER_CAPACITY, meta_bytes, slots_offset + slots * stride)


def encode_new_stream(meta, name, shape, dtype_code, frame_bytes, geometry, creator_pid):
    """Fills a zeroed metadata object (a writable buffer) as tsshmem's create() does: extension area, ring
    control header, then the 32 fields with the version last (the caller puts a release barrier before it)."""
    bytes_ = np.frombuffer(meta, dtype=np.uint8)
    put = lambda offset, raw: bytes_.__setitem__(slice(offset, offset + len(raw)), np.frombuffer(raw, dtype=np.uint8))
    u32 = lambda offset, value: put(offset, int(value).to_bytes(4, 'little'))
    u64 = lambda offset, value: put(offset, int(value).to_bytes(8, 'little'))
    put(MAGIC_OFFSET, EXTENSION_MAGIC)
    u32(EXTENSION_VERSION_OFFSET, EXTENSION_VERSION)
    encoded = name.encode('utf-8')
    if len(encoded) <= MAX_STORED_NAME_BYTES:
        u32(NAME_LENGTH, len(encoded))
        put(NAME, encoded)
    control = RING_CONTROL_OFFSET
    put(control + C_MAGIC, RING_MAGIC)
    u32(control + C_LAYOUT_VERSION, RING_LAYOUT_VERSION)
    u32(control + C_FLAGS, (FLAG_BLOCK if geometry.overflow == 'block' else 0) | (FLAG_PYSHMEM_FRAME if geometry.pyshmem_frame else 0))
    u64(control + C_SLOTS, geometry.slots)
    u64(control + C_STRIDE, geometry.stride)
    u64(control + C_SLOTS_OFFSET, geometry.slots_offset)
    u64(control + C_FRAME_BYTES, geometry.frame_bytes)
    u32(control + C_READERS, geometry.readers)
    u32(control + C_HOLDS, HOLDS_PER_READER)
    fields = np.frombuffer(meta, dtype='<f8', count=METADATA_FIELDS)
    fields[COUNT] = 0
    fields[DTYPE_CODE] = dtype_code
    fields[NDIM] = len(shape)
    fields[SIZE] = frame_bytes
    fields[GPU] = 0
    fields[DEVICE] = -1
    fields[CREATOR] = creator_pid
    fields[WRITE_TIME] = 0
    fields[SEQUENCE] = 0
    fields[OWNER] = 0
    fields[DEPTH] = 0
    fields[MIRROR] = 1
    fields[SHAPE:SHAPE + len(shape)] = shape
    return fields


def decode_header(fields):
    """(header dict, None) or (None, (problem, final)); final: no creator at work can mend it."""
    version = fields[VERSION]
    if version == 0:
        return None, ('the metadata is not initialised (version 0)', False)
    if version not in (FORMAT_VERSION, RING_ONLY_VERSION):
        return None, (f'metadata version {version:g} is not the pyshmem format version {FORMAT_VERSION}', True)
    for index, label in ((COUNT, 'count'), (SEQUENCE, 'write sequence')):
        if not is_counter(fields[index]):
            return None, (f'{label} {fields[index]:g} is not an integer from 0 to 2^53', True)
    dtype = dtype_of_code(fields[DTYPE_CODE])
    if dtype is None:
        return None, (f'unknown dtype code {fields[DTYPE_CODE]:g}', False)
    ndim = fields[NDIM]
    if ndim != int(ndim) or not 1 <= ndim <= MAX_NDIM:
        return None, (f'ndim {ndim:g} is not an integer from 1 to {MAX_NDIM}', False)
    shape = [float(d) for d in fields[SHAPE:SHAPE + int(ndim)]]
    if any(d != int(d) or d < 1 or d >= MAX_COUNTER for d in shape):
        return None, ('a shape dimension is not a positive integer', False)
    shape = tuple(int(d) for d in shape)
    size = math.prod(shape) * dtype.itemsize
    if fields[SIZE] != size:
        return None, (f'size {fields[SIZE]:g} does not match shape {list(shape)} of {dtype.name} ({size} bytes)', False)
    if fields[GPU] not in (0, 1):
        return None, (f'gpu flag {fields[GPU]:g} is neither 0 nor 1', False)
    return {'dtype': dtype, 'shape': shape, 'size': size, 'gpu': fields[GPU] == 1, 'ring_only': version == RING_ONLY_VERSION}, None


def decode_ring_control(control, header, meta_object_bytes, data_object_bytes):
    """(Geometry, None) or (None, problem), as format.md Part 3 "Validation" and src/format/ring.ts."""
    if len(control) < C_SLOT_HEADERS:
        return None, f'its ring control area is truncated ({len(control)} bytes)'
    u32 = lambda offset: int.from_bytes(control[offset:offset + 4], 'little')
    u64 = lambda offset: int.from_bytes(control[offset:offset + 8], 'little')
    version = u32(C_LAYOUT_VERSION)
    if version == 1:
        return None, ('ring layout version 1 was written by an older tsshmem, whose readers hold no liveness lock: '
                      'remove the stream and create it again')
    if version != RING_LAYOUT_VERSION:
        return None, f'ring layout version {version} is not {RING_LAYOUT_VERSION}'
    flags, slots, stride, slots_offset = u32(C_FLAGS), u64(C_SLOTS), u64(C_STRIDE), u64(C_SLOTS_OFFSET)
    frame_bytes, readers, holds = u64(C_FRAME_BYTES), u32(C_READERS), u32(C_HOLDS)
    if not MIN_HISTORY <= slots <= MAX_HISTORY:
        return None, f'ring history {slots} is not from {MIN_HISTORY} to {MAX_HISTORY}'
    if frame_bytes != header['size']:
        return None, f'ring frame size {frame_bytes} differs from the payload size {header["size"]}'
    if stride < frame_bytes or stride % 8:
        return None, f'ring slot stride {stride} does not fit a frame of {frame_bytes} bytes'
    if slots_offset < frame_bytes or slots_offset % 8:
        return None, f'ring slots offset {slots_offset} overlaps the payload'
    if not 1 <= readers <= 4096 or holds != HOLDS_PER_READER:
        return None, f'ring reader table of {readers} entries x {holds} holds is not supported'
    if flags & ~(FLAG_BLOCK | FLAG_PYSHMEM_FRAME):
        return None, f'unknown ring flags {flags}'
    data_bytes = slots_offset + slots * stride
    if data_bytes > data_object_bytes:
        return None, f'its data object is {data_object_bytes} bytes, shorter than its {slots} ring slots need ({data_bytes})'
    meta_bytes = RING_CONTROL_OFFSET + control_bytes(slots, readers)
    if meta_bytes > meta_object_bytes:
        return None, f'its metadata object is {meta_object_bytes} bytes, shorter than its ring control area needs ({meta_bytes})'
    pyshmem_frame = bool(flags & FLAG_PYSHMEM_FRAME)
    if pyshmem_frame == header['ring_only']:
        return None, 'its metadata version contradicts its ring flags'
    overflow = 'block' if flags & FLAG_BLOCK else 'overwrite'
    return Geometry(slots, overflow, pyshmem_frame, frame_bytes, stride, slots_offset, readers, meta_object_bytes, data_object_bytes), None
