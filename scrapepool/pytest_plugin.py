"""pytest plugin (entry point ``pytest11``): serve a site and crawl it in a test."""
