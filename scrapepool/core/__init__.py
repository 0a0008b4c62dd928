"""The coordinator: what runs in the main process of a crawl.

The engine's loop (:mod:`.engine`), a request's life (:mod:`.ledger`), the frontier behind
:class:`~.frontier_protocol.FrontierAPI` (:mod:`.frontier`, with :mod:`.pending`,
:mod:`.depth`, :mod:`.hosts`), the job queue the fetchers read (:mod:`.jobqueue`), the
processes (:mod:`.supervisor`), the job directory (:mod:`.jobdir`), stats and progress.
Nothing under :mod:`scrapepool.spiders` imports from here.
"""
