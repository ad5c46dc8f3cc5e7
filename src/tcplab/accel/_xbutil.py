"""FPGA discovery and telemetry from ``xbutil examine --format JSON``.

Schema source: the JSON that XRT's ``xbutil`` writes is a serialised boost property tree, so
every leaf is a string (``"true"``, ``"38"``, ``"N/A"``). The keys parsed here come from XRT's
own report writers (github.com/Xilinx/XRT, ``src/runtime_src/core/tools/common/reports/``):
``ReportHost.cpp`` puts ``host.os``, ``host.xrt`` (``version``, ``branch``, ``hash``,
``build_date``, ``drivers[]``) and ``host.devices[]`` (``bdf``, ``vbnv``, ``id``, ``instance``,
``is_ready``, ``device_class``, ``name``); ``ReportThermal.cpp`` puts ``thermals[]``
(``location_id``, ``description``, ``is_present``, ``temp_C``); ``ReportElectrical.cpp`` puts
``electrical`` (``power_consumption_watts``, ``power_consumption_max_watts``,
``power_rails[]``). The system report is wrapped as ``{"schema_version": ..., "system":
{"host": ...}}`` and device reports as ``{"devices": [{"device_id": BDF, ...}]}``; both are
accepted with or without the wrapper. This parser was tested on documents written to that
schema, not on the output of a real card (none here).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from tcplab.errors import AcceleratorError, AcceleratorUnavailableError

__all__ = [
    "CardTelemetry",
    "FpgaCard",
    "XbutilHost",
    "discover_cards",
    "parse_xbutil_devices",
    "parse_xbutil_host",
    "read_card_telemetry",
]

XBUTIL_TIMEOUT_S = 60.0


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FpgaCard(_Model):
    """One device row of ``xbutil examine`` (host report)."""

    bdf: str
    vbnv: str | None = None
    logic_uuid: str | None = None
    instance: str | None = None
    device_class: str | None = None
    name: str | None = None
    is_ready: bool = False


class XbutilHost(_Model):
    """XRT version and the cards the host report lists."""

    xrt_version: str | None = None
    drivers: dict[str, str] = {}
    cards: tuple[FpgaCard, ...] = ()


class CardTelemetry(_Model):
    """Temperatures (°C, present sensors only) and power (W) of one card."""

    bdf: str
    temperatures_c: dict[str, float] = {}
    power_watts: float | None = None
    max_power_watts: float | None = None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return None if s in ("", "N/A", "n/a") else s


def _number(value: Any) -> float | None:
    s = _text(value)
    if s is None:
        return None
    try:
        return float(s)
    except ValueError:
        return None


def _truth(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def _load(doc: str | bytes | dict[str, Any]) -> dict[str, Any]:
    if isinstance(doc, dict):
        return doc
    try:
        data = json.loads(doc)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AcceleratorError(f"xbutil output is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise AcceleratorError("xbutil output is not a JSON object")
    return data


def parse_xbutil_host(doc: str | bytes | dict[str, Any]) -> XbutilHost:
    """Parse the host report (``xbutil examine --format JSON``).

    Raises:
        AcceleratorError: not JSON, or no ``host`` section.
    """
    data = _load(doc)
    host = (data.get("system") or {}).get("host") or data.get("host")
    if not isinstance(host, dict):
        raise AcceleratorError("xbutil output has no system.host section")
    xrt = host.get("xrt") or {}
    drivers = {
        str(d.get("name")): str(d.get("version", "unknown"))
        for d in xrt.get("drivers") or []
        if isinstance(d, dict) and d.get("name")
    }
    cards = tuple(
        FpgaCard(
            bdf=str(d["bdf"]),
            vbnv=_text(d.get("vbnv")),
            logic_uuid=_text(d.get("id")),
            instance=_text(d.get("instance")),
            device_class=_text(d.get("device_class")),
            name=_text(d.get("name")),
            is_ready=_truth(d.get("is_ready", False)),
        )
        for d in host.get("devices") or []
        if isinstance(d, dict) and d.get("bdf")
    )
    return XbutilHost(xrt_version=_text(xrt.get("version")), drivers=drivers, cards=cards)


def parse_xbutil_devices(doc: str | bytes | dict[str, Any]) -> list[CardTelemetry]:
    """Parse device reports (``xbutil examine -d BDF -r thermal electrical --format JSON``)."""
    data = _load(doc)
    devices = data.get("devices")
    if not isinstance(devices, list):
        devices = [data]
    out: list[CardTelemetry] = []
    for dev in devices:
        if not isinstance(dev, dict):
            continue
        temps = {
            str(t.get("location_id") or t.get("description")): value
            for t in dev.get("thermals") or []
            if isinstance(t, dict)
            and _truth(t.get("is_present", False))
            and (value := _number(t.get("temp_C"))) is not None
        }
        elec = dev.get("electrical") or {}
        out.append(
            CardTelemetry(
                bdf=str(dev.get("device_id") or dev.get("bdf") or "unknown"),
                temperatures_c=temps,
                power_watts=_number(elec.get("power_consumption_watts")),
                max_power_watts=_number(elec.get("power_consumption_max_watts")),
            )
        )
    return out


def _run_xbutil(args: list[str], xbutil: str) -> dict[str, Any]:
    exe = shutil.which(xbutil)
    if exe is None:
        raise AcceleratorUnavailableError(
            f"{xbutil!r} is not on PATH: install XRT and `source /opt/xilinx/xrt/setup.sh`"
        )
    with tempfile.TemporaryDirectory(prefix="tcplab-xbutil-") as tmp:
        out = Path(tmp) / "examine.json"
        cmd = [exe, "examine", *args, "--format", "JSON", "--output", str(out), "--force"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=XBUTIL_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise AcceleratorError(f"xbutil examine did not finish in {exc.timeout} s") from exc
        if proc.returncode != 0 or not out.is_file():
            why = " ".join((proc.stderr or proc.stdout).split())[:300]
            raise AcceleratorError(f"xbutil examine failed (exit {proc.returncode}): {why}")
        return _load(out.read_text(encoding="utf-8"))


def discover_cards(xbutil: str = "xbutil") -> XbutilHost:
    """Run ``xbutil examine`` and list the cards.

    Raises:
        AcceleratorUnavailableError: no ``xbutil`` (no XRT) on this machine.
        AcceleratorError: xbutil failed or wrote something unparseable.
    """
    return parse_xbutil_host(_run_xbutil([], xbutil))


def read_card_telemetry(bdf: str, xbutil: str = "xbutil") -> list[CardTelemetry]:
    """Temperatures and power of one card (``-d BDF -r thermal electrical``)."""
    return parse_xbutil_devices(_run_xbutil(["-d", bdf, "-r", "thermal", "electrical"], xbutil))
