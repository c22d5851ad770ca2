# Box-drawn tables in the style of ESP-IDF's heap task overview: every column
# is its width plus one space of padding on each side.


class Table:
    def __init__(self, headings, widths, left=()):
        self.headings = headings
        self.widths = widths
        self.left = left    # indexes of left-aligned columns; the rest align right

    def _rule(self, left, middle, right):
        return left + middle.join("─" * (w + 2) for w in self.widths) + right

    def row(self, cells):
        out = []
        for i, (cell, width) in enumerate(zip(cells, self.widths)):
            text = str(cell)
            pad = " " * (width - len(text))
            out.append(text + pad if i in self.left else pad + text)
        return "│ " + " │ ".join(out) + " │"

    def lines(self, rows):
        """The table's lines (without line ends)."""
        out = [self._rule("┌", "┬", "┐"),
               "│ " + " │ ".join(h + " " * (w - len(h)) for h, w in zip(self.headings, self.widths)) + " │",
               self._rule("├", "┼", "┤")]
        for cells in rows:
            out.append(self.row(cells))
        out.append(self._rule("└", "┴", "┘"))
        return out
