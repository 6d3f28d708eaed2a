"""Progress on a terminal: a bar with rate, size and ETA that fits 80 columns."""

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_the_progress_bar_fits_80_columns(binary, tmp_path):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(
        [binary, "generate", "--out", tmp_path / "lake", "--scale", "0.05", "--days", "2", "--threads", "1"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the process closed its end
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.wait(timeout=120) == 0, seen.decode(errors="replace")
    lines = [ANSI.sub("", line) for line in re.split(r"[\r\n]", seen.decode())]
    bars = [line for line in lines if " ETA " in line]
    assert bars, seen
    assert any(re.search(r"\d+/\d+ \S+ ev \S+/s \d\S* [kMG]?B ETA", line) for line in bars), bars
    # Every line but the manifest's path fits.
    too_wide = [line for line in lines if len(line.rstrip()) > 80 and not line.startswith("manifest ")]
    assert not too_wide, too_wide
    # The summary follows the cleared bar.
    assert any(line.startswith("table ") for line in lines), lines
