"""No command talks to the network: training and export run in an empty network namespace (`unshare -n`) under
`strace`, which records every connect / send of the process tree; none may reach an internet address (AF_INET or
AF_INET6) or a DNS server. Local probes stay allowed (urllib3 binds a socket to ::1 on import to learn whether
IPv6 exists; the C library asks nscd over a Unix socket). Skipped where the namespace or strace is unavailable."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TRACED = ["unshare", "-n", "strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,sendto,sendmsg"]


def _namespace_available() -> bool:
    if not (shutil.which("unshare") and shutil.which("strace")):
        return False
    return subprocess.run(["unshare", "-n", "strace", "-qq", "true"], capture_output=True).returncode == 0


def internet_attempts(trace: str) -> list[str]:
    return [line for line in trace.splitlines() if re.search(r"sa_family=AF_INET6?\b", line)]


def test_the_trace_parser_finds_internet_attempts_and_ignores_local_sockets():
    trace = ('12 connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT\n'
             '13 connect(4, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("8.8.8.8")}, 16) = -1\n'
             '14 connect(5, {sa_family=AF_INET6, sin6_port=htons(443), ...}, 28) = -1 ENETUNREACH\n')
    assert [line.split()[0] for line in internet_attempts(trace)] == ["13", "14"]


@pytest.mark.skipif(not _namespace_available(), reason="needs unshare -n and strace")
def test_training_and_export_make_no_network_attempt(tmp_path):
    from test_run import SMALL

    probe = tmp_path / "probe.trace"  # the trace sees an attempt where there is one
    attempt = "import socket\ntry: socket.create_connection(('192.0.2.1', 80), timeout=1)\nexcept OSError: pass"
    subprocess.run([*TRACED, "-o", str(probe), sys.executable, "-c", attempt], check=True, capture_output=True)
    assert len(internet_attempts(probe.read_text())) == 1
    runs, export = tmp_path / "runs", tmp_path / "export"
    train_args = [*SMALL, "--max_iterations", "1", "--output_path", str(runs)]
    script = "\n".join([  # training, then export, in one traced process
        "import awd.export, awd.run, pathlib",
        f"awd.run.main({train_args!r})",
        f"checkpoint = next(pathlib.Path({str(runs)!r}).glob('*/nn/DucklingCommand.pth'))",
        f"awd.export.main([str(checkpoint), '-o', {str(export)!r}])"])
    log = tmp_path / "train_export.trace"
    subprocess.run([*TRACED, "-o", str(log), sys.executable, "-c", script], cwd=ROOT, check=True, capture_output=True,
                   timeout=300)
    assert (export / "policy.onnx").is_file()
    assert internet_attempts(log.read_text()) == []
