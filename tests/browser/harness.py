"""JupyterLab in headless Chromium: the machinery of the browser test (no test in this module).

- ``browser_tools()`` finds Debian's ``chromium`` and ``chromedriver``, installing them with apt-get when
  missing and running as root (CI: a fresh machine); otherwise it says how to install them.
- ``LabServer`` runs one JupyterLab from this venv on a free loopback port with a token, its own runtime,
  config, data, settings and workspace folders, over a copy of the notebooks (so autosave never touches the
  committed files), in the environment it is given.
- ``Browser`` drives Chromium through Selenium: open a notebook, Run All through the Run menu, wait until the
  kernel is idle and no cell is queued, then read what the page shows (``PAGE_REPORT`` runs in the page).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1000"]
APT_PACKAGES = ["chromium", "chromium-driver"]


class ToolsMissing(RuntimeError):
    """Chromium or its driver is absent and cannot be installed here."""


def _which() -> tuple[str | None, str | None]:
    return shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")


def browser_tools(log: Path) -> tuple[str, str]:
    """(chromium, chromedriver) paths; installs Debian's packages when missing and root (CI)."""
    chromium, driver = _which()
    if chromium and driver:
        return chromium, driver
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ToolsMissing("Chromium and chromium-driver are needed for the browser test: "
                           "`sudo apt-get install chromium chromium-driver` (Debian/Ubuntu)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with open(log, "ab") as out:
        for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *APT_PACKAGES]):
            subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, check=False, timeout=900)
    chromium, driver = _which()
    if not (chromium and driver):
        raise ToolsMissing(f"apt-get could not install {' '.join(APT_PACKAGES)}; see {log}")
    return chromium, driver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Settings the lab starts with: every cell stays in the page (no windowing, so the whole notebook can be read
# and photographed), no autosave, no news or update checks (no network).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}


@dataclass
class LabServer:
    """One JupyterLab server over ``root`` (a copy of the course), in ``env``."""

    root: Path
    work: Path
    env: dict[str, str]
    port: int = 0
    token: str = "llmlab-browser-test"
    proc: subprocess.Popen | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.work / "jupyterlab.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> LabServer:
        dirs = {name: self.work / name for name in ("runtime", "config", "data", "settings", "workspaces")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        for name, value in LAB_SETTINGS.items():
            path = dirs["settings"] / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value), encoding="utf-8")
        env = {**self.env, "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]), "JUPYTER_CONFIG_DIR": str(dirs["config"]),
               "JUPYTER_DATA_DIR": str(dirs["data"]), "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
               "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]), "JUPYTER_PLATFORM_DIRS": "1"}
        env.pop("JUPYTER_PATH", None)  # only this venv's kernel (the native one: this interpreter)
        self.port = self.port or free_port()
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={self.port}", "--ip=127.0.0.1",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
               "--ServerApp.port_retries=0", "--LabApp.news_url=", "--LabServerApp.collaborative=False",
               "--ServerApp.disable_check_xsrf=False", "--KernelSpecManager.ensure_native_kernel=True"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {timeout:g} s:\n{self.log_tail()}")

    def api(self, method: str, path: str) -> Any:
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def kernels(self) -> list[dict[str, Any]]:
        return self.api("GET", "/api/kernels")

    def shutdown_kernels(self) -> None:
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.kernels():
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        import signal

        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


# Runs in the page once the notebook is idle: what every output area shows. ``mime`` is the output's MIME
# type as JupyterLab renders it; ``math`` counts MathJax/KaTeX elements inside outputs.
PAGE_REPORT = r"""
const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')];
return cells.map((cell, index) => {
  const prompt = cell.querySelector('.jp-InputPrompt');
  const outputs = [...cell.querySelectorAll('.jp-OutputArea-output')].map(o => ({
    mime: o.getAttribute('data-mime-type') || '',
    cls: o.className,
    text: o.innerText || '',
    images: o.querySelectorAll('img').length,
    widgets: o.querySelectorAll('.jupyter-widgets, .widget-inline-hbox, .widget-box, .lm-Widget.jupyter-widgets')
      .length,
    math: o.querySelectorAll('mjx-container, .MathJax, .MathJax_Display, .katex, .katex-display, math').length,
  }));
  return {index, kind: cell.classList.contains('jp-CodeCell') ? 'code' :
                      cell.classList.contains('jp-MarkdownCell') ? 'markdown' : 'raw',
          prompt: prompt ? prompt.innerText.trim() : '', outputs};
});
"""


class Browser:
    """One headless Chromium session (Selenium) on a LabServer."""

    def __init__(self, chromium: str, driver: str, profile: Path, log: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        self.driver = webdriver.Chrome(options=options, service=Service(driver, log_output=str(log)))
        self.driver.set_page_load_timeout(120)

    def quit(self) -> None:
        self.driver.quit()

    # -- actions ------------------------------------------------------------------------------------------
    def open(self, lab: LabServer, relpath: str, timeout: float = 90.0) -> None:
        """Open a notebook in JupyterLab (a fresh workspace each time) and wait for its kernel to be ready."""
        d = self.driver
        d.set_window_size(1400, 1000)
        d.get(f"{lab.url}/lab/tree/{relpath}?reset&token={lab.token}")
        self.wait_for(lambda: d.execute_script(
            "const p = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');"
            "return !!p && p.querySelectorAll('.jp-Cell').length > 0;"), timeout, "the notebook to show")
        self.wait_idle(lab, timeout, need_kernel=True)
        d.execute_script("document.querySelector('#jp-left-stack')?.classList.contains('lm-mod-hidden') || "
                         "document.querySelector('.jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current')?.click();")

    def run_all(self) -> None:
        """Run ▸ Run All Cells, through the menu as a student would."""
        from selenium.webdriver.common.by import By

        d = self.driver
        menus = [m for m in d.find_elements(By.CSS_SELECTOR, "#jp-MainMenu .lm-MenuBar-item") if m.text == "Run"]
        assert menus, "no Run menu in JupyterLab's menu bar"
        menus[0].click()
        item = self.wait_for(lambda: d.find_elements(
            By.CSS_SELECTOR, ".lm-Menu-item[data-command='runmenu:run-all']"), 20, "Run All Cells")[0]
        item.click()

    def wait_idle(self, lab: LabServer, timeout: float, need_kernel: bool = False, settle: float = 1.5) -> None:
        """Until the kernels are idle, no cell is queued or running ([*]), for ``settle`` seconds in a row."""
        d = self.driver
        deadline = time.monotonic() + timeout
        calm_since: float | None = None
        while time.monotonic() < deadline:
            kernels = lab.kernels()
            busy = d.execute_script(
                "return [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputPrompt')]"
                ".some(p => p.innerText.includes('*'));")
            calm = (not busy and all(k.get("execution_state") == "idle" for k in kernels)
                    and (bool(kernels) or not need_kernel))
            if calm:
                calm_since = calm_since or time.monotonic()
                if time.monotonic() - calm_since >= settle:
                    return
            else:
                calm_since = None
            time.sleep(0.5)
        raise TimeoutError(f"the notebook was still running after {timeout:g} s")

    def wait_for(self, probe: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                found = probe()
            except Exception:  # noqa: BLE001 - the page is still loading
                found = None
            if found:
                return found
            time.sleep(0.3)
        raise TimeoutError(f"waited {timeout:g} s for {what}")

    # -- reading --------------------------------------------------------------------------------------------
    def report(self) -> list[dict[str, Any]]:
        return self.driver.execute_script(PAGE_REPORT)

    def screenshot(self, path: Path, max_height: int = 16000) -> None:
        """The whole notebook in one PNG: the window is made as tall as the notebook, then photographed."""
        d = self.driver
        outer = "document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer')"
        height = d.execute_script(
            "const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')];"
            "return cells.reduce((h, c) => h + c.getBoundingClientRect().height, 0);")
        d.set_window_size(1400, min(int(height) + 300, max_height))
        time.sleep(0.8)
        d.execute_script(f"const o = {outer}; if (o) o.scrollTop = 0;")
        time.sleep(0.3)
        path.parent.mkdir(parents=True, exist_ok=True)
        d.save_screenshot(str(path))
        d.set_window_size(1400, 1000)
