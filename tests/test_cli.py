"""The `crmkit` command line: demo, run on user files with column mappings, errors."""

import subprocess
import sys

import polars as pl
import pytest

from crmkit import datasets
from crmkit.cli import main
from crmkit.errors import CrmError


def crmkit(*args):
    return subprocess.run([sys.executable, "-m", "crmkit", *args], capture_output=True, text=True, timeout=600)


def test_help_everywhere():
    for args in ([], ["demo"], ["run"], ["generate"]):
        r = crmkit(*args, "--help")
        assert r.returncode == 0 and "usage: crmkit" in r.stdout


def test_demo_writes_tables_and_a_summary(tmp_path):
    r = crmkit("demo", "--out", str(tmp_path), "--customers", "300", "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert "[validate]" in r.stdout and "orders:" in r.stdout
    assert (tmp_path / "validate_overview.parquet").exists()
    assert (tmp_path / "data" / "orders.parquet").exists()
    # Nothing drawn for a terminal ends up in a log.
    assert "\r" not in r.stderr


def test_run_on_csv_files_with_mapped_columns(tmp_path):
    w = datasets.generate(n_customers=200, seed=4)
    orders = w.orders.rename({"customer_id": "cust_no", "order_date": "ts", "amount": "paid"}).drop("order_id")
    orders.write_csv(tmp_path / "orders.csv")
    out = tmp_path / "out"
    r = crmkit(
        "run",
        "--orders", str(tmp_path / "orders.csv"),
        "--col", "orders.customer_id=cust_no",
        "--col", "orders.order_date=ts",
        "--col", "orders.amount=paid",
        "--out", str(out),
    )
    assert r.returncode == 0, r.stderr
    overview = pl.read_parquet(out / "validate_overview.parquet")
    assert overview.filter(pl.col("table") == "orders")["rows"].item() == w.orders.height


def test_run_reports_a_missing_column_clearly(tmp_path):
    w = datasets.generate(n_customers=20, seed=4)
    w.orders.drop("amount").write_parquet(tmp_path / "orders.parquet")
    r = crmkit("run", "--orders", str(tmp_path / "orders.parquet"), "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert "amount" in r.stderr and "--col orders.amount=YOUR_COLUMN" in r.stderr


@pytest.mark.parametrize(
    "argv, text",
    [
        (["run", "--orders", "nope.csv", "--out", "x"], "file not found"),
        (["run", "--orders", "x.xlsx", "--out", "x", "--col", "orders=bad"], "TABLE.COLUMN=YOUR_COLUMN"),
    ],
)
def test_run_argument_errors(argv, text, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert text in capsys.readouterr().err


def test_generate_writes_files(tmp_path):
    assert main(["generate", "--customers", "30", "--out", str(tmp_path), "--format", "csv"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customers.csv", "events.csv", "items.csv", "orders.csv"]


def test_run_reads_text_dates_and_amounts_as_exports_write_them(tmp_path):
    """Chinese headers, '¥1,234.50' amounts, '2024/03/05 14:00' times, placeholders."""
    from crmkit.cli import _conform

    w = datasets.generate(n_customers=100, seed=6)
    orders = w.orders.head(50).select(
        pl.col("customer_id").alias("会员编号"),
        pl.col("order_date").dt.strftime("%Y/%m/%d %H:%M").alias("下单时间"),
        pl.col("amount").map_elements(lambda v: f"¥{v:,.2f}", return_dtype=pl.String).alias("金额"),
    )
    orders = orders.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("N/A")).otherwise(pl.col("金额")).alias("金额"),
        pl.when(pl.int_range(pl.len()) == 4).then(pl.lit("2024年3月5日")).otherwise(pl.col("下单时间")).alias("下单时间"),
    )
    maps = {"customer_id": "会员编号", "order_date": "下单时间", "amount": "金额"}
    got = _conform(orders, "orders", maps)
    assert got.schema["order_date"] == pl.Datetime("us") and got.schema["amount"] == pl.Float64
    want_amount = w.orders.head(50)["amount"].to_list()
    assert got["amount"][3] is None  # the placeholder
    assert got["amount"].to_list()[:3] + got["amount"].to_list()[4:] == pytest.approx(want_amount[:3] + want_amount[4:])
    assert got["order_date"][4].date().isoformat() == "2024-03-05"
    assert got["order_date"][0] == w.orders["order_date"][0].replace(second=0, microsecond=0)

    bad = orders.with_columns(pl.when(pl.int_range(pl.len()) < 2).then(pl.lit("soon")).otherwise(pl.col("下单时间")).alias("下单时间"))
    with pytest.raises(CrmError, match=r"column 'order_date' holds 2 value\(s\) that are not dates.*\['soon'\]"):
        _conform(bad, "orders", maps)
    bad = orders.with_columns(pl.lit("free").alias("金额"))
    with pytest.raises(CrmError, match=r"column 'amount' holds 50 value\(s\) that are not amounts"):
        _conform(bad, "orders", maps)
    # Integer dates, as spreadsheets and some databases export them.
    ints = pl.DataFrame({"customer_id": [1, 2, 3], "order_date": [45000, 20240305, None], "amount": [1.0, 2.0, 3.0]})
    got = _conform(ints, "orders", {})
    assert [d if d is None else d.date().isoformat() for d in got["order_date"]] == ["2023-03-15", "2024-03-05", None]


def test_run_refuses_to_overwrite_an_input(tmp_path, capsys):
    w = datasets.generate(n_customers=30, seed=4)
    victim = tmp_path / "segment_rfm.parquet"  # a name the segment step writes
    w.orders.write_parquet(victim)
    before = victim.read_bytes()
    assert main(["run", "--orders", str(victim), "--out", str(tmp_path)]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert victim.read_bytes() == before
    # The same file in another directory, or an input whose name crmkit never writes, is fine.
    w.orders.write_parquet(tmp_path / "orders.parquet")
    from crmkit.cli import _check_outputs_spare_inputs
    from pathlib import Path

    _check_outputs_spare_inputs([str(tmp_path / "orders.parquet")], tmp_path)
    _check_outputs_spare_inputs([str(victim)], tmp_path / "elsewhere")
    with pytest.raises(CrmError, match="dashboard.html"):
        _check_outputs_spare_inputs([str(tmp_path / "dashboard.html")], Path(tmp_path))


def test_run_writes_spreadsheet_safe_csv(tmp_path):
    """--format csv: results as CSV; a customer-made formula in a text cell is prefixed
    with ' (OWASP CSV injection) unless --csv-raw; numbers are never touched."""
    w = datasets.generate(n_customers=150, seed=4)
    evil = "=HYPERLINK(\"http://x\",\"y\")"
    orders = w.orders.with_columns(pl.when(pl.col("customer_id") == pl.col("customer_id").min()).then(pl.lit(evil))
                                   .otherwise(pl.col("channel").cast(pl.String)).alias("channel"))
    orders.write_parquet(tmp_path / "orders.parquet")
    for raw, out in ((False, tmp_path / "safe"), (True, tmp_path / "raw")):
        argv = ["run", "--orders", str(tmp_path / "orders.parquet"), "--out", str(out), "--format", "csv",
                "--no-dashboard", "--no-report", "--quiet"] + (["--csv-raw"] if raw else [])
        assert main(argv) == 0
        assert not list(out.glob("*.parquet"))
        texts = {p.name: p.read_text(encoding="utf-8-sig") for p in out.glob("*.csv")}
        assert "validate_overview.csv" in texts
        overview = pl.read_csv(out / "validate_overview.csv")
        assert overview.filter(pl.col("table") == "orders")["rows"].item() == orders.height
        hits = [name for name, t in texts.items() if "HYPERLINK" in t]
        assert hits, "the channel value reaches some result table"
        for name in hits:
            table = pl.read_csv(out / name, infer_schema=False)
            cells = pl.concat([table[c] for c in table.columns]).drop_nulls()
            bad = cells.filter(cells.str.contains("HYPERLINK"))
            assert bad.str.starts_with("'=").all() != raw, name
            assert bad.str.starts_with("=").all() == raw, name


def test_run_accounts_for_every_input_row(tmp_path):
    """A dirty export costs its bad rows, not the run; row_accounting says where every
    row went, and the analysis date cuts every step's data (no step sees later orders)."""
    world = datasets.generate(n_customers=400, seed=8)
    n = world.orders.height
    idx = pl.int_range(pl.len())
    orders = world.orders.with_columns(
        customer_id=pl.when(idx % 101 == 1).then(None).otherwise(pl.col("customer_id")),
        amount=pl.when(idx % 103 == 2).then(float("nan")).otherwise(pl.col("amount")),
        order_date=pl.when(idx % 107 == 3).then(None).otherwise(pl.col("order_date")),
    )
    expected_drop = {
        "customer_id is missing": sum(1 for i in range(n) if i % 101 == 1),
        "amount is missing": sum(1 for i in range(n) if i % 103 == 2 and i % 101 != 1),
        "order_date is missing": sum(1 for i in range(n) if i % 107 == 3 and i % 101 != 1 and i % 103 != 2),
    }
    orders.write_parquet(tmp_path / "orders.parquet")
    world.items.write_parquet(tmp_path / "items.parquet")
    as_of = "2024-07-01"
    out = tmp_path / "out"
    assert main(["run", "--orders", str(tmp_path / "orders.parquet"), "--items", str(tmp_path / "items.parquet"),
                 "--out", str(out), "--as-of", as_of, "--no-dashboard", "--no-report", "--quiet"]) == 0
    acc = pl.read_parquet(out / "row_accounting.parquet")
    o = acc.filter(pl.col("table") == "orders")
    rows = {r["what"]: r["rows"] for r in o.filter(pl.col("step") == "input").iter_rows(named=True)}
    assert rows["read"] == n
    for why, k in expected_drop.items():
        assert rows[f"dropped: {why}"] == k
    clean = orders.filter(pl.col("customer_id").is_not_null() & pl.col("amount").is_not_nan()
                          & pl.col("order_date").is_not_null())
    later = clean.filter(pl.col("order_date") >= pl.lit(as_of).str.to_datetime()).height
    assert later > 0 and rows["not analysed: on or after the analysis date"] == later
    assert rows["analysed"] == n - sum(expected_drop.values()) - later
    used = o.filter(pl.col("what") == "used")
    assert used.height >= 5 and (used["rows"] == rows["analysed"]).all()
    # Items follow their orders.
    i = {r["what"]: r["rows"] for r in acc.filter((pl.col("table") == "items") & (pl.col("step") == "input"))
         .iter_rows(named=True)}
    assert i["read"] == world.items.height
    assert i["analysed"] + i.get("dropped: its order is not analysed", 0) == i["read"]
    assert i["dropped: its order is not analysed"] > 0
    # No step saw an order on or after the analysis date.
    weekly = pl.read_parquet(out / "forecast_series.parquet")
    assert weekly["ds"].cast(pl.Date).max() < pl.Series([as_of]).str.to_date()[0]
