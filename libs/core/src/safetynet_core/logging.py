"""Structured logs: one JSON object per line from structlog and from the standard library (uvicorn, asyncio,
tracebacks included), personal data masked (`safetynet_core.masking`) before anything is written."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Mapping, MutableMapping
from types import TracebackType
from typing import Any

import structlog

from safetynet_core.masking import mask_id_numbers, mask_personal_data, mask_text

__all__ = ["configure_logging", "get_logger", "mask_id_numbers", "mask_text"]

_PLAIN = (str, int, float, bool, type(None), dict, list, tuple)
# uvicorn installs its own handlers on these; they are removed so that every line goes through ours.
_OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic")


def _mask_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """Mask every value; objects are rendered with repr() first so that nothing escapes as an unmasked repr."""
    return {
        key: mask_personal_data(value if isinstance(value, _PLAIN) else repr(value), key)
        for key, value in event_dict.items()
    }


def _add_service(service: str) -> Any:
    def add(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    return add


def _log_uncaught(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    logging.getLogger("uncaught").error("uncaught exception", exc_info=(kind, value, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        logging.getLogger("uncaught").error(
            "uncaught exception in thread %s",
            getattr(args.thread, "name", "?"),
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )


def configure_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    """structlog and the standard library's root logger both render through one masked processor chain."""
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_service(service),
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            _mask_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.StackInfoRenderer(),
                _mask_processor,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _OWN_HANDLERS:
        own = logging.getLogger(name)
        own.handlers.clear()
        own.propagate = True
    for noisy in ("aiokafka", "temporalio", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
