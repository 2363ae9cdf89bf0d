"""What happens to a listing, told to the use cases that follow from it (blinker, as indico's
signals): the sender does not know who listens, and nothing registers itself into another module.

- ``listing_published(listing, actor=…)``: a listing went live, or a live one was edited.
  matches suggests candidates for it.
- ``listing_withdrawn(listing, why=…, actor=…)``: a live listing was archived or expired.
  matches withdraws its open suggestions and consent requests, saying why.
"""

from blinker import Namespace

_signals = Namespace()

listing_published = _signals.signal("listing-published", doc="a listing went live or a live one was edited")
listing_withdrawn = _signals.signal("listing-withdrawn", doc="a live listing was archived or expired")
