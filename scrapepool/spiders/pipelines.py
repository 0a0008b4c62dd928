"""Record pipelines: clean, validate or drop records, in the fetcher processes.

A pipeline is any class with (all optional) ``open(spider)``,
``process_record(record, spider)`` and ``close(spider)``. ``process_record``
returns the record, a changed record, or None to drop it. They run where the
record is made, in the fetchers, so they use every core.
"""

from .loading import load_pipeline

__all__ = ["PipelineRunner"]


class PipelineRunner:
    """The pipelines of one fetcher process, in order."""

    def __init__(self, spider, pipelines):
        self.spider = spider
        self.pipelines = pipelines

    @classmethod
    def from_spider(cls, spider, settings):
        refs = list(getattr(spider, "pipelines", ()) or ()) + list(settings.pipelines)
        pipes = [load_pipeline(ref)() for ref in refs]
        for pipe in pipes:
            if hasattr(pipe, "open"):
                pipe.open(spider)
        return cls(spider, pipes)

    def __bool__(self):
        return bool(self.pipelines)

    def process(self, records):
        """Run every record through the pipelines: (kept records, number dropped, error texts)."""
        kept, dropped, errors = [], 0, []
        for record in records:
            for pipe in self.pipelines:
                try:
                    record = pipe.process_record(record, self.spider)
                except BaseException as exc:  # noqa: B036 - sys.exit() in a pipeline too
                    errors.append(f"pipeline {type(pipe).__name__}: {type(exc).__name__}: {exc}")
                    record = None
                if record is None:
                    dropped += 1
                    break
            else:
                kept.append(record)
        return kept, dropped, errors

    def close(self):
        for pipe in self.pipelines:
            if hasattr(pipe, "close"):
                try:
                    pipe.close(self.spider)
                except Exception:  # one failing close must not strand the others
                    pass
