"""The virtual environment the peer scripts run in (`.build/peers-venv`, never used by `make test`)."""
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV = os.path.join(ROOT, ".build", "peers-venv")


def enter(packages, without_dependencies=(), cpu_torch=False):
    """Installs `packages` (and `without_dependencies` with --no-deps) into the environment, then re-runs the
    calling script inside it; returns at once when already inside. `cpu_torch` adds PyTorch's CPU build from
    PyTorch's own index (PyPI's Linux wheel pulls in gigabytes of CUDA libraries a CPU never uses)."""
    if os.environ.get("UPSCALE_PEERS_IN_VENV") == "1":
        return
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + list(packages), check=True)
    if cpu_torch:
        # Its pure-Python dependencies come from PyPI; the wheel alone from the CPU index (or pip's find-links).
        subprocess.run(pip + ["filelock", "typing-extensions", "sympy", "networkx", "jinja2", "fsspec"], check=True)
        subprocess.run(pip + ["--no-deps", "torch", "--index-url", "https://download.pytorch.org/whl/cpu"],
                       check=True)
    if without_dependencies:
        subprocess.run(pip + ["--no-deps"] + list(without_dependencies), check=True)
    os.environ["UPSCALE_PEERS_IN_VENV"] = "1"
    os.execv(python, [python] + sys.argv)
