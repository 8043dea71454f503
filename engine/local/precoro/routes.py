"""The routes of the local Precoro: the paths and methods each collection serves, and matching a request to one.

Every collection of `resources.py` has two paths, the collection (`/suppliers`) and a member
(`/suppliers/{key}`); nested ones carry their owner's id (`/suppliers/{parent}/contacts`). Which
methods a path takes follows from the declaration: GET list and show when readable, POST when it
declares `create`, PUT when `update`, PATCH and DELETE when allowed. A route names the action the
app runs; the app turns a miss into its 404 or 405 (with `Allow`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from .resources import COLLECTIONS, Collection

# The actions a route can name; the app runs one handler per action.
LIST = "list"
SHOW = "show"
CREATE = "create"
UPDATE = "update"
PATCH = "patch"
DELETE = "delete"


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    collection: Collection
    actions: dict[str, str]  # HTTP method -> action


@dataclass(frozen=True)
class Match:
    collection: Collection
    action: str
    parent: int | None
    key: int | None


class NoRoute(LookupError):
    """No route serves the request; `allowed` holds the methods its path takes (empty: unknown path)."""

    def __init__(self, allowed: set[str]) -> None:
        super().__init__(sorted(allowed))
        self.allowed = allowed


def routes_of(collection: Collection) -> list[Route]:
    base = re.escape(collection.path).replace(re.escape("{parent}"), r"(?P<parent>\d+)")
    on_collection: dict[str, str] = {}
    on_member: dict[str, str] = {}
    if collection.read:
        on_collection["GET"] = LIST
        on_member["GET"] = SHOW
    if collection.create is not None:
        on_collection["POST"] = CREATE
    if collection.update is not None:
        on_member["PUT"] = UPDATE
    if collection.patch:
        on_member["PATCH"] = PATCH
    if collection.delete:
        on_member["DELETE"] = DELETE
    return [
        Route(re.compile(f"^{base}$"), collection, on_collection),
        Route(re.compile(f"^{base}/(?P<key>\\d+)$"), collection, on_member),
    ]


ROUTES = [route for collection in COLLECTIONS for route in routes_of(collection)]


def match(method: str, path: str, routes: Iterable[Route] = ROUTES) -> Match:
    """The first route that serves `method` on `path`, or NoRoute."""
    allowed: set[str] = set()
    for route in routes:
        found = route.pattern.match(path)
        if found is None:
            continue
        action = route.actions.get(method)
        if action is None:
            allowed.update(route.actions)
            continue
        groups = found.groupdict()
        parent = int(groups["parent"]) if groups.get("parent") else None
        key = int(groups["key"]) if groups.get("key") else None
        return Match(route.collection, action, parent, key)
    raise NoRoute(allowed)
