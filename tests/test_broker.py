"""The embedded broker writes each message whole before a consumer can see it."""

import os
from pathlib import Path

from kombu import Connection

from itsm.broker import Transport


def test_messages_are_renamed_into_place_whole(tmp_path: Path) -> None:
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(tmp_path)}
    with Connection(transport=Transport, transport_options=options) as connection:
        queue = connection.SimpleQueue("itsm.test")
        queue.put({"n": 1})
        queue.put({"n": 2})
        names = sorted(os.listdir(folder))
        assert len(names) == 2
        assert all(name.endswith(".itsm.test.msg") for name in names)
        received = [queue.get(timeout=1) for _ in range(2)]
        assert [message.payload for message in received] == [{"n": 1}, {"n": 2}]
        for message in received:
            message.ack()
        queue.close()
    assert os.listdir(folder) == []
