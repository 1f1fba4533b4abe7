"""``qingshan market …``: the carbon-credit market for administrators (docs/registry.md).

Commands act as the registry administrator, like ``qingshan registry``: deposit and withdraw
yuan (bank transfers received or paid), place and cancel orders for custodial accounts, and
read the book, the trades and the daily statistics. Amounts are given in yuan with at most two
decimals and kept in integer fen. A refusal prints the reason and exits with 2; nothing changes.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from qingshan.commands.common import JsonOption, emit_json
from qingshan.commands.db import store_engine
from qingshan.commands.registry import KeyOption, _admin, _key, _run
from qingshan.services import market

app = typer.Typer(
    help="Carbon-credit market: yuan balances, limit orders, book, trades, statistics."
)

AccountArgument = Annotated[str, typer.Argument(help="Registry account code.")]
YuanOption = Annotated[str, typer.Option("--yuan", help="Amount in yuan, e.g. 12000.50.")]
NoteOption = Annotated[str, typer.Option(help="Bank reference or reason (kept in the journal).")]


def _yuan(fen: int) -> str:
    whole, cents = divmod(fen, 100)
    return f"{whole:,}.{cents:02d}"


def _emit(result: dict[str, Any], as_json: bool, line: str) -> None:
    if as_json:
        emit_json({"ok": True, **result})
    else:
        typer.echo(line)


def _cash(
    account: str, amount: str, note: str, key: str | None, as_json: bool, withdraw: bool
) -> None:
    engine = store_engine()
    result = _run(
        as_json,
        lambda: market.deposit(
            engine,
            _admin(),
            key=_key(key),
            account_code=account,
            amount_fen=market.fen_from_yuan(amount),
            note=note,
            withdraw=withdraw,
        ),
    )
    _emit(
        result,
        as_json,
        f"{result['kind']} {_yuan(result['amount_fen'])} yuan: {account} has "
        f"{_yuan(result['available_fen'])} available, {_yuan(result['reserved_fen'])} reserved",
    )


@app.command("deposit")
def deposit_command(
    account: AccountArgument,
    amount: YuanOption,
    note: NoteOption,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Credit yuan received for an account."""
    _cash(account, amount, note, key, as_json, withdraw=False)


@app.command("withdraw")
def withdraw_command(
    account: AccountArgument,
    amount: YuanOption,
    note: NoteOption,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pay out available yuan (money reserved by open buy orders stays)."""
    _cash(account, amount, note, key, as_json, withdraw=True)


@app.command("cash")
def cash_command(account: AccountArgument, as_json: JsonOption = False) -> None:
    """An account's available and reserved yuan."""
    found = _run(as_json, lambda: market.cash(store_engine(), _admin(), account))
    _emit(
        found,
        as_json,
        f"{account}\tavailable {_yuan(found['available_fen'])}\t"
        f"reserved {_yuan(found['reserved_fen'])} yuan",
    )


@app.command("order")
def order_command(
    account: AccountArgument,
    side: Annotated[str, typer.Option(help="buy or sell.")],
    issuance: Annotated[int, typer.Option(help="Issuance id (the instrument; `registry supply`).")],
    price: Annotated[str, typer.Option(help="Limit price [yuan/t], e.g. 24.08.")],
    quantity: Annotated[int, typer.Option(min=1, help="Whole tonnes CO2e.")],
    block: Annotated[int | None, typer.Option(help="Sell orders: the block sold from.")] = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Place a limit order; it trades at once against the book and rests with the remainder."""
    engine = store_engine()
    order = _run(
        as_json,
        lambda: market.submit_order(
            engine,
            _admin(),
            key=_key(key),
            account_code=account,
            issuance_id=issuance,
            side=side,
            price_fen_per_t=market.fen_from_yuan(price),
            quantity=quantity,
            block_id=block,
        ),
    )
    fills = ", ".join(
        f"{t['quantity_t']} t at {_yuan(t['price_fen_per_t'])}" for t in order["trades"]
    )
    _emit(
        order,
        as_json,
        f"order #{order['id']} {order['status']}: {order['filled_t']} of "
        f"{order['quantity_t']} t filled" + (f" ({fills})" if fills else ""),
    )


@app.command("cancel")
def cancel_command(order_id: Annotated[int, typer.Argument()], as_json: JsonOption = False) -> None:
    """Cancel an open order (reserved yuan or escrowed credits go back)."""
    order = _run(as_json, lambda: market.cancel_order(store_engine(), _admin(), order_id))
    _emit(
        order,
        as_json,
        f"order #{order['id']} {order['status']} ({order['remaining_t']} t released)",
    )


@app.command("orders")
def orders_command(account: AccountArgument, as_json: JsonOption = False) -> None:
    """An account's orders, newest first."""
    rows = _run(as_json, lambda: {"orders": market.orders(store_engine(), _admin(), account)})
    if as_json:
        emit_json({"ok": True, **rows})
        return
    for row in rows["orders"]:
        typer.echo(
            f"#{row['id']}\t{row['side']}\t{_yuan(row['price_fen_per_t'])}\t"
            f"{row['filled_t']}/{row['quantity_t']} t\t{row['status']}"
        )


@app.command("book")
def book_command(issuance: Annotated[int, typer.Argument()], as_json: JsonOption = False) -> None:
    """Depth of an instrument: tonnes per price level, asks above bids."""
    depth = _run(as_json, lambda: market.book(store_engine(), issuance))
    if as_json:
        emit_json({"ok": True, **depth})
        return
    typer.echo(depth["instrument"])
    for level in reversed(depth["asks"]):
        typer.echo(f"  ask {_yuan(level['price_fen_per_t'])}\t{level['quantity_t']} t")
    for level in depth["bids"]:
        typer.echo(f"  bid {_yuan(level['price_fen_per_t'])}\t{level['quantity_t']} t")


@app.command("trades")
def trades_command(
    issuance: Annotated[int | None, typer.Option(help="Only this instrument.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account's trades.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Trade history, newest first, with buyers and sellers."""
    rows = _run(
        as_json,
        lambda: {
            "trades": market.trades(
                store_engine(), _admin(), issuance_id=issuance, account_code=account
            )
        },
    )
    if as_json:
        emit_json({"ok": True, **rows})
        return
    for row in rows["trades"]:
        typer.echo(
            f"{row['at']}\t#{row['issuance_id']}\t{row['quantity_t']} t\t"
            f"{_yuan(row['price_fen_per_t'])}\t{row['seller']} → {row['buyer']}"
        )


@app.command("stats")
def stats_command(
    issuance: Annotated[int, typer.Argument()],
    first_day: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")] = None,
    last_day: Annotated[str | None, typer.Option("--until", help="Last day, included.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Daily open/high/low/close, volume, turnover and VWAP (Beijing days)."""
    days = _run(
        as_json,
        lambda: {
            "days": market.statistics(
                store_engine(),
                issuance,
                date.fromisoformat(first_day) if first_day else None,
                date.fromisoformat(last_day) if last_day else None,
            )
        },
    )
    if as_json:
        emit_json({"ok": True, **days})
        return
    for day in days["days"]:
        typer.echo(
            f"{day['day']}\tO {_yuan(day['open_fen_per_t'])} H {_yuan(day['high_fen_per_t'])} "
            f"L {_yuan(day['low_fen_per_t'])} C {_yuan(day['close_fen_per_t'])}\t"
            f"{day['volume_t']} t\t{_yuan(day['turnover_fen'])} yuan\t"
            f"VWAP {_yuan(day['vwap_fen_per_t'])}"
        )
