"""Deadlines for receiving a request, for a server that faces its clients directly.

uvicorn's keep-alive timeout runs only between a response and the next request's first byte.
A client that trickles a request's headers a byte at a time (slow-loris), or announces a body and
never sends it, holds its connection — and a file descriptor — for as long as it likes; enough
of them and the server can accept nobody else. Here, as nginx's ``client_header_timeout`` and
``client_body_timeout`` do in front of a server:

- a request's line and headers must all arrive within ``head_timeout_s`` of the connection
  opening or of the previous response;
- a body must not pause for longer than ``body_idle_s`` between two parts (a slow link sending
  a large body steadily is never cut off; one that stops is);
- and, as nginx's ``send_timeout``, a client must not leave an answer unread for longer than
  ``send_stalled_s``: one that never reads held the answer (megabytes of GeoJSON) in the
  server's memory, and its connection, for ever.

The connection is then closed, as uvicorn's keep-alive timeout closes one (dropped, for an
answer not taken). While the server itself has stopped reading (the app is not taking the body
yet), the body's clock does not run. A pipelined request (sent before the answer to the one
before it) gets the same deadlines as any other. Written here because uvicorn has none of these
timeouts (its h11 protocol is extended, not copied).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the head, body and send deadlines (class attributes, seconds;
    see ``with_deadlines``)."""

    head_timeout_s: float = 20.0
    body_idle_s: float = 20.0
    send_stalled_s: float = 60.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._sending: asyncio.TimerHandle | None = None
        self._unsent = 0
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        cycle = self.cycle
        if cycle is not None and cycle is not self._waited_after and cycle.more_body and not self.transport.is_closing():
            self._arm(self.body_idle_s, self._body_stalled)  # a part of the body came: its clock starts again

    def on_response_complete(self) -> None:
        finished = self.cycle
        super().on_response_complete()  # may start a pipelined request at once: it is not "finished"
        if not self.transport.is_closing():
            self._await_head(after=finished)

    def pause_writing(self) -> None:
        super().pause_writing()
        self._stop_send_clock()
        self._start_send_clock()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._stop_send_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._stop_send_clock()
        super().connection_lost(exc)

    def _await_head(self, *, after: Any = None) -> None:
        """The next request's head must arrive in full before ``head_timeout_s``."""
        self._waited_after = after  # the request before it (None on a new connection)
        self._arm(self.head_timeout_s, self._head_late)

    def _start_send_clock(self) -> None:
        self._unsent = self.transport.get_write_buffer_size()
        self._sending = self.loop.call_later(self.send_stalled_s, self._send_stalled)

    def _send_stalled(self) -> None:
        """Still over the buffer's high-water mark after ``send_stalled_s``: a client that took
        some of the answer meanwhile gets another ``send_stalled_s``; one that took nothing is
        dropped (abort, not close, which would wait to send what is buffered)."""
        self._sending = None
        if self.transport.is_closing():
            return
        if self.transport.get_write_buffer_size() < self._unsent:
            self._start_send_clock()
            return
        self.logger.info("%s:%s - dropping the connection: the client stopped reading the response", *(self.client or ("?", "?")))
        self.transport.abort()

    def _stop_send_clock(self) -> None:
        if self._sending is not None:
            self._sending.cancel()
            self._sending = None

    def _head_late(self) -> None:
        if self.cycle is self._waited_after:  # no new request began
            self._close("request head not received in time")
        elif self.cycle is not None and self.cycle.more_body:
            self._body_stalled()

    def _body_stalled(self) -> None:
        cycle = self.cycle
        if cycle is None or not cycle.more_body or self.transport.is_closing():
            return
        if self.flow.read_paused:  # the server is not reading: not the client's delay
            self._arm(self.body_idle_s, self._body_stalled)
            return
        self._close("request body stalled")

    def _close(self, why: str) -> None:
        if not self.transport.is_closing():
            self.logger.info("%s:%s - closing the connection: %s", *(self.client or ("?", "?")), why)
            self.transport.close()

    def _arm(self, seconds: float, then: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, then)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


def with_deadlines(head_timeout_s: float, body_idle_s: float, send_stalled_s: float) -> type[DeadlineH11Protocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` with these deadlines (seconds)."""
    return type("DeadlineH11Protocol", (DeadlineH11Protocol,),
                {"head_timeout_s": float(head_timeout_s), "body_idle_s": float(body_idle_s), "send_stalled_s": float(send_stalled_s)})
