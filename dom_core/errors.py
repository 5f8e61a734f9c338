"""Errors raised by the engine, each naming the field at fault and what is wrong with it."""

from __future__ import annotations


class DomError(ValueError):
    """Base class: bad input to the engine, reported with the offending field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(field, problem)  # args survive pickling and re-raising across processes

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


class UnknownSkuError(DomError, KeyError):
    """An order line, ledger movement or return names a SKU the catalogue does not hold."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return f"{self.field}: {self.problem}"


class UnknownLocationError(DomError, KeyError):
    """A location id that the network does not hold."""

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


class InsufficientStockError(DomError):
    """A reservation or shipment asks for more than is available; nothing was changed."""


class InvalidQuantityError(DomError):
    """A quantity that is zero, negative or not an integer where a positive integer is needed."""
