"""The commands a spider is written with, before any crawl: ``shell``, ``fetch`` and ``genspider``.

They run in the command's own process, on the crawl's own parts (the downloader, the
settings, the Response the fetcher builds), so what they show is what a spider will get.
"""
