"""tsshmem for Python: ring streams of NumPy arrays in shared memory, shared
with Node processes that use the tsshmem npm package (docs/python.md).

    import tsshmem
    with tsshmem.create('camera', shape=(480, 640), dtype='uint16', history=64, overflow='block') as stream:
        with stream.loan() as slot:
            slot.array[...] = frame
            slot.publish()

Needs only NumPy and the standard library, on Linux. The on-host format is
docs/format.md, the spec the TypeScript library follows too."""
from ._errors import (AtomicsUnavailableError, InvalidStreamError, StreamExistsError, StreamNotFoundError,
                      StreamTimeoutError, TsshmemError)
from .stream import Loan, RingStream, View, create, open, unlink

__version__ = '0.1.0'
__all__ = ['create', 'open', 'unlink', 'RingStream', 'Loan', 'View', 'TsshmemError', 'StreamNotFoundError',
           'StreamExistsError', 'InvalidStreamError', 'StreamTimeoutError', 'AtomicsUnavailableError']
