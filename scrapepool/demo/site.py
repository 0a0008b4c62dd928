"""The bundled quotes-and-authors site, built in memory for :class:`SiteServer`.

It gives the tutorial, the demo and the tests one known site to crawl: known
counts to check output against, one broken link (a typo'd author slug, so a
crawl of quotes and authors meets a 404) and one slow page (so concurrency
shows). Everything is fixed data: two builds are byte-for-byte identical.
"""

from __future__ import annotations

import html
import re
from collections import namedtuple
from typing import Dict, List

from ..testing.testserver import Page

Author = namedtuple("Author", "name born_date born_location description")
Quote = namedtuple("Quote", "text author tags")

QUOTES_PER_PAGE = 10
SLOW_DELAY = 1.0

AUTHORS = [
    Author("Confucius", "551 BC", "Qufu, State of Lu",
           "Chinese teacher and philosopher whose sayings, gathered by his students in the Analects, shaped East Asian ethics for two millennia."),
    Author("Lao Tzu", "6th century BC", "State of Chu",
           "Semi-legendary Chinese sage, traditionally the author of the Tao Te Ching and the founder of Taoism."),
    Author("Heraclitus", "c. 535 BC", "Ephesus, Ionia",
           "Greek philosopher who taught that everything flows and that the world is held together by the tension of opposites."),
    Author("Socrates", "c. 470 BC", "Athens, Greece",
           "Athenian philosopher who wrote nothing; we know him through his students, above all Plato, and through his method of relentless questioning."),
    Author("Plato", "c. 428 BC", "Athens, Greece",
           "Student of Socrates and teacher of Aristotle, founder of the Academy, whose dialogues still frame much of Western philosophy."),
    Author("Aristotle", "384 BC", "Stagira, Chalcidice",
           "Greek philosopher and scientist, tutor of Alexander the Great, who wrote on logic, ethics, politics, biology and poetry."),
    Author("Seneca", "c. 4 BC", "Corduba, Hispania",
           "Roman Stoic philosopher, dramatist and adviser to Nero, remembered for his letters on how to live well."),
    Author("Epictetus", "c. AD 50", "Hierapolis, Phrygia",
           "Greek Stoic philosopher born a slave, whose teachings were written down by his student Arrian in the Discourses and the Enchiridion."),
    Author("Marcus Aurelius", "April 26, 121", "Rome, Italy",
           "Roman emperor and Stoic philosopher whose private notebook, the Meditations, was never meant for publication."),
    Author("William Shakespeare", "April 26, 1564", "Stratford-upon-Avon, England",
           "English playwright and poet, baptised on this date, author of some 39 plays and 154 sonnets."),
    Author("Francis Bacon", "January 22, 1561", "London, England",
           "English philosopher and statesman who championed the experimental method and wrote celebrated essays."),
    Author("Jonathan Swift", "November 30, 1667", "Dublin, Ireland",
           "Anglo-Irish satirist and cleric, author of Gulliver's Travels and A Modest Proposal."),
    Author("Alexander Pope", "May 21, 1688", "London, England",
           "English poet of the Augustan age, known for his satirical verse and his translation of Homer."),
    Author("Voltaire", "November 21, 1694", "Paris, France",
           "French writer and philosopher of the Enlightenment, champion of free speech and critic of the Church, author of Candide."),
    Author("Benjamin Franklin", "January 17, 1706", "Boston, Massachusetts",
           "American printer, scientist, inventor and statesman, whose Poor Richard's Almanack spread many of his maxims."),
    Author("Samuel Johnson", "September 18, 1709", "Lichfield, England",
           "English writer and critic whose Dictionary of the English Language was the standard for over a century."),
    Author("Johann Wolfgang von Goethe", "August 28, 1749", "Frankfurt, Germany",
           "German poet, novelist and scientist, author of Faust and The Sorrows of Young Werther."),
    Author("Jane Austen", "December 16, 1775", "Steventon, England",
           "English novelist whose six novels, among them Pride and Prejudice and Emma, observe the manners of the landed gentry."),
    Author("Ralph Waldo Emerson", "May 25, 1803", "Boston, Massachusetts",
           "American essayist, lecturer and poet who led the transcendentalist movement."),
    Author("Abraham Lincoln", "February 12, 1809", "Hodgenville, Kentucky",
           "Sixteenth President of the United States, who led the Union through the Civil War and abolished slavery."),
    Author("Charles Dickens", "February 7, 1812", "Portsmouth, England",
           "English novelist and social critic, creator of Oliver Twist, Ebenezer Scrooge and David Copperfield."),
    Author("Henry David Thoreau", "July 12, 1817", "Concord, Massachusetts",
           "American naturalist and essayist, author of Walden and Civil Disobedience."),
    Author("Leo Tolstoy", "September 9, 1828", "Yasnaya Polyana, Russia",
           "Russian novelist, author of War and Peace and Anna Karenina, who later turned to Christian pacifism."),
    Author("Mark Twain", "November 30, 1835", "Florida, Missouri",
           "American writer and humorist, born Samuel Clemens, author of The Adventures of Tom Sawyer and Adventures of Huckleberry Finn."),
    Author("Oscar Wilde", "October 16, 1854", "Dublin, Ireland",
           "Irish poet and playwright, famed for his wit, The Picture of Dorian Gray and The Importance of Being Earnest."),
]

# Four quotes per author, in the order of AUTHORS.
_QUOTES_BY_AUTHOR = [
    [("It does not matter how slowly you go as long as you do not stop.", "success life"),
     ("Real knowledge is to know the extent of one's ignorance.", "knowledge wisdom"),
     ("Wheresoever you go, go with all your heart.", "life"),
     ("The man who moves a mountain begins by carrying away small stones.", "work success")],
    [("A journey of a thousand miles begins with a single step.", "life change"),
     ("Knowing others is intelligence; knowing yourself is true wisdom.", "wisdom knowledge"),
     ("Nature does not hurry, yet everything is accomplished.", "nature time"),
     ("When I let go of what I am, I become what I might be.", "change")],
    [("No man ever steps in the same river twice.", "change time"),
     ("The only constant in life is change.", "change life"),
     ("Character is destiny.", "virtue"),
     ("Much learning does not teach understanding.", "knowledge wisdom")],
    [("The unexamined life is not worth living.", "life philosophy"),
     ("I know that I know nothing.", "knowledge philosophy"),
     ("Wonder is the beginning of wisdom.", "wisdom philosophy"),
     ("Be slow to fall into friendship; but when thou art in, continue firm and constant.", "friendship")],
    [("Wise men speak because they have something to say; fools because they have to say something.", "wisdom humor"),
     ("Courage is knowing what not to fear.", "courage"),
     ("The beginning is the most important part of the work.", "work"),
     ("At the touch of love everyone becomes a poet.", "love")],
    [("We are what we repeatedly do.", "virtue work"),
     ("Knowing yourself is the beginning of all wisdom.", "wisdom"),
     ("A friend to all is a friend to none.", "friendship"),
     ("Happiness depends upon ourselves.", "happiness")],
    [("Luck is what happens when preparation meets opportunity.", "success work"),
     ("While we are postponing, life speeds by.", "time life"),
     ("We suffer more often in imagination than in reality.", "mind"),
     ("Every new beginning comes from some other beginning's end.", "change death")],
    [("Wealth consists not in having great possessions, but in having few wants.", "happiness freedom"),
     ("No man is free who is not master of himself.", "freedom"),
     ("First say to yourself what you would be; and then do what you have to do.", "work success"),
     ("It's not what happens to you, but how you react to it that matters.", "mind life")],
    [("The happiness of your life depends upon the quality of your thoughts.", "happiness mind"),
     ("Waste no more time arguing about what a good man should be. Be one.", "virtue"),
     ("Very little is needed to make a happy life.", "happiness life"),
     ("Loss is nothing else but change, and change is Nature's delight.", "change nature death")],
    [("Cowards die many times before their deaths; the valiant never taste of death but once.", "courage death"),
     ("Love all, trust a few, do wrong to none.", "love virtue"),
     ("The course of true love never did run smooth.", "love"),
     ("All the world's a stage, and all the men and women merely players.", "life")],
    [("Knowledge is power.", "knowledge"),
     ("Reading maketh a full man; conference a ready man; and writing an exact man.", "books"),
     ("Some books are to be tasted, others to be swallowed, and some few to be chewed and digested.", "books"),
     ("A wise man will make more opportunities than he finds.", "wisdom success")],
    [("May you live all the days of your life.", "life"),
     ("Vision is the art of seeing what is invisible to others.", "mind"),
     ("No wise man ever wished to be younger.", "wisdom time"),
     ("Every man desires to live long, but no man would be old.", "time humor")],
    [("To err is human, to forgive divine.", "virtue"),
     ("A little learning is a dangerous thing.", "knowledge"),
     ("Hope springs eternal in the human breast.", "happiness"),
     ("Fools rush in where angels fear to tread.", "courage humor")],
    [("Common sense is not so common.", "humor mind"),
     ("The best is the enemy of the good.", "work"),
     ("Judge a man by his questions rather than by his answers.", "wisdom"),
     ("Let us cultivate our garden.", "work happiness")],
    [("Early to bed and early to rise, makes a man healthy, wealthy, and wise.", "wisdom life"),
     ("Lost time is never found again.", "time"),
     ("An investment in knowledge pays the best interest.", "knowledge success"),
     ("Well done is better than well said.", "work")],
    [("Curiosity is one of the permanent and certain characteristics of a vigorous mind.", "mind knowledge"),
     ("When a man is tired of London, he is tired of life.", "life humor"),
     ("Great works are performed not by strength but by perseverance.", "work success"),
     ("The true measure of a man is how he treats someone who can do him absolutely no good.", "virtue")],
    [("Whatever you can do, or dream you can, begin it.", "courage work"),
     ("Knowing is not enough; we must apply.", "knowledge work"),
     ("Nothing is worth more than this day.", "time"),
     ("Talent develops in quiet places, character in the full current of human life.", "virtue")],
    [("There is no charm equal to tenderness of heart.", "love virtue"),
     ("I declare after all there is no enjoyment like reading!", "books happiness"),
     ("One half of the world cannot understand the pleasures of the other.", "humor"),
     ("Friendship is certainly the finest balm for the pangs of disappointed love.", "friendship love")],
    [("The only way to have a friend is to be one.", "friendship"),
     ("To be yourself in a world that is constantly trying to make you something else is the greatest accomplishment.", "freedom courage"),
     ("Nothing great was ever achieved without enthusiasm.", "success"),
     ("Adopt the pace of nature: her secret is patience.", "nature")],
    [("Whatever you are, be a good one.", "virtue"),
     ("Those who deny freedom to others deserve it not for themselves.", "freedom"),
     ("I walk slowly, but I never walk backward.", "courage"),
     ("Most folks are about as happy as they make up their minds to be.", "happiness mind")],
    [("It was the best of times, it was the worst of times.", "time"),
     ("Have a heart that never hardens, and a temper that never tires, and a touch that never hurts.", "love virtue"),
     ("There is nothing in the world so irresistibly contagious as laughter and good humour.", "humor happiness"),
     ("No one is useless in this world who lightens the burdens of another.", "friendship virtue")],
    [("Go confidently in the direction of your dreams.", "courage success"),
     ("Rather than love, than money, than fame, give me truth.", "truth"),
     ("It's not what you look at that matters, it's what you see.", "mind truth"),
     ("In wildness is the preservation of the world.", "nature")],
    [("All happy families are alike; each unhappy family is unhappy in its own way.", "happiness"),
     ("The two most powerful warriors are patience and time.", "time courage"),
     ("Everyone thinks of changing the world, but no one thinks of changing himself.", "change"),
     ("If you want to be happy, be.", "happiness")],
    [("The secret of getting ahead is getting started.", "success work"),
     ("If you tell the truth, you don't have to remember anything.", "truth humor"),
     ("Courage is resistance to fear, mastery of fear, not absence of fear.", "courage"),
     ("Good friends, good books, and a sleepy conscience: this is the ideal life.", "friendship books life")],
    [("Be yourself; everyone else is already taken.", "life humor"),
     ("We are all in the gutter, but some of us are looking at the stars.", "life courage"),
     ("The truth is rarely pure and never simple.", "truth"),
     ("To live is the rarest thing in the world. Most people exist, that is all.", "life")],
]

# Interleaved (every author's first quote, then every second...) so each list page mixes authors.
QUOTES = [
    Quote(text, author.name, tags.split())
    for i in range(4)
    for author, quotes in zip(AUTHORS, _QUOTES_BY_AUTHOR)
    for text, tags in [quotes[i]]
]
TAGS = sorted({tag for q in QUOTES for tag in q.tags})

# The deliberate broken link: this one quote's "(about)" link has a typo in the slug.
TYPO_QUOTE = "If you tell the truth, you don't have to remember anything."
BROKEN_LINK = "/author/Mark-Twian/"
SLOW_PAGE = "/author/Leo-Tolstoy/"  # War and Peace takes a while


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")


def author_url(name: str) -> str:
    return f"/author/{slug(name)}/"


def list_url(n: int) -> str:
    return "/" if n == 1 else f"/page/{n}/"


def _layout(title: str, content: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title></head>\n<body>\n"
        "<header><h1><a href=\"/\">Scrapepool Demo Quotes</a></h1></header>\n"
        f"<main>\n{content}</main>\n"
        "<footer><p>A demo site bundled with scrapepool.</p></footer>\n</body>\n</html>\n"
    )


def _quote_html(q: Quote) -> str:
    about = BROKEN_LINK if q.text == TYPO_QUOTE else author_url(q.author)
    tags = "".join(f'<a class="tag" href="/tag/{t}/">{t}</a> ' for t in q.tags)
    return (
        '<div class="quote">\n'
        f'  <span class="text">“{html.escape(q.text)}”</span>\n'
        f'  <span>by <small class="author">{html.escape(q.author)}</small> <a href="{about}">(about)</a></span>\n'
        f'  <div class="tags">Tags: {tags}</div>\n'
        "</div>\n"
    )


def _list_page(n: int, pages: int, quotes: List[Quote]) -> str:
    pager = []
    if n > 1:
        pager.append(f'<li class="previous"><a href="{list_url(n - 1)}">← Previous</a></li>')
    if n < pages:
        pager.append(f'<li class="next"><a href="{list_url(n + 1)}">Next →</a></li>')
    tag_cloud = "".join(f'<a class="tag-item" href="/tag/{t}/">{t}</a> ' for t in TAGS)
    content = (
        "".join(_quote_html(q) for q in quotes)
        + f'<nav><ul class="pager">{"".join(pager)}</ul></nav>\n'
        + f'<aside class="tags-box"><h2>Tags</h2>{tag_cloud}</aside>\n'
    )
    title = "Quotes" if n == 1 else f"Quotes, page {n}"
    return _layout(title, content)


def _author_page(a: Author) -> str:
    content = (
        '<div class="author-details">\n'
        f'  <h3 class="author-title">{html.escape(a.name)}</h3>\n'
        f'  <p><strong>Born:</strong> <span class="author-born-date">{html.escape(a.born_date)}</span> '
        f'in <span class="author-born-location">{html.escape(a.born_location)}</span></p>\n'
        f'  <div class="author-description">{html.escape(a.description)}</div>\n'
        "</div>\n"
    )
    return _layout(a.name, content)


def _tag_page(tag: str) -> str:
    content = f"<h2>Quotes tagged “{tag}”</h2>\n" + "".join(_quote_html(q) for q in QUOTES if tag in q.tags)
    return _layout(f"Quotes tagged {tag}", content)


def build_site() -> Dict[str, object]:
    pages = -(-len(QUOTES) // QUOTES_PER_PAGE)
    site: Dict[str, object] = {
        "/robots.txt": Page(body="User-agent: *\nDisallow:\n", content_type="text/plain; charset=utf-8"),
    }
    for n in range(1, pages + 1):
        chunk = QUOTES[(n - 1) * QUOTES_PER_PAGE : n * QUOTES_PER_PAGE]
        site[list_url(n)] = _list_page(n, pages, chunk)
    for a in AUTHORS:
        body = _author_page(a)
        site[author_url(a.name)] = Page(body=body, delay=SLOW_DELAY) if author_url(a.name) == SLOW_PAGE else body
    for tag in TAGS:
        site[f"/tag/{tag}/"] = _tag_page(tag)
    return site


def expected_counts() -> Dict[str, object]:
    """What a full crawl of the site should find, for tests and the demo to check against."""
    list_pages = -(-len(QUOTES) // QUOTES_PER_PAGE)
    return {
        "quotes": len(QUOTES),
        "authors": len(AUTHORS),
        "list_pages": list_pages,
        "quotes_per_page": QUOTES_PER_PAGE,
        "tags": len(TAGS),
        "author_pages": len(AUTHORS),
        "tag_pages": len(TAGS),
        "pages": 1 + list_pages + len(AUTHORS) + len(TAGS),  # + robots.txt
        "broken_links": 1,
        "broken_link": BROKEN_LINK,
        "slow_page": SLOW_PAGE,
        "slow_delay": SLOW_DELAY,
        # QuotesSpider (scrapepool/demo/spider.py): list pages + author pages + the one 404
        "spider_requests": list_pages + len(AUTHORS) + 1,
        "spider_records": len(QUOTES) + len(AUTHORS),
    }
