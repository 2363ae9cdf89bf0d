"""Browse filters as plain data (they travel to the matching service) and as a predicate on Docs."""

from collections.abc import Callable

from .docs import Doc

LOCAL_REGION = "4101"  # 郑州市: "other" means any region outside it


def predicate(kind: str, spec: dict | None) -> Callable[[Doc], bool] | None:
    """``spec``: field, chains (a chain and its children), stage (index), bottleneck, region."""
    if not spec:
        return None
    field, region = spec.get("field"), spec.get("region")
    chains = set(spec["chains"]) if spec.get("chains") else None
    stage = spec.get("stage")
    bottleneck = bool(spec.get("bottleneck")) and kind == "need"

    def keep(d: Doc) -> bool:
        if field and d.field != field:
            return False
        if chains is not None and d.chain not in chains:
            return False
        if stage is not None and d.stage != stage:
            return False
        if bottleneck and not d.bottleneck:
            return False
        if region == "other" and (d.region or "").startswith(LOCAL_REGION):
            return False
        return not (region and region != "other" and d.region != region)

    active = field or chains or stage is not None or bottleneck or region
    return keep if active else None
