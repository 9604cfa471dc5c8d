"""The event line between the GUI and the training child (issue 14, item 1), in one process.

The child's end is driven from this test: whole events, a large preview, a message cut in the
middle (the child killed while sending) and garbage; the GUI's end must never block.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import struct
import sys

import numpy as np

from ugpcl_engine.training.channel import (
    EventReceiver,
    EventSender,
    SharedFlag,
    exit_with_parent,
    shared_index,
)
from ugpcl_engine.training.events import Finished, Preview


def _line() -> tuple[EventReceiver, EventSender]:
    reader, writer = mp.Pipe(duplex=False)
    return EventReceiver(reader), EventSender(writer)


def test_events_arrive_whole_and_in_order_then_the_line_ends() -> None:
    receiver, sender = _line()
    labels = np.random.default_rng(0).integers(0, 3, (512, 512), dtype=np.uint8)
    entropy = np.linspace(0, 1, 512 * 512, dtype=np.float32).reshape(512, 512)
    sender.put(Preview(3, 7, labels, entropy))  # 1.25 MiB: far more than a pipe holds
    sender.put(Finished("model.pt", 5, 1.0))
    sender._connection.close()  # the child's exit
    assert receiver.wait_closed(10)
    preview, finished = receiver.drain(10)
    assert isinstance(preview, Preview) and preview.slice_index == 7
    assert np.array_equal(preview.labels_hw, labels) and np.array_equal(preview.entropy_hw, entropy)
    assert finished == Finished("model.pt", 5, 1.0)
    assert receiver.ended and not receiver.torn and receiver.drain(10) == []


def test_a_message_cut_in_the_middle_ends_the_line_as_torn() -> None:
    receiver, sender = _line()
    assert receiver.drain(10) == [], "nothing received: drain returns at once"
    sender.put(Finished("model.pt", 5, 1.0))
    # the first KiB of a 1 MiB message, then the child's end closes (a kill)
    os.write(sender.fileno(), struct.pack("!i", 1 << 20) + bytes(1024))
    sender._connection.close()
    assert receiver.wait_closed(10)
    assert receiver.drain(10) == [Finished("model.pt", 5, 1.0)], "events before it are kept"
    assert receiver.torn and receiver.ended


def test_bytes_that_are_not_an_event_end_the_line_as_torn() -> None:
    receiver, sender = _line()
    sender._connection.send_bytes(b"not a pickle")
    assert receiver.wait_closed(10)
    assert receiver.torn and receiver.drain(10) == []


def test_a_paused_receiver_leaves_messages_in_the_pipe_until_resumed() -> None:
    receiver, sender = _line()
    receiver.pause()
    sender.put(Finished("model.pt", 1, 1.0))
    assert not receiver.wait_closed(0.2) and receiver.drain(10) == []
    if sys.platform != "win32":
        assert receiver.unread_bytes() > 0, "the message waits in the pipe"
    receiver.resume()
    sender._connection.close()
    assert receiver.wait_closed(10)
    assert receiver.drain(10) == [Finished("model.pt", 1, 1.0)]


def test_shared_values_have_no_lock_to_leave_held() -> None:
    ctx = mp.get_context("spawn")
    flag, index = SharedFlag(ctx), shared_index(ctx, 4)
    assert not flag.is_set()
    flag.set()
    assert flag.is_set()
    assert index.value == 4 and not hasattr(index, "get_lock")


def test_the_parent_watch_only_starts_in_a_child_process() -> None:
    assert exit_with_parent() is False  # the test process has no multiprocessing parent
