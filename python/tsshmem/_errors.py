"""The exceptions of tsshmem: each carries a ``code`` (the same codes as the
TypeScript library where the situation is the same) and a message that says
what to do."""


class TsshmemError(Exception):
    """Base class; ``code`` names the situation (e.g. 'ENOENT', 'ERR_NOT_RING')."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class StreamNotFoundError(TsshmemError, FileNotFoundError):
    def __init__(self, message):
        TsshmemError.__init__(self, 'ENOENT', message)


class StreamExistsError(TsshmemError, FileExistsError):
    def __init__(self, message):
        TsshmemError.__init__(self, 'EEXIST', message)


class InvalidStreamError(TsshmemError):
    """The objects are not a valid ring stream (corrupt, foreign, or a plain pyshmem stream)."""


class StreamTimeoutError(TsshmemError, TimeoutError):
    def __init__(self, message):
        TsshmemError.__init__(self, 'ETIMEDOUT', message)


class AtomicsUnavailableError(TsshmemError):
    """This process cannot perform the atomic operations the protocol needs."""

    def __init__(self, message):
        TsshmemError.__init__(self, 'ERR_NO_ATOMICS', message)
