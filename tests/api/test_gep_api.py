"""``/api/v1/gep``: specifications, runs from server inputs and from uploads, the kept run's
tables, report and layers, on both store backends; roles, 422 with file/row/column, nothing
kept after bad input, audit rows, and refused path traversal."""

from __future__ import annotations

import hashlib
import io
import shutil
from contextlib import contextmanager
from pathlib import Path

import openpyxl
import pytest
from docx import Document
from pypdf import PdfReader
from sqlalchemy import select

from qingshan.services import gep
from qingshan.store.engine import reading, writing
from qingshan.store.models import AuditEntry

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gep"
RUNS = "/api/v1/gep/runs"


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """QINGSHAN_DATA_DIR with the example district under gep/inputs/example/."""
    folder = tmp_path / "data"
    shutil.copytree(EXAMPLE, folder / "gep" / "inputs" / "example")
    monkeypatch.setenv("QINGSHAN_DATA_DIR", str(folder))
    return folder


def example_uploads(config: str = "config.toml", replace: dict[str, bytes] | None = None):
    """Multipart fields: the configuration and every example file by its relative name."""
    replace = replace or {}
    files = [("config", (config, (EXAMPLE / config).read_bytes()))]
    for path in sorted(EXAMPLE.rglob("*")):
        name = path.relative_to(EXAMPLE).as_posix()
        if path.is_file() and name != config and path.suffix != ".py":
            files.append(("files", (name, replace.get(name, path.read_bytes()))))
    return files


def kept_runs(data_dir: Path) -> list[str]:
    runs = data_dir / "gep" / "runs"
    return sorted(p.name for p in runs.iterdir()) if runs.is_dir() else []


def service_gep_wan(config: str) -> float:
    return gep.run(gep.load_run(EXAMPLE / config)).totals.gep / 1e4


# ------------------------------------------------------------------------------ specs


def test_specs_and_one_spec(client, token_for, data_dir):
    listing = client.get("/api/v1/gep/specs", headers=token_for("grid_officer"))
    assert listing.status_code == 200
    ids = [spec["id"] for spec in listing.json()["results"]]
    assert "ndrc-nbs-2022" in ids
    assert "precip_mm" in listing.json()["inputs"]["drivers"]
    analyst = token_for("analyst")
    one = client.get("/api/v1/gep/specs/ndrc-nbs-2022", headers=analyst)
    assert one.status_code == 200
    indicators = {row["indicator"] for row in one.json()["indicators"]}
    assert {"water_conservation", "soil_retention"} <= indicators
    unknown = client.get("/api/v1/gep/specs/nope", headers=analyst)
    assert unknown.status_code == 404


def test_specs_roles(client, token_for, data_dir):
    assert client.get("/api/v1/gep/specs").status_code == 401
    assert client.get("/api/v1/gep/specs", headers=token_for("enterprise")).status_code == 403


# ------------------------------------------------------------------------------ runs


def test_server_run_list_tables_report_layers(client, token_for, engine, data_dir):
    analyst, officer = token_for("analyst"), token_for("grid_officer")
    created = client.post(RUNS, headers=analyst, json={"config": "example/config.toml"})
    assert created.status_code == 201, created.text
    run = created.json()
    run_id = run["run_id"]
    assert run["origin"] == "server" and run["config"] == "example/config.toml"
    # The API run is the service's run of the same configuration.
    assert run["gep_wan"] == pytest.approx(service_gep_wan("config.toml"))
    assert run["manifest"]["compared_with"] == "config-2022.toml"
    assert "yoy_townships" in run["tables"]

    listed = client.get(RUNS, headers=officer).json()["results"]
    assert [entry["run_id"] for entry in listed] == [run_id]
    assert client.get(f"{RUNS}/{run_id}", headers=officer).json()["gep_wan"] == run["gep_wan"]

    categories = client.get(f"{RUNS}/{run_id}/tables/categories", headers=officer).json()
    rows = categories["results"]
    assert sum(row["share_pct"] for row in rows) == pytest.approx(100)
    assert sum(row["value_wan"] for row in rows) == pytest.approx(run["gep_wan"])

    csv = client.get(f"{RUNS}/{run_id}/tables/townships", headers=officer, params={"format": "csv"})
    assert csv.status_code == 200
    assert csv.content.decode("utf-8-sig").startswith("乡镇 / Township,")

    xlsx = client.get(
        f"{RUNS}/{run_id}/tables/townships", headers=officer, params={"format": "xlsx"}
    )
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)["townships"]
    header, *body = list(sheet.iter_rows(values_only=True))
    gep_column = header.index("GEP(万元) / GEP (10^4 yuan)")
    assert sum(row[gep_column] for row in body) == pytest.approx(run["gep_wan"])

    workbook = client.get(f"{RUNS}/{run_id}/workbook", headers=officer)
    assert "乡镇 Townships" in openpyxl.load_workbook(io.BytesIO(workbook.content)).sheetnames

    report = client.get(f"{RUNS}/{run_id}/report", headers=officer)
    assert report.status_code == 200 and report.content[:2] == b"PK"
    text = "\n".join(p.text for p in Document(io.BytesIO(report.content)).paragraphs)
    assert "生态产品总值" in text
    # The PDF is laid out from the same content as the Word report.
    pdf = client.get(f"{RUNS}/{run_id}/report", headers=officer, params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"
    pdf_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "生态产品总值" in pdf_text and "乡镇核算结果" in pdf_text
    same = client.get(f"/api/v1/reports/gep/{run_id}", headers=officer, params={"format": "pdf"})
    assert same.content == pdf.content

    layers = client.get(f"{RUNS}/{run_id}/layers", headers=officer).json()["results"]
    assert {"townships.json", "grid.json", "water_conservation.value.npy"} <= set(layers)
    townships = client.get(f"{RUNS}/{run_id}/layers/townships.json", headers=officer).json()
    assert sum(t["gep_wan"] for t in townships.values()) == pytest.approx(run["gep_wan"])

    # The run is audited: who, which configuration, every input's SHA-256.
    with reading(engine) as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "gep.run"))
    assert entry.actor == "user:analyst-user" and entry.entity_id == run_id
    config_bytes = (EXAMPLE / "config.toml").read_bytes()
    assert {
        "path": "config.toml",
        "sha256": hashlib.sha256(config_bytes).hexdigest(),
    } in entry.after["inputs"]


def test_uploaded_run_keeps_its_inputs(client, token_for, data_dir):
    created = client.post(RUNS, headers=token_for("admin"), files=example_uploads())
    assert created.status_code == 201, created.text
    run = created.json()
    assert run["origin"] == "upload" and run["route"] == "raster"
    assert run["gep_wan"] == pytest.approx(service_gep_wan("config.toml"))
    kept = data_dir / "gep" / "runs" / run["run_id"] / "inputs"
    assert (kept / "rasters" / "land_cover.npy").read_bytes() == (
        EXAMPLE / "rasters" / "land_cover.npy"
    ).read_bytes()
    paths = {entry["path"] for entry in run["manifest"]["inputs"]}
    assert "rasters/land_cover.npy" in paths


def test_table_route_upload(client, token_for, data_dir):
    created = client.post(
        RUNS, headers=token_for("analyst"), files=example_uploads("config-table.toml")
    )
    assert created.status_code == 201, created.text
    assert created.json()["route"] == "table"
    assert created.json()["gep_wan"] == pytest.approx(service_gep_wan("config-table.toml"))


def test_bad_upload_is_422_with_row_and_column_and_nothing_kept(client, token_for, data_dir):
    table = (EXAMPLE / "ecosystems-2023.csv").read_text("utf-8")
    first_row = table.splitlines()[1]
    ecosystem = first_row.split(",")[1]
    bad = table.replace(first_row, first_row.replace(ecosystem, "lava", 1), 1)
    files = example_uploads("config-table.toml", {"ecosystems-2023.csv": bad.encode("utf-8")})
    response = client.post(RUNS, headers=token_for("analyst"), files=files)
    assert response.status_code == 422
    problem = response.json()["detail"]["problems"][0]
    assert (problem["file"], problem["row"], problem["column"]) == (
        "ecosystems-2023.csv",
        2,
        "ecosystem",
    )
    assert "unknown ecosystem type 'lava'" in problem["message"]
    assert kept_runs(data_dir) == []


def test_missing_configuration_key_is_422(client, token_for, data_dir):
    files = [("config", ("config.toml", b'title = "x"\n'))]
    response = client.post(RUNS, headers=token_for("analyst"), files=files)
    assert response.status_code == 422
    assert response.json()["detail"]["problems"][0]["column"] == "spec"
    assert kept_runs(data_dir) == []


def test_grid_officer_reads_but_cannot_run(client, token_for, data_dir):
    body = {"config": "example/config-table.toml"}
    officer = token_for("grid_officer")
    assert client.post(RUNS, json=body).status_code == 401
    assert client.post(RUNS, headers=officer, json=body).status_code == 403
    assert client.post(RUNS, headers=token_for("enterprise"), json=body).status_code == 403
    assert client.get(RUNS, headers=officer).status_code == 200
    assert client.get(RUNS, headers=token_for("device")).status_code == 403
    assert kept_runs(data_dir) == []


def test_unknown_run_table_and_layer_are_404(client, token_for, data_dir):
    analyst = token_for("analyst")
    run_id = client.post(
        RUNS, headers=analyst, json={"config": "example/config-table.toml"}
    ).json()["run_id"]
    assert client.get(f"{RUNS}/20000101T000000Z-00000000", headers=analyst).status_code == 404
    assert client.get(f"{RUNS}/{run_id}/tables/nope", headers=analyst).status_code == 404
    assert client.get(f"{RUNS}/{run_id}/layers/nope.npy", headers=analyst).status_code == 404


# ------------------------------------------------------------------------------ traversal


def test_server_config_outside_the_inputs_folder_is_refused(client, token_for, data_dir):
    analyst = token_for("analyst")
    for config in ("../../qingshan.db", "/etc/passwd", "../inputs/../../x"):
        response = client.post(RUNS, headers=analyst, json={"config": config})
        assert response.status_code == 422, config
        assert (
            "inside the server's GEP inputs folder"
            in response.json()["detail"]["problems"][0]["message"]
        )
    assert kept_runs(data_dir) == []


def test_configuration_naming_a_file_outside_the_inputs_folder_is_refused(
    client, token_for, data_dir
):
    secret = data_dir / "secret.csv"
    secret.write_text("township,input,value,unit\nx,gdp,1,万元\n", "utf-8")
    example = data_dir / "gep" / "inputs" / "example"
    text = (example / "config-table.toml").read_text("utf-8")
    (example / "escape.toml").write_text(
        text.replace('statistics = "statistics-2023.csv"', 'statistics = "../../../secret.csv"'),
        "utf-8",
    )
    response = client.post(
        RUNS, headers=token_for("analyst"), json={"config": "example/escape.toml"}
    )
    assert response.status_code == 422
    [problem] = response.json()["detail"]["problems"]
    assert problem["column"] == "statistics" and "outside" in problem["message"]


def test_symbolic_link_out_of_the_inputs_folder_is_refused(client, token_for, data_dir):
    outside = data_dir / "elsewhere"
    shutil.copytree(EXAMPLE, outside)
    (data_dir / "gep" / "inputs" / "linked").symlink_to(outside)
    response = client.post(
        RUNS, headers=token_for("analyst"), json={"config": "linked/config-table.toml"}
    )
    assert response.status_code == 422


def test_uploaded_configuration_cannot_reach_server_files(client, token_for, data_dir):
    text = (EXAMPLE / "config-table.toml").read_text("utf-8")
    escaping = text.replace('prices = "prices.csv"', 'prices = "../../../../secret.csv"')
    files = example_uploads("config-table.toml")
    files[0] = ("config", ("config-table.toml", escaping.encode("utf-8")))
    response = client.post(RUNS, headers=token_for("analyst"), files=files)
    assert response.status_code == 422
    assert response.json()["detail"]["problems"][0]["column"] == "prices"


def test_upload_names_cannot_climb_out(client, token_for, data_dir):
    analyst = token_for("analyst")
    config = ("config", ("config-table.toml", (EXAMPLE / "config-table.toml").read_bytes()))
    for name in (
        "../escape.csv",
        "/tmp/escape.csv",
        "a/../../escape.csv",
        "..\\escape.csv",
        ".hidden",
    ):
        response = client.post(RUNS, headers=analyst, files=[config, ("files", (name, b"x"))])
        assert response.status_code == 422, name
        assert "must be a relative path inside the upload" in response.json()["detail"]["message"]
    assert not (data_dir / "gep" / "escape.csv").exists()
    assert kept_runs(data_dir) == []


def test_run_ids_and_file_names_in_urls_cannot_climb_out(client, token_for, data_dir):
    analyst = token_for("analyst")
    run_id = client.post(
        RUNS, headers=analyst, json={"config": "example/config-table.toml"}
    ).json()["run_id"]
    # Percent-encoded dots reach the endpoints as "..": not a run, table or layer name.
    for url in (
        f"{RUNS}/%2E%2E",
        f"{RUNS}/{run_id}/tables/%2E%2E",
        f"{RUNS}/{run_id}/layers/%2E%2E",
        f"{RUNS}/%2E%2E/report",
    ):
        response = client.get(url, headers=analyst)
        assert response.status_code == 404, url
        assert response.json()["detail"].startswith("no "), url
    # Encoded slashes never match a route.
    for url in (
        f"{RUNS}/{run_id}/tables/..%2F..%2Fsecret",
        f"{RUNS}/{run_id}/layers/..%2Frun.json",
    ):
        assert client.get(url, headers=analyst).status_code == 404, url


def test_run_is_not_kept_when_its_audit_row_is_not_committed(
    client, token_for, data_dir, monkeypatch
):
    import qingshan.api.routers.gep as router

    @contextmanager
    def failing_commit(engine, actor):
        with writing(engine, actor) as session:
            yield session
            raise RuntimeError("commit failed")  # after the folder was renamed into place

    monkeypatch.setattr(router, "writing", failing_commit)
    test_client = type(client)(client.app, raise_server_exceptions=False)
    response = test_client.post(
        RUNS, headers=token_for("analyst"), json={"config": "example/config-table.toml"}
    )
    assert response.status_code == 500
    assert kept_runs(data_dir) == []
