"""The quotes example (quotes.py) against the bundled demo site, with scrapepool's pytest plugin.

The ``crawl_spider`` fixture comes with scrapepool (a pytest11 plugin): it serves the site on
127.0.0.1, runs the real engine (fetcher and writer processes) and hands back the records.
"""

import pytest
from quotes import QuotesSpider  # pytest puts this folder on sys.path (no __init__.py here)

from scrapepool.demo import build_site, expected_counts


@pytest.mark.timeout(60)
def test_quotes_spider_finds_every_quote_and_author(crawl_spider):
    expected = expected_counts()
    result = crawl_spider(QuotesSpider, site=build_site())

    quotes = [r for r in result.records if r["kind"] == "quote"]
    authors = [r for r in result.records if r["kind"] == "author"]
    assert len(quotes) == expected["quotes"]
    assert len(authors) == expected["authors"]
    assert len(result.records) == expected["spider_records"]
    assert len({q["text"] for q in quotes}) == expected["quotes"]  # no quote twice
    assert {a["name"] for a in authors} == {q["author"] for q in quotes}

    # Every list page and author page once, plus the one broken "(about)" link: a 404.
    assert result.stats["requests"] == expected["spider_requests"]
    assert result.stats["status"] == {"200": expected["spider_requests"] - 1, "404": 1}
    assert result.count(expected["broken_link"]) == 1
    assert result.count("/tag/") == 0  # tags are not followed
    assert all(count == 1 for count in map(result.count, {p for _, p in result.requests}))

    first = quotes[0]
    assert first["text"] == "It does not matter how slowly you go as long as you do not stop."
    assert first == {"kind": "quote", "text": first["text"], "author": "Confucius",
                     "tags": ["success", "life"]}
    confucius = next(a for a in authors if a["name"] == "Confucius")
    assert confucius["born_date"] == "551 BC" and confucius["born_location"] == "Qufu, State of Lu"
