# What the objects that explain a list of things share: iteration, len() and
# indexing over their items, so that str() can explain them all at once and
# code can still go through them one by one.


class Listing:
    # (each kind names its list as its users know it: items, chains)
    def __init__(self, items):
        self._items = items

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def __getitem__(self, i):
        return self._items[i]


class Kept(Listing):
    """What a ring of the firmware keeps, oldest first: total, how many there were
    since power-on (or the last clear); lost, how many of those it no longer holds."""

    def __init__(self, total, lost, items):
        Listing.__init__(self, items)
        self.items = items
        self.total = total
        self.lost = lost
