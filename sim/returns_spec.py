"""A scenario's ``returns.terms`` section: the merchant's return terms, built into ``ReturnTerms``.

```yaml
returns:
  policy: {kind: needs_stock, radius_km: 50}   # a name or {kind: name, **parameters}
  terms:
    window_days: 30          # returns later than this are refused
    return_fee: 4.95         # deducted once per return (not for merchant-fault reasons)
    refund_share: {C: 0.4}   # per grade; grades not listed keep their default
    disposition: {B: refurbish}
```
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from dom_core.errors import DomError
from dom_core.returns import (
    DEFAULT_DISPOSITION,
    DEFAULT_REFUND_SHARE,
    Disposition,
    Grade,
    ReturnTerms,
    build_return_policy,
)

_DEFAULT = ReturnTerms()
Share = Annotated[float, Field(ge=0, le=1)]


class ReturnTermsSpec(BaseModel):
    """Return window, fee, refund share and disposition per grade (grades not listed keep the default)."""

    model_config = ConfigDict(extra="forbid")

    window_days: float = Field(default=_DEFAULT.window_days, gt=0, allow_inf_nan=False)
    return_fee: float = Field(default=_DEFAULT.return_fee, ge=0, allow_inf_nan=False)
    refund_share: dict[Grade, Share] = Field(
        default_factory=dict, description="share of the price refunded per grade (default A/B 1, C 0.5, D 0)"
    )
    disposition: dict[Grade, Disposition] = Field(
        default_factory=dict,
        description="per grade: restock, refurbish or dispose (default A/B restock, C refurbish, D dispose)",
    )

    def build(self) -> ReturnTerms:
        """The engine's ``ReturnTerms``: these settings over the defaults."""
        return ReturnTerms(
            window_days=self.window_days,
            return_fee=self.return_fee,
            refund_share={**DEFAULT_REFUND_SHARE, **self.refund_share},
            disposition={**DEFAULT_DISPOSITION, **self.disposition},
        )


def known_return_policy(value: str | dict[str, Any]) -> str | dict[str, Any]:
    """A return-location policy name or mapping that ``build_return_policy`` accepts."""
    try:
        build_return_policy(value)
    except DomError as exc:
        raise ValueError(str(exc)) from None
    return value
