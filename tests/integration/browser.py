"""A headless Chromium driven over the DevTools protocol, for the dashboard's end-to-end
test: open pages, type, click with the mouse where the element is, wait for conditions,
take screenshots, and keep every console error, uncaught exception and failed load the
page produced.

Debian's chromium and python3-websocket (websocket-client), for /usr/bin/python3.
"""

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path():
    """The browser to run: $ICTMON_CHROMIUM, else the first of CHROMIUM_NAMES on PATH."""
    path = os.environ.get("ICTMON_CHROMIUM")
    if path:
        return path
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("no chromium on PATH (Debian: apt-get install chromium)")


class BrowserError(AssertionError):
    pass


class Browser:
    """One headless browser with one page. Events the page sends are kept in
    `problems` when they are console errors or warnings, uncaught exceptions or
    failed loads (as Chrome logs them: a 404 or 500 of a fetch counts)."""

    def __init__(self, width=1280, height=900, timeout=30.0):
        self.timeout = timeout
        self.problems = []
        self._ids = itertools.count(1)
        self._profile = tempfile.mkdtemp(prefix="ictmon-chromium-")
        argv = [chromium_path(), "--headless=new", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                "--user-data-dir=" + self._profile,
                "--window-size=%d,%d" % (width, height), "about:blank"]
        if os.geteuid() == 0:
            # Chromium's sandbox refuses to run as root; the pages are our own.
            argv.insert(1, "--no-sandbox")
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=self._stderr)
        try:
            port = self._debugging_port()
            self._ws = websocket.create_connection(self._page_url(port),
                                                   timeout=timeout,
                                                   suppress_origin=True)
            for domain in ("Page", "Runtime", "Log"):
                self.call(domain + ".enable")
            self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                      deviceScaleFactor=1, mobile=False)
        except Exception:
            self.close()
            raise

    def _debugging_port(self):
        active = os.path.join(self._profile, "DevToolsActivePort")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrowserError("chromium exited with %d:\n%s"
                                   % (self._proc.returncode, self._stderr_text()))
            try:
                with open(active, encoding="ascii") as f:
                    first = f.readline().strip()
                if first:
                    return int(first)
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        raise BrowserError("chromium did not open its DevTools port:\n"
                           + self._stderr_text())

    def _page_url(self, port):
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port,
                                    timeout=self.timeout) as r:
            targets = json.load(r)
        for target in targets:
            if target.get("type") == "page":
                return target["webSocketDebuggerUrl"]
        raise BrowserError("chromium has no page target: %r" % targets)

    def _stderr_text(self):
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-4000:]

    # The protocol ------------------------------------------------------------------

    def call(self, method, **params):
        """Sends one command and returns its result, keeping the events that arrive
        meanwhile."""
        ident = next(self._ids)
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise BrowserError("%s: %s" % (method, message["error"]))
                return message.get("result", {})
            self._event(message)

    def _event(self, message):
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning",
                                                                          "assert"):
            text = " ".join(str(a.get("value", a.get("description", "")))
                            for a in params.get("args", []))
            self.problems.append("console.%s: %s" % (params["type"], text))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exc = details.get("exception", {})
            self.problems.append("uncaught: %s" % (exc.get("description")
                                                   or details.get("text")))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") in ("error", "warning"):
                self.problems.append("%s %s: %s %s" % (entry.get("source"), entry["level"],
                                                       entry.get("text"),
                                                       entry.get("url", "")))

    def evaluate(self, expression):
        """The value of a JavaScript expression (awaited when it is a promise)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError("%s: %s" % (expression, details.get("exception", {})
                                           .get("description", details.get("text"))))
        return result.get("result", {}).get("value")

    # What a test does --------------------------------------------------------------

    def open(self, url):
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'", what="load of " + url)

    def wait(self, expression, timeout=None, what=None):
        """Waits until `expression` is truthy in the page and returns its value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.evaluate(expression)
            except BrowserError as e:
                last = e
            if last and not isinstance(last, BrowserError):
                return last
            time.sleep(0.05)
        raise BrowserError("timed out waiting for %s (last: %r)"
                           % (what or expression, last))

    def wait_view(self, name, timeout=None):
        """Waits until the dashboard shows view `name`, loaded."""
        self.wait("(() => { const v = document.querySelector('main#view');"
                  " return v && v.dataset.view === %s && v.dataset.ready === 'true'; })()"
                  % json.dumps(name), timeout, what="view " + name)

    def text(self, selector):
        return self.evaluate("(() => { const e = document.querySelector(%s);"
                             " return e ? e.textContent : null; })()" % json.dumps(selector))

    def count(self, selector):
        return self.evaluate("document.querySelectorAll(%s).length" % json.dumps(selector))

    def _center(self, selector):
        box = self.evaluate(
            "(() => { const e = document.querySelector(%s); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2,"
            " w: r.width, h: r.height}; })()" % json.dumps(selector))
        if not box:
            raise BrowserError("no element matches %s" % selector)
        if box["w"] == 0 or box["h"] == 0:
            raise BrowserError("%s is not visible" % selector)
        return box["x"], box["y"]

    def click(self, selector):
        """A real mouse click where the element is drawn: what covers it gets the click."""
        x, y = self._center(selector)
        hit = self.evaluate(
            "(() => { const e = document.querySelector(%s), h = document.elementFromPoint(%f, %f);"
            " return !!h && (e === h || e.contains(h)); })()" % (json.dumps(selector), x, y))
        if not hit:
            raise BrowserError("%s is covered by another element" % selector)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=1)

    def type(self, selector, text):
        """Focuses the field and types into it as a keyboard would."""
        self.click(selector)
        self.call("Input.insertText", text=text)

    def press_enter(self):
        for kind in ("rawKeyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                      windowsVirtualKeyCode=13, nativeVirtualKeyCode=13)
        self.call("Input.dispatchKeyEvent", type="char", text="\r", key="Enter")

    def screenshot(self, path):
        """The whole page as PNG at `path`."""
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": size["width"],
                               "height": min(size["height"], 8000), "scale": 1})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def drain(self, seconds=0.2):
        """Reads the events sent in the next `seconds` (late console errors)."""
        self._ws.settimeout(seconds)
        try:
            while True:
                self._event(json.loads(self._ws.recv()))
        except websocket.WebSocketTimeoutException:
            pass
        finally:
            self._ws.settimeout(self.timeout)

    def close(self):
        ws = getattr(self, "_ws", None)
        if ws is not None:
            try:
                ws.close()
            except OSError:
                pass
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)
