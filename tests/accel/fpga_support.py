"""Helpers for the HLS kernel's tests: the CRC table header and the g++ C-simulation build.

``python -m tests.accel.fpga_support --write`` regenerates ``accel/fpga/tcp_crc_tables.h``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tcplab.accel import crc_position_tables

FPGA_DIR = Path(__file__).resolve().parents[2] / "accel" / "fpga"
HEADER = FPGA_DIR / "tcp_crc_tables.h"


def render_crc_header() -> str:
    """The text of ``tcp_crc_tables.h`` from :func:`tcplab.accel.crc_position_tables`."""
    tables, start = crc_position_tables()
    lines = [
        "// Generated from the CRC-32/ISO-HDLC polynomial: per-position tables of",
        "// bytes 6-21 (low 16 bits) and the start value with the valid header's terms",
        "// folded in. Regenerate: python -m tests.accel.fpga_support --write",
        "// (tests/accel checks that this file is current).",
        "#ifndef TCP_CRC_TABLES_H",
        "#define TCP_CRC_TABLES_H",
        "",
        "#include <stdint.h>",
        "",
        f"static const uint16_t TCP_CRC_START = 0x{start:04x};",
        "",
        "static const uint16_t TCP_CRC_TABLE[16][256] = {",
    ]
    for table in tables:
        vals = [f"0x{int(v):04x}" for v in table]
        lines.append("    {")
        lines += ["        " + ", ".join(vals[i : i + 8]) + "," for i in range(0, 256, 8)]
        lines.append("    },")
    lines += ["};", "", "#endif", ""]
    return "\n".join(lines)


SANITIZE = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]


def build_testbench(out_dir: Path, *, sanitize: bool = False) -> Path:
    """Compile the C-simulation testbench with g++ (``-Werror``; with ``sanitize``, under
    AddressSanitizer and UBSan, which stop at any read past a buffer); return the executable."""
    gxx = shutil.which("g++")
    if gxx is None:
        raise RuntimeError("g++ is not installed (Debian: apt-get install g++)")
    exe = out_dir / ("tb_tcp_decide_san" if sanitize else "tb_tcp_decide")
    cmd = [
        gxx,
        "-std=c++17",
        *(SANITIZE if sanitize else ["-O2"]),
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wno-unknown-pragmas",
        str(FPGA_DIR / "tb_tcp_decide.cpp"),
        str(FPGA_DIR / "tcp_decide.cpp"),
        "-o",
        str(exe),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"g++ failed:\n{proc.stderr}")
    return exe


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        HEADER.write_text(render_crc_header(), encoding="utf-8")
    else:
        sys.exit("usage: python -m tests.accel.fpga_support --write")
