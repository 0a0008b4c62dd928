"""Sitemap parsing against Scrapy's own tests (issue 16, "Scrapy users at home"): a sitemap given
as ``str`` with an XML encoding declaration parses; entities are never expanded.

Ported from scrapy/scrapy tests/test_utils_sitemap.py; each test names the Scrapy test it
follows. Where scrapepool deliberately differs, the docstring says so.
"""

import pytest

from scrapepool.spiders.sitemap import Sitemap, sitemap_urls_from_robots

URLSET_084 = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.google.com/schemas/sitemap/0.84">
<url>
<loc>http://www.example.com/</loc>
<lastmod>2009-08-16</lastmod>
<changefreq>daily</changefreq>
<priority>1</priority>
</url>
<url>
<loc>http://www.example.com/Special-Offers.html</loc>
<lastmod>2009-08-16</lastmod>
<changefreq>weekly</changefreq>
<priority>0.8</priority>
</url>
</urlset>"""

EXPECTED_084 = [
    {"priority": "1", "loc": "http://www.example.com/", "lastmod": "2009-08-16", "changefreq": "daily"},
    {"priority": "0.8", "loc": "http://www.example.com/Special-Offers.html", "lastmod": "2009-08-16",
     "changefreq": "weekly"},
]


def test_sitemap():
    """Scrapy: test_sitemap."""
    s = Sitemap(URLSET_084)
    assert s.type == "urlset"
    assert list(s) == EXPECTED_084


def test_sitemap_str():
    """Scrapy: test_sitemap_str -- a str with an encoding declaration parses (lxml alone refuses
    it: "Unicode strings with encoding declaration are not supported"). Scrapy warns that str is
    deprecated; scrapepool takes it without a warning."""
    xmltext = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.google.com/schemas/sitemap/0.84">
<url><loc>http://www.example.com/</loc></url>
</urlset>"""
    s = Sitemap(xmltext)
    assert s.type == "urlset"
    assert list(s) == [{"loc": "http://www.example.com/"}]
    assert list(Sitemap(URLSET_084.decode())) == EXPECTED_084


@pytest.mark.parametrize("decl", [
    "<?xml version='1.0' encoding='ISO-8859-1' standalone='yes'?>",
    '\ufeff<?xml version="1.0" encoding="windows-1252"?>',
    '\n  <?xml version="1.0"\n encoding = "UTF-16"?>',
])
def test_sitemap_str_declaring_another_encoding(decl):
    """Scrapy: test_sitemap_str -- the text is decoded already, so whatever encoding its
    declaration names, non-ASCII characters come out as they are (Scrapy would re-encode the
    text as UTF-8 and read it in the declared encoding)."""
    s = Sitemap(decl + '<urlset><url><loc>http://www.example.com/caf\u00e9/\u20ac</loc></url></urlset>')
    assert s.type == "urlset"
    assert list(s) == [{"loc": "http://www.example.com/caf\u00e9/\u20ac"}]


def test_sitemap_index():
    """Scrapy: test_sitemap_index."""
    s = Sitemap(b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap>
  <loc>http://www.example.com/sitemap1.xml.gz</loc>
  <lastmod>2004-10-01T18:23:17+00:00</lastmod>
</sitemap>
<sitemap>
  <loc>http://www.example.com/sitemap2.xml.gz</loc>
  <lastmod>2005-01-01</lastmod>
</sitemap>
</sitemapindex>""")
    assert s.type == "sitemapindex"
    assert list(s) == [
        {"loc": "http://www.example.com/sitemap1.xml.gz", "lastmod": "2004-10-01T18:23:17+00:00"},
        {"loc": "http://www.example.com/sitemap2.xml.gz", "lastmod": "2005-01-01"},
    ]


STRIP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset{ns}>
<url{inner}>
<loc> http://www.example.com/</loc>
<lastmod>2009-08-16</lastmod>
<changefreq>daily</changefreq>
<priority>1</priority>
</url>
<url{inner}>
<loc> http://www.example.com/2</loc>
<lastmod />
</url>
</urlset>
"""
EXPECTED_STRIP = [
    {"priority": "1", "loc": "http://www.example.com/", "lastmod": "2009-08-16", "changefreq": "daily"},
    {"loc": "http://www.example.com/2", "lastmod": ""},
]


@pytest.mark.parametrize("ns, inner", [
    (' xmlns="http://www.google.com/schemas/sitemap/0.84"', ""),  # test_sitemap_strip
    (' xmlns="http://www.google.com/schemas/sitemap/0.84"', ' xmlns=""'),  # test_sitemap_wrong_ns
    ("", ' xmlns=""'),  # test_sitemap_wrong_ns2
])
def test_sitemap_strip_and_wrong_ns(ns, inner):
    """Scrapy: test_sitemap_strip, test_sitemap_wrong_ns, test_sitemap_wrong_ns2."""
    s = Sitemap(STRIP.format(ns=ns, inner=inner).encode())
    assert s.type == "urlset"
    assert list(s) == EXPECTED_STRIP


def test_sitemap_blanklines():
    """Scrapy: test_sitemap_blanklines (as bytes, and as str with its encoding declaration)."""
    xml = """
<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">

<!-- cache: cached = yes name = sitemap_jspCache key = sitemap -->
<sitemap>
<loc>http://www.example.com/sitemap1.xml</loc>
<lastmod>2013-07-15</lastmod>
</sitemap>

<sitemap>
<loc>http://www.example.com/sitemap2.xml</loc>
<lastmod>2013-07-15</lastmod>
</sitemap>

<sitemap>
<loc>http://www.example.com/sitemap3.xml</loc>
<lastmod>2013-07-15</lastmod>
</sitemap>

<!-- end cache -->
</sitemapindex>
"""
    expected = [{"lastmod": "2013-07-15", "loc": f"http://www.example.com/sitemap{i}.xml"} for i in (1, 2, 3)]
    assert list(Sitemap(xml.encode())) == expected
    assert list(Sitemap(xml)) == expected


def test_comment():
    """Scrapy: test_comment."""
    s = Sitemap(b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
    xmlns:xhtml="http://www.w3.org/1999/xhtml">
    <url>
        <loc>http://www.example.com/</loc>
        <!-- this is a comment on which the parser might raise an exception if implemented incorrectly -->
    </url>
</urlset>""")
    assert list(s) == [{"loc": "http://www.example.com/"}]


def test_alternate():
    """Scrapy: test_alternate."""
    s = Sitemap(b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
    xmlns:xhtml="http://www.w3.org/1999/xhtml">
    <url>
        <loc>http://www.example.com/english/</loc>
        <xhtml:link rel="alternate" hreflang="de"
            href="http://www.example.com/deutsch/"/>
        <xhtml:link rel="alternate" hreflang="de-ch"
            href="http://www.example.com/schweiz-deutsch/"/>
        <xhtml:link rel="alternate" hreflang="en"
            href="http://www.example.com/english/"/>
        <xhtml:link rel="alternate" hreflang="en"/><!-- wrong tag without href -->
    </url>
</urlset>""")
    assert list(s) == [{
        "loc": "http://www.example.com/english/",
        "alternate": ["http://www.example.com/deutsch/", "http://www.example.com/schweiz-deutsch/",
                      "http://www.example.com/english/"],
    }]


XXE = """<?xml version="1.0" encoding="utf-8"?>
      <!DOCTYPE foo [
      <!ELEMENT foo ANY >
      <!ENTITY xxe SYSTEM "file://{path}" >
      <!ENTITY inner "INNER">
      ]>
      <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
        <url>
          <loc>http://127.0.0.1:8000/&xxe;</loc>
        </url>
        <url>
          <loc>http://127.0.0.1:8000/&inner;&amp;x=1</loc>
        </url>
      </urlset>
    """


@pytest.mark.parametrize("as_str", [False, True])
def test_xml_entity_expansion(tmp_path, as_str):
    """Scrapy: test_xml_entity_expansion -- the external entity's file is not read, nor an
    internal entity expanded, whether the sitemap is bytes or a str with an encoding
    declaration. Scrapy drops the reference (``http://127.0.0.1:8000/``); scrapepool leaves it
    as written (``&xxe;``), as tests/test_sitemap.py's test_entities_are_not_expanded asserts.
    The predefined ``&amp;`` is a character, not an entity to expand: it reads as ``&``."""
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:TOP SECRET")
    xml = XXE.format(path=secret)
    locs = [e["loc"] for e in Sitemap(xml if as_str else xml.encode())]
    assert locs == ["http://127.0.0.1:8000/&xxe;", "http://127.0.0.1:8000/&inner;&x=1"]
    assert not any("SECRET" in loc or "INNER" in loc for loc in locs)


def test_sitemap_non_string_tag():
    """Scrapy: test_sitemap_non_string_tag -- an undeclared entity reference node (whose tag
    is no str) is skipped, not an error."""
    assert list(Sitemap(b"<url>&k;")) == []
    assert list(Sitemap("<urlset><url>&k;<loc>http://x/&k;</loc></url></urlset>")) == [{"loc": "http://x/&k;"}]


def test_sitemap_urls_from_robots():
    """Scrapy: test_sitemap_urls_from_robots and test_sitemap_urls_from_robots_str_compat."""
    robots = """User-agent: *
Disallow: /aff/
Disallow: /wl/

# Search and shopping refining
Disallow: /s*/*facet
Disallow: /s*/*tags

# Sitemap files
Sitemap: http://example.com/sitemap.xml
Sitemap: http://example.com/sitemap-product-index.xml
Sitemap: HTTP://example.com/sitemap-uppercase.xml
Sitemap: /sitemap-relative-url.xml

# Forums
Disallow: /forum/search/
Disallow: /forum/active/
"""
    expected = ["http://example.com/sitemap.xml", "http://example.com/sitemap-product-index.xml",
                "http://example.com/sitemap-uppercase.xml", "http://example.com/sitemap-relative-url.xml"]
    assert sitemap_urls_from_robots(robots.encode(), base_url="http://example.com") == expected
    assert sitemap_urls_from_robots(robots, base_url="http://example.com") == expected
