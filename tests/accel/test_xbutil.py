"""The ``xbutil examine --format JSON`` parser, on documents written to XRT's schema.

The documents below follow the keys XRT's report writers put in the property tree
(``src/runtime_src/core/tools/common/reports/ReportHost.cpp``, ``ReportThermal.cpp``,
``ReportElectrical.cpp`` in github.com/Xilinx/XRT; every leaf a string, as boost's JSON
writer emits). No real card's output was available here.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tcplab.accel import (
    discover_cards,
    parse_xbutil_devices,
    parse_xbutil_host,
    read_card_telemetry,
)
from tcplab.errors import AcceleratorError, AcceleratorUnavailableError

HOST_DOC = {
    "schema_version": {"schema": "JSON", "creation_date": "Wed Dec  2 08:00:00 2026 GMT"},
    "system": {
        "host": {
            "os": {"sysname": "Linux", "release": "5.15.0", "machine": "x86_64", "cores": "32"},
            "xrt": {
                "version": "2.16.204",
                "branch": "2023.2",
                "hash": "fa4f4f2e5c0a1b8ce2c9f1b1d2f7d2c3d4e5f6a7",
                "build_date": "2023-10-11 14:01:19",
                "drivers": [
                    {"name": "xocl", "version": "2.16.204", "hash": "fa4f4f2"},
                    {"name": "xclmgmt", "version": "2.16.204", "hash": "fa4f4f2"},
                ],
            },
            "devices": [
                {
                    "bdf": "0000:3b:00.1",
                    "device_class": "Alveo",
                    "vbnv": "xilinx_u250_gen3x16_xdma_shell_4_1",
                    "id": "0x3a40b6ea8a1b7c1e9e4bd1f0a1d2c3b4",
                    "instance": "user(inst=129)",
                    "is_ready": "true",
                },
                {
                    "bdf": "0000:af:00.1",
                    "device_class": "Alveo",
                    "vbnv": "xilinx_u55c_gen3x16_xdma_base_3",
                    "id": "N/A",
                    "instance": "user(inst=130)",
                    "is_ready": "false",
                },
            ],
        }
    },
}

DEVICE_DOC = {
    "schema_version": {"schema": "JSON", "creation_date": "Wed Dec  2 08:00:01 2026 GMT"},
    "devices": [
        {
            "interface_type": "pcie",
            "device_id": "0000:3b:00.1",
            "thermals": [
                {
                    "location_id": "pcb_top_front",
                    "description": "PCB Top Front",
                    "is_present": "true",
                    "temp_C": "38",
                },
                {
                    "location_id": "fpga0",
                    "description": "FPGA",
                    "is_present": "true",
                    "temp_C": "51",
                },
                {
                    "location_id": "vccint",
                    "description": "Int Vcc",
                    "is_present": "false",
                    "temp_C": "0",
                },
            ],
            "electrical": {
                "power_rails": [
                    {
                        "id": "12v_pex",
                        "description": "12 Volts PCI Express",
                        "voltage": {"volts": "12.1"},
                        "current": {"amps": "1.9"},
                    }
                ],
                "power_consumption_max_watts": "225",
                "power_consumption_watts": "23.4",
                "power_consumption_warning": "false",
            },
        }
    ],
}


def test_host_report_lists_cards_and_xrt() -> None:
    host = parse_xbutil_host(json.dumps(HOST_DOC))
    assert host.xrt_version == "2.16.204"
    assert host.drivers == {"xocl": "2.16.204", "xclmgmt": "2.16.204"}
    assert [c.bdf for c in host.cards] == ["0000:3b:00.1", "0000:af:00.1"]
    first, second = host.cards
    assert first.is_ready and first.vbnv == "xilinx_u250_gen3x16_xdma_shell_4_1"
    assert not second.is_ready and second.logic_uuid is None  # "N/A" is absent, not a value
    assert parse_xbutil_host(HOST_DOC["system"]) == host  # accepted without the wrapper


def test_host_report_without_devices_or_host() -> None:
    empty = {"system": {"host": {"xrt": {"version": "2.16.204"}, "devices": []}}}
    assert parse_xbutil_host(empty).cards == ()
    with pytest.raises(AcceleratorError, match=r"no system\.host"):
        parse_xbutil_host({"schema_version": {}})
    with pytest.raises(AcceleratorError, match="not JSON"):
        parse_xbutil_host("xbutil: command failed")
    with pytest.raises(AcceleratorError, match="not a JSON object"):
        parse_xbutil_host("[1, 2]")


def test_device_report_gives_present_temperatures_and_power() -> None:
    (card,) = parse_xbutil_devices(json.dumps(DEVICE_DOC))
    assert card.bdf == "0000:3b:00.1"
    assert card.temperatures_c == {"pcb_top_front": 38.0, "fpga0": 51.0}
    assert card.power_watts == 23.4 and card.max_power_watts == 225.0
    (bare,) = parse_xbutil_devices(
        {"device_id": "x", "electrical": {"power_consumption_watts": "N/A"}}
    )
    assert bare.power_watts is None and bare.temperatures_c == {}


def test_no_xbutil_on_path_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AcceleratorUnavailableError, match="'xbutil' is not on PATH: install XRT"):
        discover_cards()


def _script(tmp_path: Path, body: str) -> str:
    exe = tmp_path / "xbutil"
    exe.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(exe)


def test_the_command_line_contract(tmp_path: Path) -> None:
    """Up to the wire: an executable standing in for xbutil's CLI (arguments, --output file,
    exit status); the real xbutil was not run (no XRT here)."""
    (tmp_path / "host.json").write_text(json.dumps(HOST_DOC), encoding="utf-8")
    (tmp_path / "dev.json").write_text(json.dumps(DEVICE_DOC), encoding="utf-8")
    body = f"""
echo "$@" >> {tmp_path}/args
out=""; prev=""
for a in "$@"; do [ "$prev" = "--output" ] && out="$a"; prev="$a"; done
case "$*" in
  *"-d 0000:3b:00.1"*) cp {tmp_path}/dev.json "$out";;
  *) cp {tmp_path}/host.json "$out";;
esac
"""
    exe = _script(tmp_path, body)
    assert [c.bdf for c in discover_cards(exe).cards] == ["0000:3b:00.1", "0000:af:00.1"]
    (card,) = read_card_telemetry("0000:3b:00.1", exe)
    assert card.power_watts == 23.4
    args = (tmp_path / "args").read_text().splitlines()
    assert args[0].startswith("examine --format JSON --output ") and args[0].endswith(" --force")
    assert args[1].startswith("examine -d 0000:3b:00.1 -r thermal electrical --format JSON")


def test_a_failing_xbutil_is_reported_in_one_line(tmp_path: Path) -> None:
    exe = _script(tmp_path, 'echo "ERROR: No devices found\n  try again" >&2\nexit 1\n')
    with pytest.raises(
        AcceleratorError, match=r"failed \(exit 1\): ERROR: No devices found try again"
    ):
        discover_cards(exe)
    assert os.access(exe, os.X_OK)
