"""The API core: health, sign-in, the bearer token, role checks and the offline docs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy import select

from qingshan.api.deps import Caller, require_roles
from qingshan.store.engine import reading
from qingshan.store.models import AuditEntry

AnalystOnly = Annotated[Caller, Depends(require_roles("analyst"))]


def test_health_needs_no_token(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_sign_in_issues_a_token_that_identifies_the_user(client, token_for, engine):
    token_for("analyst", password="s3cret-长城")
    response = client.post(
        "/api/v1/auth/token", json={"username": "analyst-user", "password": "s3cret-长城"}
    )
    assert response.status_code == 200
    token = response.json()["token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == {"username": "analyst-user", "role": "analyst"}
    with reading(engine) as session:  # the token issued at sign-in is an audited write
        actors = session.scalars(select(AuditEntry.actor)).all()
    assert "user:analyst-user" in actors


def test_wrong_password_is_refused(client, token_for):
    token_for("analyst", password="right")
    response = client.post(
        "/api/v1/auth/token", json={"username": "analyst-user", "password": "wrong"}
    )
    assert response.status_code == 401


def test_missing_and_unknown_tokens_are_401(client):
    assert client.get("/api/v1/auth/me").status_code == 401
    unknown = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer qs_nope"})
    assert unknown.status_code == 401


def test_role_check_admits_listed_roles_and_admins(client, token_for):
    @client.app.get("/api/v1/_analysts_only")
    def probe(caller: AnalystOnly) -> dict[str, str]:
        return {"caller": caller.username}

    assert client.get("/api/v1/_analysts_only", headers=token_for("analyst")).status_code == 200
    assert client.get("/api/v1/_analysts_only", headers=token_for("admin")).status_code == 200
    refused = client.get("/api/v1/_analysts_only", headers=token_for("grid_officer"))
    assert refused.status_code == 403
    assert "grid_officer" in refused.json()["detail"]


def test_docs_are_served_from_the_package(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert client.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    assert "/api/v1/auth/token" in schema["paths"]
