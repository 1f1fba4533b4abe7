"""Continuous double auction for carbon credits: limit orders, price-time priority, statistics.

A pure kernel (no database): the store (:mod:`qingshan.store.market`) locks the book, asks
:func:`match` which resting orders an incoming order fills, and settles the fills.

The rules are those of continuous auction trading (连续竞价) on China's securities exchanges:
orders are matched "按价格优先、时间优先的原则", and when a buy order's price is above the best
displayed ask the trade is at that ask (and symmetrically for sells) — the exchanges' 交易规则,
chapter on 竞价交易 (clause numbers not verified in the project's notes). This is a platform
design choice: the national ETS's 《碳排放权交易管理规则（试行）》 (MEE announcement 2021-05-14,
carbon.md §3.1) trades by 协议转让 (挂牌协议, 大宗协议) and 单向竞价 instead (its wording is
not in the notes: UNVERIFIED), and no rule found for a district carbon-inclusion market
mandates one mechanism.

* **Price priority**: a higher bid is filled before a lower one, a lower ask before a higher one.
* **Time priority**: at the same price the order that arrived first (lower ``id``) fills first.
* **Trade price = the resting order's price**: an incoming order that crosses the book trades
  at the price already offered, so an aggressive buyer never pays more than the best ask it
  meets (price improvement goes to the incoming order).
* **Partial fills**: an incoming order walks the book until it is filled or no resting order
  crosses its limit; the remainder rests on the book. Quantities are whole tonnes, prices
  integer fen (0.01 yuan) per tonne — no floats anywhere.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Literal

Side = Literal["buy", "sell"]
SIDES: tuple[Side, Side] = ("buy", "sell")


@dataclass(frozen=True, slots=True)
class Order:
    """A limit order: ``id`` is its arrival sequence (lower = earlier), ``price`` the limit in fen
    per tonne, ``quantity`` the tonnes still wanted."""

    id: int
    side: Side
    price: int
    quantity: int

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"order {self.id}: side must be buy or sell, not {self.side!r}")
        if self.price <= 0 or self.quantity <= 0:
            raise ValueError(f"order {self.id}: price and quantity must be positive integers")


@dataclass(frozen=True, slots=True)
class Fill:
    """``quantity`` tonnes traded between an incoming and a resting order at the resting price."""

    incoming_id: int
    resting_id: int
    price: int
    quantity: int


def opposite(side: Side) -> Side:
    return "sell" if side == "buy" else "buy"


def priority(order: Order) -> tuple[int, int]:
    """Sort key of a resting order: best price first, then earliest arrival."""
    return (-order.price if order.side == "buy" else order.price, order.id)


def crosses(incoming: Order, resting_price: int) -> bool:
    """Whether the incoming order accepts a resting order's price."""
    if incoming.side == "buy":
        return resting_price <= incoming.price
    return resting_price >= incoming.price


def _walk(incoming: Order, queue: Iterator[Order]) -> Iterator[Fill]:
    """Fill ``incoming`` from resting orders given best first; the next resting order is asked
    for only when the previous one is used up, so ``queue`` may be a live heap."""
    remaining = incoming.quantity
    for resting in queue:
        if resting.side == incoming.side:
            raise ValueError(f"order {resting.id} is on the same side as order {incoming.id}")
        if not crosses(incoming, resting.price):
            return
        quantity = min(remaining, resting.quantity)
        yield Fill(incoming.id, resting.id, resting.price, quantity)
        remaining -= quantity
        if remaining == 0:
            return


def match(incoming: Order, resting: Iterable[Order]) -> list[Fill]:
    """The fills of ``incoming`` against resting orders of the other side (any order given;
    they are ranked by :func:`priority` here). The incoming order's remainder is its quantity
    minus the filled tonnes."""
    return list(_walk(incoming, iter(sorted(resting, key=priority))))


class OrderBook:
    """An in-memory book of one instrument: heaps of resting orders per side, cancelled or
    filled orders dropped lazily when they reach the top."""

    def __init__(self) -> None:
        self._heaps: dict[Side, list[tuple[int, int]]] = {"buy": [], "sell": []}
        self._resting: dict[int, Order] = {}

    def submit(self, incoming: Order) -> list[Fill]:
        """Match ``incoming``, rest its remainder, return the fills."""
        if incoming.id in self._resting:
            raise ValueError(f"order {incoming.id} is already on the book")
        fills = list(_walk(incoming, self._best_first(opposite(incoming.side))))
        for fill in fills:
            self._reduce(fill.resting_id, fill.quantity)
        remaining = incoming.quantity - sum(fill.quantity for fill in fills)
        if remaining:
            rest = Order(incoming.id, incoming.side, incoming.price, remaining)
            self._resting[rest.id] = rest
            heapq.heappush(self._heaps[rest.side], priority(rest))
        return fills

    def cancel(self, order_id: int) -> int:
        """Remove a resting order; returns the tonnes it still wanted (0 if not resting)."""
        order = self._resting.pop(order_id, None)
        return order.quantity if order else 0

    def best(self, side: Side) -> Order | None:
        return next(self._best_first(side), None)

    def resting(self) -> list[Order]:
        return sorted(self._resting.values(), key=lambda order: order.id)

    def depth(self, side: Side) -> list[tuple[int, int]]:
        """(price, tonnes) per price level, best first."""
        levels: dict[int, int] = {}
        for order in sorted(self._resting.values(), key=priority):
            if order.side == side:
                levels[order.price] = levels.get(order.price, 0) + order.quantity
        return list(levels.items())

    def _best_first(self, side: Side) -> Iterator[Order]:
        """Resting orders of ``side``, best first. Asking for the next one pops the current one
        (the consumer used it up); cancelled orders are dropped when they reach the top."""
        heap = self._heaps[side]
        while heap:
            order = self._resting.get(heap[0][1])
            if order is not None:
                yield order
            heapq.heappop(heap)

    def _reduce(self, order_id: int, quantity: int) -> None:
        order = self._resting[order_id]
        if quantity == order.quantity:
            del self._resting[order_id]
        else:
            self._resting[order_id] = Order(
                order.id, order.side, order.price, order.quantity - quantity
            )


# ------------------------------------------------------------------------------------------
# Daily statistics
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Print:
    """One trade as the statistics see it: its (Beijing) trading day, sequence, fen, tonnes."""

    day: date
    sequence: int
    price: int
    quantity: int


@dataclass(frozen=True, slots=True)
class DailyStatistics:
    """A trading day of one instrument: open/high/low/close price [fen/t], volume [t],
    turnover [fen] and the volume-weighted average price [fen/t, rounded half up]."""

    day: date
    open: int
    high: int
    low: int
    close: int
    trades: int
    volume_t: int
    turnover_fen: int
    vwap_fen: int


def daily_statistics(prints: Iterable[Print]) -> list[DailyStatistics]:
    """OHLC, volume, turnover and VWAP per day (open/close = first/last trade by sequence).

    VWAP = Σ price × quantity / Σ quantity (the definition the exchanges use for 成交均价),
    computed on integers and rounded half up to whole fen.
    """
    by_day: dict[date, list[Print]] = {}
    for item in prints:
        by_day.setdefault(item.day, []).append(item)
    days = []
    for day in sorted(by_day):
        ordered = sorted(by_day[day], key=lambda item: item.sequence)
        volume = sum(item.quantity for item in ordered)
        turnover = sum(item.price * item.quantity for item in ordered)
        prices = [item.price for item in ordered]
        days.append(
            DailyStatistics(
                day=day,
                open=prices[0],
                high=max(prices),
                low=min(prices),
                close=prices[-1],
                trades=len(ordered),
                volume_t=volume,
                turnover_fen=turnover,
                vwap_fen=(2 * turnover + volume) // (2 * volume),
            )
        )
    return days
