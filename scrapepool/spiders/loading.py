"""Loading a spider or a pipeline from a reference, and making a reference from a class.

A spider crosses process boundaries as a *reference* (``pkg.mod:Class`` or
``path/to/file.py:Class``), never as an object: each fetcher loads the class
and makes its own instance (rq's "recipe" pattern; STYLE.md, trap 3). Pipelines
are named the same way. Both go through :func:`resolve_ref`, which reads the
reference with ``pkgutil.resolve_name`` and turns every way it can fail into one
line that says what is wrong.
"""

import importlib.util
import inspect
import os
import pkgutil
import sys

from ..exceptions import SpiderLoadError, UsageError
from .builtin import SiteSpider
from .spider import Spider

__all__ = ["load_pipeline", "load_spider", "resolve_ref", "spider_ref"]


def spider_ref(spider):
    """A reference string for a Spider class (or pass a reference through)."""
    if spider is None or isinstance(spider, str):
        return spider
    if not (inspect.isclass(spider) and issubclass(spider, Spider)):
        raise SpiderLoadError(f"{spider!r} is not a Spider subclass")
    if "<locals>" in spider.__qualname__:
        raise SpiderLoadError(
            f"{spider.__qualname__} is defined inside a function: fetcher processes cannot import it; "
            "define the spider at module level")
    module = sys.modules.get(spider.__module__)
    path = getattr(module, "__file__", None)
    if spider.__module__ in ("__main__", "__mp_main__") or getattr(module, "_scrapepool_from_file", False):
        if not path:
            raise SpiderLoadError(f"cannot tell which file defines {spider.__qualname__}")
        return f"{os.path.abspath(path)}:{spider.__qualname__}"
    return f"{spider.__module__}:{spider.__qualname__}"


def _dotted(name):
    """``name`` is dotted Python identifiers, as ``pkgutil.resolve_name`` reads them."""
    return all(part.isidentifier() for part in name.split("."))


def _load_file(path, error):
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise error(f"{_what(error)} file not found: {path}")
    modname = "scrapepool_spider_" + "".join(c if c.isalnum() else "_" for c in path)
    module = sys.modules.get(modname)
    if module is None:
        spec = importlib.util.spec_from_file_location(modname, path)
        if spec is None or spec.loader is None:
            raise error(f"cannot load {path}: not a Python file")
        module = importlib.util.module_from_spec(spec)
        module._scrapepool_from_file = True
        sys.modules[modname] = module
        # The file's own folder is importable, as for `python file.py`.
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[modname]
            raise error(f"error while loading {path}: {type(exc).__name__}: {exc}") from None
    return module


def _what(error):
    return "spider" if error is SpiderLoadError else "pipeline"


def resolve_ref(ref, base, error):
    """The class that ``ref`` (``pkg.mod:Class`` or ``path/to/file.py:Class``) names.

    :param base: the class it must subclass (``object``: any class).
    :param error: the exception to raise, with one line saying what is wrong.
    """
    what = _what(error)
    target, sep, clsname = str(ref).rpartition(":")
    if not sep or not target or not _dotted(clsname) or \
            not (target.endswith(".py") or os.sep in target or _dotted(target)):
        raise error(f"{what} reference {ref!r} must look like module:Class or file.py:Class")
    if target.endswith(".py") or os.sep in target:
        modname = _load_file(target, error).__name__
    else:
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())
        modname = target
    try:
        obj = pkgutil.resolve_name(f"{modname}:{clsname}")
    except ModuleNotFoundError as exc:
        raise error(f"{what} module {target!r} not found ({exc})") from None
    except AttributeError as exc:
        if modname in sys.modules:  # imported: the class is what is missing
            raise error(f"{target} has no class {clsname!r}") from None
        raise error(f"error while importing {target}: {type(exc).__name__}: {exc}") from None
    except Exception as exc:
        raise error(f"error while importing {target}: {type(exc).__name__}: {exc}") from None
    if not (inspect.isclass(obj) and issubclass(obj, base)):
        raise error(f"{target}:{clsname} is not a {base.__name__ if base is not object else 'class'}"
                    f"{' subclass' if base is not object else ''}")
    return obj


def load_spider(ref):
    """Load the Spider class that ``ref`` names.

    :param ref: ``pkg.mod:Class`` or ``path/to/file.py:Class``; a Spider class
        is returned as it is. ``None`` gives the built-in site spider.
    :raises SpiderLoadError: with one line saying what is wrong.
    """
    if ref is None:
        return SiteSpider
    if inspect.isclass(ref):
        if not issubclass(ref, Spider):
            raise SpiderLoadError(f"{ref.__name__} is not a Spider subclass")
        return ref
    return resolve_ref(ref, Spider, SpiderLoadError)


def load_pipeline(ref):
    """A pipeline class from a class or a reference, as for a spider.

    :raises UsageError: with one line saying what is wrong.
    """
    if inspect.isclass(ref):
        return ref
    return resolve_ref(ref, object, UsageError)
