"""What the writer process runs: the writer loop (:mod:`.writer`), the output formats
(:mod:`.exporters`) and the job database it commits to (:mod:`.jobdb`)."""
