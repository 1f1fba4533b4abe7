"""A small district for the problem-list tests: two grids, a site, and one user per role (grid
officers assigned to one grid each through ``user_grids``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from qingshan.services import cases
from qingshan.services.case_workflow import Actor
from qingshan.store.engine import reading, writing
from qingshan.store.identity import add_user
from qingshan.store.registry import ensure_grid, upsert_site

USERS = {
    "officer1": ("grid_officer", ["G-01"]),
    "officer2": ("grid_officer", ["G-02"]),
    "analyst": ("analyst", []),
    "analyst2": ("analyst", []),
    "factory": ("enterprise", []),
}


@dataclass(frozen=True)
class World:
    grid1: int
    grid2: int
    site: int
    user_ids: dict[str, int]

    def actor(self, engine: Engine, username: str) -> Actor:
        with reading(engine) as session:
            return cases.actor_for_user(session, self.user_ids[username], f"user:{username}")


def build_world(engine: Engine) -> World:
    with writing(engine, "test:fixture") as session:
        grids = [
            ensure_grid(
                session,
                district=("420107", "青山区"),
                township=("420107001", "红卫路街道", "street"),
                grid=(code, name),
            ).id
            for code, name in (("G-01", "第一网格"), ("G-02", "第二网格"))
        ]
        site = upsert_site(
            session,
            "AIR1",
            name="红卫路站",
            kind="air_station",
            latitude=30.6,
            longitude=114.4,
            grid_id=grids[0],
        )
        user_ids = {}
        for username, (role, grid_codes) in USERS.items():
            user_ids[username] = add_user(session, username, role).id
            if grid_codes:
                cases.set_user_grids(session, username, grid_codes)
        return World(grids[0], grids[1], site.id, user_ids)
