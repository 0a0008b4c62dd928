"""What a fetcher process runs: the fetch loop (:mod:`.fetcher`), HTTP (:mod:`.downloader`),
cookie jars (:mod:`.cookies`) and the HTTP cache (:mod:`.httpcache`)."""
