"""What the web tests read from a page: its links and its keyed cells (stdlib HTML parser)."""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    """A page's links (every ``href``, SVG's included), the text of each ``data-key`` cell per
    ``data-region`` row, and its whole text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.cells: dict[str | None, dict[str, str]] = {}
        self.text: list[str] = []
        self._row: str | None = None
        self._key: str | None = None
        self._depth = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("href"):
            self.links.append(a["href"])
        if tag == "tr":
            self._row = a.get("data-region")
        if "data-key" in a:
            self._key, self._depth = a["data-key"], 0
            self.cells.setdefault(self._row, {})[self._key] = ""
        elif self._key is not None:
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self._key is not None:
            if self._depth == 0:
                self._key = None
            else:
                self._depth -= 1
        if tag in ("tr", "tfoot", "tbody"):
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._key is not None:
            self.cells[self._row][self._key] += data.strip()

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())
