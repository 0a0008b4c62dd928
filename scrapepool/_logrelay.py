"""Log records of the fetcher processes, relayed to the coordinator's handlers.

A spawned child starts with logging unconfigured (STYLE.md, trap 4), so what a spider
logged in a callback was lost. Each fetcher's root logger gets a :class:`EventsHandler`
that sends each record, made plain, as a ``Log`` message on the fetcher's own events pipe;
the coordinator's loop hands it to the handlers that ``-v``/``-q``/``--log-file`` set up
(:func:`deliver`).

The events pipe, not a queue shared by the fetchers: a ``multiprocessing`` queue's write
lock is shared, and a fetcher killed in the middle of a write (SIGKILL for a hang, a page
that kills its process) would leave it taken for good, so every other fetcher's next log
call would block. Each fetcher's pipe has a lock of that process only, and a pipe broken
by a death is a death the coordinator already handles. ``send`` pickles and writes at the
call site: a record sent just before the fetcher's ``os._exit`` is not lost.
"""

import logging

from . import _messages as m

__all__ = ["EventsHandler", "coordinator_level", "deliver", "install_in_child"]

#: Attributes that every LogRecord has; anything else came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_PLAIN = (str, int, float, bool, type(None))


def _target():
    """The logger whose handlers show the records: the CLI configures ``scrapepool``
    (with ``propagate = False``), not the root logger; a program that configured
    logging itself (or nothing at all) has its handlers on the root logger."""
    lib = logging.getLogger("scrapepool")
    return lib if not lib.propagate else None


def coordinator_level():
    """The level the fetchers log at: the one the user chose in the coordinator."""
    target = _target()
    return (target or logging.getLogger()).getEffectiveLevel()


def plain(record):
    """The record as a dict of plain values: the message formatted, the traceback as text,
    an ``extra`` such as Spider.logger's ``record.spider`` as its str, so that nothing
    unpicklable or large crosses the process boundary."""
    state = dict(vars(record))
    state["msg"] = state["message"] = record.getMessage()
    state["args"] = None
    if record.exc_info:
        state["exc_text"] = record.exc_text or logging.Formatter().formatException(record.exc_info)
    state["exc_info"] = None
    for key, value in list(state.items()):
        if key not in _STANDARD and not isinstance(value, _PLAIN):
            try:
                state[key] = str(value)
            except Exception:
                del state[key]
    return state


class EventsHandler(logging.Handler):
    """Sends each record to the coordinator with ``send`` (runs in the fetcher)."""

    def __init__(self, send):
        super().__init__()
        self.send = send

    def emit(self, record):
        try:
            self.send(m.Log(plain(record)))
        except Exception:  # the pipe is gone (we are stopping): nothing to tell it to
            pass


def install_in_child(send, level):
    """Send every record of this process with ``send`` at ``level`` (runs in the child)."""
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    root.addHandler(EventsHandler(send))
    root.setLevel(level)
    # -v means scrapepool's and the spider's debug lines, not one per connection from urllib3
    # (the coordinator never showed those either).
    logging.getLogger("urllib3").setLevel(max(level, logging.WARNING))


def deliver(state):
    """Handle a fetcher's record here, through a logger's ``handle``, so that handler
    levels, filters and ``logging.lastResort`` apply as they would in one process."""
    record = logging.makeLogRecord(state)
    (_target() or logging.getLogger(record.name)).handle(record)
