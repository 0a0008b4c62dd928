"""BeautifulSoup with lxml, built through a leaner lxml tree builder.

BeautifulSoup's lxml builder serves XML and HTML alike: for every start tag it copies the
attributes twice and looks each name up for an XML namespace (``{uri}name``), and it
searches every tag's attributes for multi-valued ones (``class="a b"``). lxml's HTML parser
gives no namespaces, and most tags have no class or rel, so most of that work changes
nothing. ``LeanHTMLBuilder`` skips it and hands every event to BeautifulSoup as the stock
builder does, so the tree is the same (``tests/test_soup.py`` compares the two on pages with
namespaces, multi-valued attributes, comments and broken markup); anything namespaced still
goes the stock way. Measured on 1,000 pages of the benchmark site, one process: 5.2-5.3 ms
per page with ``BeautifulSoup(text, "lxml")``, 4.5-4.7 ms with this builder; the soup is
most of a fetcher's CPU.
"""

from bs4 import BeautifulSoup
from bs4.builder._lxml import LXMLTreeBuilder

from ..exceptions import PageTooLarge

__all__ = ["make_soup", "LeanHTMLBuilder", "check_elements"]

_NO_NS = {}


class LeanHTMLBuilder(LXMLTreeBuilder):
    """``LXMLTreeBuilder`` (the "lxml" feature) without namespace handling where there is none."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: The attribute dict the stock builder hands over (bs4 >= 4.13: XMLAttributeDict).
        self._attr_dict = getattr(self, "attribute_dict_class", dict)
        #: Every attribute name that is multi-valued on some tag ("class", "rel", ...).
        self._list_names = frozenset().union(*self.cdata_list_attributes.values()) \
            if self.cdata_list_attributes else frozenset()

    def initialize_soup(self, soup):
        super().initialize_soup(soup)
        # lxml reads the target's methods once, when the parser is created in feed().
        self.data = soup.handle_data

    def start(self, tag, attrib, nsmap=_NO_NS):
        if nsmap or len(self.nsmaps) > 1 or tag[:1] == "{":
            return super().start(tag, attrib, nsmap)
        for name in attrib:  # a loop, not any(): most tags have 0-2 attributes
            if name[:1] == "{":
                return super().start(tag, attrib, nsmap)
        # lxml hands over str keys and values only: the stock builder's per-item
        # XMLAttributeDict.__setitem__ would leave them as they are.
        self.soup.handle_starttag(tag, None, None, self._attr_dict(attrib),
                                  namespaces=self.active_namespace_prefixes[-1])

    def end(self, tag):
        if len(self.nsmaps) > 1 or tag[:1] == "{":
            return super().end(tag)
        self.soup.handle_endtag(tag, None)  # which ends the pending text first

    def _replace_cdata_list_attribute_values(self, tag_name, attrs):
        # Most tags carry no class/rel-like attribute: then the stock method changes nothing.
        if not attrs or self._list_names.isdisjoint(attrs):
            return attrs
        return super()._replace_cdata_list_attribute_values(tag_name, attrs)


def check_elements(text, limit):
    """Raise :class:`PageTooLarge` when ``text`` may hold more than ``limit`` elements.

    A BeautifulSoup tree costs ~1.1 KB and ~13 us of CPU per node (measured: 200,000
    elements with their text, 250 MB and 2.6 s; a 10 MB page of dense markup, 1.4-1.8 GB
    and 20-30 s), so the budget is checked before parsing. Start tags are counted as
    ``<`` not followed by ``/``: an upper bound of the elements (comments and a ``<`` in
    a script count too), two C-speed scans, ~10 ms for 10 MB.
    """
    if not limit or len(text) < limit:  # fewer characters than the budget: cannot exceed it
        return
    tags = text.count("<") - text.count("</")
    if tags > limit:
        raise PageTooLarge(tags, limit)


def make_soup(text, max_elements=None):
    """``BeautifulSoup(text, "lxml")``, the same tree, built with :class:`LeanHTMLBuilder`.

    :param max_elements: raise :class:`~scrapepool.exceptions.PageTooLarge` rather than
        build a tree of more elements than this (0 or None: no limit).
    """
    check_elements(text, max_elements)
    return BeautifulSoup(text, builder=LeanHTMLBuilder())
