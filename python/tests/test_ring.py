"""Unit tests of python/tsshmem in one process (threads stand in for peers).
Run: PYTHONPATH=python python3 -m unittest discover -s python/tests"""
import os
import select
import signal
import subprocess
import sys
import threading
import unittest
import uuid

import numpy as np

import tsshmem
from tsshmem import _layout

HERE = os.path.dirname(os.path.abspath(__file__))


class RingTestCase(unittest.TestCase):
    def name(self):
        name = f'tsshmem-pytest/{os.getpid()}/{uuid.uuid4().hex[:8]}'
        self.addCleanup(tsshmem.unlink, name)
        return name

    def stream(self, **options):
        options.setdefault('history', 4)
        name = self.name()
        writer = tsshmem.create(name, options.pop('shape', (2, 3)), options.pop('dtype', 'int32'), **options)
        self.addCleanup(writer.close)
        reader = tsshmem.open(name)
        self.addCleanup(reader.close)
        return name, writer, reader


class Names(unittest.TestCase):
    def test_base_names_match_the_spec_examples(self):
        examples = {'demo_frame': 'ps_aa37dcd1cf787c', 'a': 'ps_86f7e437faa5a7', 'héllo wörld': 'ps_24e9f5c07847ff', 'fmt-example': 'ps_2c5e1cf4035751'}
        for name, base in examples.items():
            self.assertEqual(_layout.base_name(name), base)


class Frames(RingTestCase):
    def test_next_returns_every_frame_in_order_with_counts(self):
        _, writer, reader = self.stream()
        for n in range(1, 4):
            writer.write(np.full((2, 3), n))
        for n in range(1, 4):
            self.assertTrue((reader.next(timeout=1) == n).all())
            self.assertEqual((reader.last_count, reader.missed), (n, 0))
        self.assertGreater(reader.last_write_time, 0)
        self.assertEqual(writer.count, 3)

    def test_a_reader_more_than_history_behind_gets_the_oldest_held_frame_and_counts_the_loss(self):
        _, writer, reader = self.stream(history=4)
        for n in range(1, 11):
            writer.write(np.full((2, 3), n))
        self.assertTrue((reader.next(timeout=1) == 7).all())
        self.assertEqual((reader.missed, reader.total_missed), (6, 6))

    def test_loan_publishes_in_place_and_an_unpublished_loan_publishes_nothing(self):
        _, writer, reader = self.stream()
        with writer.loan() as slot:
            slot.array[...] = 5
        with writer.loan() as slot:
            slot.array[...] = 6
            slot.publish()
        self.assertTrue((reader.next(timeout=1) == 6).all())
        self.assertEqual(writer.count, 1)
        with self.assertRaises(tsshmem.StreamTimeoutError):
            reader.next(timeout=0.01)

    def test_a_second_loan_in_the_same_thread_is_refused(self):
        name, writer, _ = self.stream()
        other = tsshmem.open(name)
        self.addCleanup(other.close)
        loan = writer.loan()
        with self.assertRaises(tsshmem.TsshmemError) as caught:
            other.write(np.zeros((2, 3), np.int32))
        self.assertEqual(caught.exception.code, 'ERR_LOAN_ACTIVE')
        loan.publish()
        other.write(np.zeros((2, 3), np.int32))

    def test_a_held_view_keeps_its_slot_while_writers_go_round(self):
        _, writer, reader = self.stream(history=4)
        writer.write(np.full((2, 3), 1))
        view = reader.next_view(timeout=1)
        for n in range(2, 12):
            writer.write(np.full((2, 3), n))
        self.assertTrue((view.array == 1).all())
        self.assertFalse(view.array.flags.writeable)
        view.release()
        self.assertIsNone(view.array)

    def test_block_mode_writers_wait_for_registered_readers_then_time_out(self):
        _, writer, reader = self.stream(history=2, overflow='block')
        reader.register()
        writer.write(np.zeros((2, 3), np.int32))
        writer.write(np.zeros((2, 3), np.int32))
        with self.assertRaises(tsshmem.StreamTimeoutError) as caught:
            writer.write(np.zeros((2, 3), np.int32), timeout=0.05)
        self.assertIn('no room', str(caught.exception))
        self.assertEqual(writer.count, 2)
        reader.next(timeout=1)
        writer.write(np.zeros((2, 3), np.int32), timeout=1)

    def test_a_reader_thread_asleep_in_next_is_woken_by_a_write(self):
        _, writer, reader = self.stream(overflow='block')
        reader.register()  # before the thread runs: the writer then waits for it
        got = []
        thread = threading.Thread(target=lambda: got.extend(int(reader.next(timeout=20).flat[0]) for _ in range(50)))
        thread.start()
        for n in range(1, 51):
            writer.write(np.full((2, 3), n), timeout=20)
        thread.join(30)
        self.assertEqual(got, list(range(1, 51)))

    def test_read_returns_the_newest_frame_and_next_continues_after_it(self):
        _, writer, reader = self.stream()
        for n in range(1, 4):
            writer.write(np.full((2, 3), n))
        self.assertTrue((reader.read() == 3).all())
        writer.write(np.full((2, 3), 4))
        self.assertTrue((reader.next(timeout=1) == 4).all())

    def test_next_into_out_reuses_the_array(self):
        _, writer, reader = self.stream()
        writer.write(np.arange(6).reshape(2, 3))
        out = np.empty((2, 3), np.int32)
        self.assertIs(reader.next(timeout=1, out=out), out)
        self.assertEqual(out.tolist(), [[0, 1, 2], [3, 4, 5]])


class BadInput(RingTestCase):
    def test_bad_arguments_raise_with_codes_and_create_nothing(self):
        name = self.name()
        cases = [dict(shape=(2,), dtype='complex64', history=4), dict(shape=(0,), history=4), dict(shape=(2,), history=1),
                 dict(shape=(2,), history=4, overflow='drop'), dict(shape=(2,), history=4, mode=0o1777)]
        for options in cases:
            with self.assertRaises(tsshmem.TsshmemError):
                tsshmem.create(name, **options)
            self.assertFalse(os.path.exists(_layout.Location(name).meta))

    def test_open_of_a_missing_stream_and_create_of_an_existing_one(self):
        name, _, _ = self.stream()
        with self.assertRaises(tsshmem.StreamExistsError):
            tsshmem.create(name, (2, 3), 'int32', history=4)
        with self.assertRaises(tsshmem.StreamNotFoundError):
            tsshmem.open(name + '-missing')

    def test_a_frame_of_the_wrong_shape_or_kind_is_refused(self):
        _, writer, _ = self.stream()
        with self.assertRaises(tsshmem.TsshmemError):
            writer.write(np.zeros(7))
        with self.assertRaises(tsshmem.TsshmemError):
            writer.write(np.full((2, 3), 1.5))
        self.assertEqual(writer.count, 0)

    def test_a_plain_pyshmem_stream_is_refused_with_a_pointer_to_pyshmem(self):
        name = self.name()
        location = _layout.Location(name)
        for path, size in ((location.data, 8), (location.meta, 256)):
            with open(path, 'wb') as file:
                file.truncate(size)
        fields = np.memmap(location.meta, '<f8', 'r+', shape=(32,))
        fields[[_layout.DTYPE_CODE, _layout.NDIM, _layout.SIZE, _layout.MIRROR, _layout.SHAPE, _layout.VERSION]] = [9, 1, 8, 1, 2, 2]
        fields.flush()
        with self.assertRaises(tsshmem.InvalidStreamError) as caught:
            tsshmem.open(name)
        self.assertEqual(caught.exception.code, 'ERR_NOT_RING')
        self.assertIn('pyshmem', str(caught.exception))


# A reader in another process: opens the stream, registers, prints its entry, then waits for stdin to close.
_CHILD_READER = ('import sys, tsshmem; r = tsshmem.open(sys.argv[1]); assert r.register(); print(r._entry, flush=True); '
                 'sys.stdin.read(); r.close()')
# No process has this pid anywhere: Linux pid_max is at most 2^22.
_NO_SUCH_PID = 2 ** 22 + 1


class ReaderLiveness(RingTestCase):
    """Ring layout version 2: a registered reader's liveness is its OFD lock on its entry, not its pid."""

    def spawn(self, argv, **options):
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, **options)

        def stop():
            if process.poll() is None:
                process.kill()
            process.wait(30)
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
        self.addCleanup(stop)
        return process

    def child_reader(self, name):
        env = dict(os.environ, PYTHONPATH=os.path.join(HERE, '..'))
        child = self.spawn([sys.executable, '-c', _CHILD_READER, name], stdout=subprocess.PIPE, env=env)
        ready, _, _ = select.select([child.stdout], [], [], 30)
        line = child.stdout.readline() if ready else b''
        self.assertTrue(line.strip().isdigit(), f'the child reader did not register: {line!r}')
        return child, int(line)

    def entry_pid_word(self, name, writer, entry):
        """The pid word of a reader entry, as a writable NumPy view of the _meta object."""
        words = np.memmap(_layout.Location(name).meta, '<u4', 'r+', offset=_layout.reader_entry_offset(writer.history, entry), shape=(1,))
        self.addCleanup(lambda: words._mmap.close())
        return words

    def block_stream(self):
        name, writer, reader = self.stream(history=2, overflow='block')
        reader.close()
        return name, writer

    def fill(self, writer):
        for _ in range(writer.history):
            writer.write(np.zeros((2, 3), np.int32), timeout=1)

    def assert_entry_kept(self, name, writer, holder):
        """holder's entry still counts: it holds a filled block-mode writer back, and a new reader gets another entry."""
        self.fill(writer)
        with self.assertRaises(tsshmem.StreamTimeoutError):
            writer.write(np.ones((2, 3), np.int32), timeout=0.05)
        other = tsshmem.open(name)
        self.addCleanup(other.close)
        self.assertTrue(other.register())
        self.assertNotEqual(other._entry, holder._entry)

    def test_a_killed_reader_whose_pid_now_names_a_live_process_is_reaped(self):
        name, writer = self.block_stream()
        child, entry = self.child_reader(name)
        self.fill(writer)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        # Its pid reused: the entry now names a live, unrelated process of this namespace.
        sleeper = self.spawn(['sleep', '30'])
        self.entry_pid_word(name, writer, entry)[0] = sleeper.pid
        writer.write(np.ones((2, 3), np.int32), timeout=2)  # kill(pid, 0) said alive: this timed out
        self.assertEqual(writer.count, 3)

    def test_a_new_reader_takes_the_entry_of_a_killed_one_whose_pid_names_a_live_process(self):
        name, writer = self.block_stream()
        child, entry = self.child_reader(name)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        sleeper = self.spawn(['sleep', '30'])
        self.entry_pid_word(name, writer, entry)[0] = sleeper.pid
        reader = tsshmem.open(name)
        self.addCleanup(reader.close)
        self.assertTrue(reader.register())
        self.assertEqual(reader._entry, entry)

    def test_a_live_reader_in_another_process_keeps_block_mode_writers_waiting(self):
        name, writer = self.block_stream()
        child, entry = self.child_reader(name)
        self.fill(writer)
        with self.assertRaises(tsshmem.StreamTimeoutError):
            writer.write(np.ones((2, 3), np.int32), timeout=0.1)
        # Its pid word names no process here (as a reader of another pid namespace may): its lock still counts.
        self.entry_pid_word(name, writer, entry)[0] = _NO_SUCH_PID
        with self.assertRaises(tsshmem.StreamTimeoutError):
            writer.write(np.ones((2, 3), np.int32), timeout=0.1)
        self.assertEqual(writer.count, 2)
        child.stdin.close()  # the child closes its handle and exits
        child.wait(30)
        writer.write(np.ones((2, 3), np.int32), timeout=2)
        self.assertEqual(writer.count, 3)

    def test_a_handle_registered_as_a_reader_never_reaps_its_own_entry(self):
        name, writer = self.block_stream()
        self.assertTrue(writer.register())
        self.assert_entry_kept(name, writer, writer)

    def test_close_in_a_forked_child_leaves_the_registering_process_its_entry(self):
        name, writer = self.block_stream()
        reader = tsshmem.open(name)
        self.addCleanup(reader.close)
        self.assertTrue(reader.register())
        pid = os.fork()
        if pid == 0:
            reader.close()  # shares the parent's lock (one open file description): must not free its entry
            os._exit(0)
        self.assertEqual(os.waitpid(pid, 0)[1], 0)
        self.assert_entry_kept(name, writer, reader)

    def test_a_ring_of_layout_version_1_is_refused_with_a_pointer_to_recreate_it(self):
        name, writer = self.block_stream()
        writer.close()
        version = np.memmap(_layout.Location(name).meta, '<u4', 'r+', offset=_layout.RING_CONTROL_OFFSET + _layout.C_LAYOUT_VERSION, shape=(1,))
        self.assertEqual(int(version[0]), 2)
        version[0] = 1
        version.flush()
        del version
        with self.assertRaises(tsshmem.InvalidStreamError) as caught:
            tsshmem.open(name)
        self.assertEqual(caught.exception.code, 'ERR_INVALID_STREAM')
        self.assertIn('ring layout version 1 was written by an older tsshmem, whose readers hold no liveness lock: '
                      'remove the stream and create it again', str(caught.exception))


class Atomics(unittest.TestCase):
    def test_both_backends_pass_a_ring_round_trip(self):
        script = ('import tsshmem, numpy as np, os; n = "tsshmem-pytest/atomics/%d" % os.getpid(); '
                  'w = tsshmem.create(n, 4, "int32", history=2); r = tsshmem.open(n); w.write(np.arange(4)); '
                  'v = r.next_view(timeout=1); print(tsshmem._atomics.load().name, int(v.array.sum())); v.release(); '
                  'r.close(); w.close(); tsshmem.unlink(n)')
        for backend in ('inline', 'libatomic'):
            env = dict(os.environ, TSSHMEM_ATOMICS=backend, PYTHONPATH=os.path.join(HERE, '..'))
            done = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True, text=True, timeout=60)
            self.assertEqual((done.returncode, done.stdout.strip()), (0, f'{backend} 6'), done.stderr)

    def test_an_unknown_backend_fails_with_a_clear_error(self):
        env = dict(os.environ, TSSHMEM_ATOMICS='magic', PYTHONPATH=os.path.join(HERE, '..'))
        done = subprocess.run([sys.executable, '-c', 'import tsshmem; tsshmem.create("x", 1, history=2)'], env=env, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn('TSSHMEM_ATOMICS', done.stderr)


if __name__ == '__main__':
    unittest.main()
