"""Search, filters and pages for the console's long lists: read from the query string on the server,
and kept in every filter, page and language link, so a narrowed list can be bookmarked or shared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Request

__all__ = ["PER_PAGE", "ListQuery", "Paged", "narrow", "read_query"]

PER_PAGE = 20
_MAX_TEXT = 100
T = TypeVar("T")


@dataclass(frozen=True)
class ListQuery:
    """What a person asked of a list: free text ``q``, named filters, a page (from 1)."""

    q: str = ""
    filters: Mapping[str, str] = field(default_factory=dict)
    page: int = 1
    per_page: int = PER_PAGE

    def get(self, name: str) -> str:
        return self.filters.get(name, "")

    def params(self, **change: str | int) -> dict[str, str]:
        """The query string's parameters (empty ones left out), with ``change`` applied."""
        out = {"q": self.q, **self.filters, "page": str(self.page)}
        out.update({k: str(v) for k, v in change.items()})
        if out.get("page") == "1":
            out.pop("page")
        return {k: v for k, v in out.items() if v}

    def link(self, **change: str | int) -> str:
        """``?q=..&status=..&page=2``: this list's state, with ``change``; ``?`` alone when empty."""
        return "?" + urlencode(self.params(**change))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def active(self) -> bool:
        return bool(self.q or any(self.filters.values()))


@dataclass(frozen=True)
class Paged(Generic[T]):
    """One page of a narrowed list, with how many matched in all."""

    items: list[T]
    total: int
    query: ListQuery

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


def _clean(value: str | None) -> str:
    text = (value or "").strip()[:_MAX_TEXT]
    return "".join(ch for ch in text if ch.isprintable())


def read_query(request: Request, filters: Sequence[str], *, per_page: int = PER_PAGE) -> ListQuery:
    """The list's query from the URL: ``q``, the named ``filters`` (others ignored), ``page``."""
    params = request.query_params
    raw_page = params.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and 0 < int(raw_page) < 1_000_000 else 1
    return ListQuery(
        q=_clean(params.get("q")),
        filters={name: _clean(params.get(name)) for name in filters},
        page=page,
        per_page=per_page,
    )


def narrow(
    items: Iterable[T],
    query: ListQuery,
    *,
    text: Callable[[T], Iterable[str]],
    fields: Mapping[str, Callable[[T], str]] | None = None,
) -> Paged[T]:
    """The items whose ``text`` contains ``q`` (case-insensitive) and whose ``fields`` equal each
    filter given, one page of them."""
    needle = query.q.casefold()
    wanted = {k: v for k, v in query.filters.items() if v and fields and k in fields}
    kept = [
        item
        for item in items
        if (not needle or any(needle in s.casefold() for s in text(item)))
        and all(fields is not None and fields[k](item) == v for k, v in wanted.items())
    ]
    start = query.offset
    return Paged(kept[start : start + query.per_page], len(kept), query)
