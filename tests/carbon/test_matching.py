"""The matching kernel: worked examples of price-time priority, and hypothesis properties
against a plain reference implementation (no crossed book, quantities conserved, priority)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qingshan.carbon.matching import (
    DailyStatistics,
    Fill,
    Order,
    OrderBook,
    Print,
    daily_statistics,
    match,
)


def test_incoming_buy_walks_the_asks_best_price_first_at_resting_prices() -> None:
    asks = [
        Order(1, "sell", 2500, 30),  # 25.00 yuan/t
        Order(2, "sell", 2400, 20),
        Order(3, "sell", 2600, 50),
    ]
    fills = match(Order(4, "buy", 2550, 45), asks)
    # 20 t at 24.00 (best ask), then 25 t of the 30 t at 25.00; 26.00 is above the limit.
    assert fills == [Fill(4, 2, 2400, 20), Fill(4, 1, 2500, 25)]


def test_same_price_fills_the_earlier_order_first() -> None:
    bids = [Order(7, "buy", 2400, 10), Order(3, "buy", 2400, 10), Order(5, "buy", 2300, 10)]
    fills = match(Order(9, "sell", 2300, 15), bids)
    assert fills == [Fill(9, 3, 2400, 10), Fill(9, 7, 2400, 5)]


def test_no_cross_no_fill() -> None:
    assert match(Order(2, "buy", 2399, 5), [Order(1, "sell", 2400, 5)]) == []


def test_orders_reject_non_positive_values_and_same_side_matching() -> None:
    with pytest.raises(ValueError, match="positive"):
        Order(1, "buy", 0, 5)
    with pytest.raises(ValueError, match="positive"):
        Order(1, "sell", 100, 0)
    with pytest.raises(ValueError, match="same side"):
        match(Order(2, "buy", 100, 1), [Order(1, "buy", 100, 1)])


def test_book_rests_the_remainder_and_reports_depth() -> None:
    book = OrderBook()
    assert book.submit(Order(1, "sell", 2500, 30)) == []
    assert book.submit(Order(2, "sell", 2500, 10)) == []
    assert book.submit(Order(3, "sell", 2600, 5)) == []
    assert book.submit(Order(4, "buy", 2500, 35)) == [Fill(4, 1, 2500, 30), Fill(4, 2, 2500, 5)]
    assert book.depth("sell") == [(2500, 5), (2600, 5)]
    assert book.submit(Order(5, "buy", 2450, 8)) == []
    assert book.depth("buy") == [(2450, 8)]
    assert book.cancel(2) == 5
    assert book.cancel(2) == 0
    best = book.best("sell")
    assert best is not None and best.id == 3


def test_daily_statistics_worked_example() -> None:
    day = date(2026, 11, 25)
    prints = [
        Print(day, 3, 2600, 10),
        Print(day, 1, 2500, 30),
        Print(day, 2, 2400, 20),
        Print(date(2026, 11, 26), 4, 2550, 1),
    ]
    first, second = daily_statistics(prints)
    # turnover 2500×30 + 2400×20 + 2600×10 = 149,000 fen over 60 t → 2483.33 → 2483 fen/t
    assert first == DailyStatistics(day, 2500, 2600, 2400, 2600, 3, 60, 149_000, 2483)
    assert second.open == second.close == second.vwap_fen == 2550


def test_vwap_rounds_half_up() -> None:
    day = date(2026, 1, 1)
    (stats,) = daily_statistics([Print(day, 1, 101, 1), Print(day, 2, 102, 1)])
    assert stats.vwap_fen == 102  # 101.5 → 102


# ------------------------------------------------------------------------------------------
# Properties against a reference implementation
# ------------------------------------------------------------------------------------------


class ReferenceBook:
    """The rules stated plainly: scan all resting orders for the best one, again and again."""

    def __init__(self) -> None:
        self.resting: dict[int, list[int | str]] = {}  # id → [side, price, quantity]

    def submit(self, order: Order) -> list[Fill]:
        fills, remaining = [], order.quantity
        while remaining:
            others = [
                (oid, price, qty)
                for oid, (side, price, qty) in self.resting.items()
                if side != order.side
                and (price <= order.price if order.side == "buy" else price >= order.price)
            ]
            if not others:
                break
            sign = 1 if order.side == "buy" else -1
            oid, price, qty = min(others, key=lambda o: (sign * int(o[1]), o[0]))
            take = min(remaining, int(qty))
            fills.append(Fill(order.id, oid, int(price), take))
            remaining -= take
            self.resting[oid][2] = int(qty) - take
            if self.resting[oid][2] == 0:
                del self.resting[oid]
        if remaining:
            self.resting[order.id] = [order.side, order.price, remaining]
        return fills

    def cancel(self, order_id: int) -> None:
        self.resting.pop(order_id, None)


steps = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["buy", "sell"]), st.integers(95, 105), st.integers(1, 20)),
        st.tuples(st.just("cancel"), st.integers(0, 60), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_book_equals_reference_and_keeps_its_invariants(
    actions: list[tuple[str, int, int]],
) -> None:
    book, reference = OrderBook(), ReferenceBook()
    submitted: dict[int, Order] = {}
    filled: dict[int, int] = {}
    cancelled: dict[int, int] = {}
    for number, (kind, price, quantity) in enumerate(actions):
        if kind == "cancel":
            cancelled[price] = cancelled.get(price, 0) + book.cancel(price)
            reference.cancel(price)
            continue
        order = Order(number, kind, price, quantity)  # type: ignore[arg-type]
        submitted[number] = order
        fills = book.submit(order)
        assert fills == reference.submit(order)  # same priority, prices and quantities
        for fill in fills:
            resting = submitted[fill.resting_id]
            assert fill.price == resting.price  # trade price = the resting order's
            assert fill.price <= order.price if order.side == "buy" else fill.price >= order.price
            filled[fill.incoming_id] = filled.get(fill.incoming_id, 0) + fill.quantity
            filled[fill.resting_id] = filled.get(fill.resting_id, 0) + fill.quantity
        bid, ask = book.best("buy"), book.best("sell")
        assert bid is None or ask is None or bid.price < ask.price  # never crossed
    resting = {order.id: order.quantity for order in book.resting()}
    assert resting == {oid: entry[2] for oid, entry in reference.resting.items()}
    for oid, order in submitted.items():  # every tonne is filled, resting or cancelled
        assert filled.get(oid, 0) + resting.get(oid, 0) + cancelled.get(oid, 0) == order.quantity
    bought = sum(q for oid, q in filled.items() if submitted[oid].side == "buy")
    sold = sum(q for oid, q in filled.items() if submitted[oid].side == "sell")
    assert bought == sold


@given(
    st.lists(
        st.tuples(st.integers(1, 3), st.integers(1, 10_000), st.integers(1, 1_000)), min_size=1
    )
)
def test_statistics_bound_vwap_by_low_and_high(rows: list[tuple[int, int, int]]) -> None:
    prints = [Print(date(2026, 1, d), n, p, q) for n, (d, p, q) in enumerate(rows)]
    for stats in daily_statistics(prints):
        assert stats.low <= stats.vwap_fen <= stats.high
        assert stats.low <= min(stats.open, stats.close) <= max(stats.open, stats.close)
        assert sum(p.quantity for p in prints if p.day == stats.day) == stats.volume_t
