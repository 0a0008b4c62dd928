"""The clean_pipeline example: CleanPipeline on its own, then in a real crawl (pytest plugin)."""

import pytest
from clean_pipeline import CatalogSpider, CleanPipeline  # pytest puts this folder on sys.path


def product(name, price=None, sku=None):
    price_html = f'<span class="price">{price}</span>' if price is not None else ""
    sku_html = f'<p class="sku">{sku}</p>' if sku is not None else ""
    return f'<html><body><h1 class="name">{name}</h1>\n{price_html}\n{sku_html}</body></html>'


SITE = {
    "/": '<a class="product" href="/p/lamp">lamp</a> <a class="product" href="/p/desk">desk</a>'
         ' <a class="product" href="/p/ghost">ghost</a> <a class="next" href="/page/2">more</a>',
    "/page/2": '<a class="product" href="/p/chair">chair</a> <a class="product" href="/p/blank">blank</a>'
               ' <a class="product" href="/p/free">free</a>',
    "/p/lamp": product("\n   Desk   lamp\n  ", "  $12.50 ", "\tL-1\n"),
    "/p/desk": product("Oak desk", "$1,299.00"),                # no SKU: kept, sku None
    "/p/ghost": product("Ghost", price=None, sku="G-0"),        # no price: dropped
    "/p/chair": product("  Chair ", "€ 45", "C-9"),
    "/p/blank": product("   \n  ", "$5.00", "B-1"),             # a name of only spaces: dropped
    "/p/free": product("Free sample", "call us", "F-1"),        # a price that is no number: dropped
}


def test_pipeline_cleans_and_drops():
    pipe = CleanPipeline()
    assert pipe.process_record({"name": "  A \n b ", "price": " $1,000.5 ", "n": 3}, None) == {
        "name": "A b", "price": 1000.5, "n": 3}
    assert pipe.process_record({"name": "A", "price": None}, None) is None
    assert pipe.process_record({"name": " \n", "price": "1"}, None) is None
    assert pipe.process_record({"price": "1"}, None) is None
    assert pipe.process_record({"name": "A", "price": "free"}, None) is None


@pytest.mark.timeout(60)
def test_crawl_writes_clean_records_and_counts_the_dropped(crawl_spider):
    result = crawl_spider(CatalogSpider, site=SITE)
    by_name = {r["name"]: r for r in result.records}
    assert by_name == {
        "Desk lamp": {"url": result.url + "/p/lamp", "name": "Desk lamp", "price": 12.5, "sku": "L-1"},
        "Oak desk": {"url": result.url + "/p/desk", "name": "Oak desk", "price": 1299.0, "sku": None},
        "Chair": {"url": result.url + "/p/chair", "name": "Chair", "price": 45.0, "sku": "C-9"},
    }
    assert result.stats["dropped"] == 3  # ghost (no price), blank (no name), free (bad price)
    assert result.stats["records"] == 3
    assert result.stats["pages"] == len(SITE)  # every page was fetched; the pipeline only filters
