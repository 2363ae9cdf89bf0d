"""What the matcher knows of a listing (matching.docs.Doc), built from the database's rows."""

import sys

from matching.docs import Doc, stage_index

from ..models import Achievement, Need
from ..validation import reference

KIND_MODELS = {"achievement": Achievement, "need": Need}


def doc_from(listing, parents: dict[str, str] | None = None) -> Doc:
    is_need = listing.kind == "need"
    parents = parents if parents is not None else chain_parents()

    def money(v):
        return float(v) if v is not None else None

    return Doc(
        id=listing.id,
        kind=listing.kind,
        title=listing.title,
        text=listing.public_text,
        keywords=tuple(listing.keywords or ()),
        extra=(listing.indicators or "") if is_need else "",
        field=listing.field,
        chain=listing.chain,
        chain_parent=parents.get(listing.chain or ""),
        stage=stage_index(listing.wanted_maturity if is_need else listing.maturity),
        modes=tuple((listing.coop_modes if is_need else listing.transfer_modes) or ()),
        price_min=money(listing.budget_min if is_need else listing.price_min),
        price_max=money(listing.budget_max if is_need else listing.price_max),
        region=listing.org.region if listing.org else None,
        bottleneck=bool(getattr(listing, "bottleneck", False)),
        tokens=tuple(map(sys.intern, (listing.search_text or "").split())),  # one copy of each term
    )


def chain_parents() -> dict[str, str]:
    v = reference.vocab()
    return {child: parent for parent, children in v.chain_children.items() for child in children}
