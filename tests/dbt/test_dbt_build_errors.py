"""What the pipeline sees when dbt cannot build: a WarehouseError naming the failing nodes."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from fundwatch.paths import Home
from fundwatch.warehouse import WarehouseError, dbt_build, mask_line


def test_build_without_raw_layer_fails_with_chinese_and_english_reason(tmp_path):
    home = Home(tmp_path).ensure()
    duckdb.connect(str(home.warehouse)).close()  # a warehouse without the raw schema
    with pytest.raises(WarehouseError) as excinfo:
        dbt_build(home, date(2021, 4, 30))
    message = str(excinfo.value)
    assert "dbt build 失败" in message and "dbt build failed" in message
    assert "stg_raw__" in message  # the failing nodes are named
    assert not (home.logs_dir / "dbt" / "dbt.log").exists()  # no unmasked dbt log file


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("id 43010219800101002X bad", "id 430102********002X bad", id="id-number"),
        pytest.param("account 6217990000000001", "account ************0001", id="account"),
        pytest.param("account 62179900000001", "account **********0001", id="account-14-digits"),
        pytest.param("ref ZJ2020042200030399", "ref ZJ************0399", id="references-too-in-logs"),
        pytest.param("date 20200630 stays", "date 20200630 stays", id="dates-kept"),
    ],
)
def test_dbt_output_is_masked_before_logging(line, expected):
    assert mask_line(line) == expected
