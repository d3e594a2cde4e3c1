"""The embedded default's server-less broker: kombu's file-system transport, made safe to read.

kombu creates a message file and then writes it, so a consumer listing the
folder in between can take an empty file, fail to decode it and stop the
worker. Here a message is written under a temporary name the consumers
ignore, then renamed into place: a rename is atomic, so a consumer sees a
whole message or none.
"""

import itertools
import os
import uuid
from time import monotonic_ns
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# Consumers take messages in the order of their file names: a zero-padded
# clock in nanoseconds (system-wide on Linux), then this process's own count,
# so two messages of one process never swap places, even in the same tick.
_sequence = itertools.count()


class Channel(filesystem.Channel):
    # Same signature as kombu's file-system channel (whose stubs already differ from the base channel's).
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{monotonic_ns():020d}_{next(_sequence):012d}_{uuid.uuid4().hex}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Consumers only take names ending in ".<queue>.msg".
        partial = f"{final}.partial"
        try:
            with open(partial, "wb") as stream:
                stream.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as error:
            raise ChannelError(f"Cannot add {name!r} to the queue folder") from error


class Transport(filesystem.Transport):
    Channel = Channel
