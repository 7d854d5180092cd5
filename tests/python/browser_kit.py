"""What the page's browser tests share: the page under uvicorn on a free loopback port, Debian's
Chromium driven by Playwright (no Playwright browser download), and WCAG contrast measured in
the page. Chromium is $TOKENKEEP_CHROMIUM, else /usr/bin/chromium (``make setup`` installs the
Debian package ``chromium``); a missing browser fails."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time

import uvicorn

CHROMIUM = os.environ.get("TOKENKEEP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "artifacts")
TIMEOUT_MS = 10_000
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn in a thread, on a free loopback port; stopped by ``close()``."""

    def __init__(self, app) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="admin-page", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the admin page did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def launch(playwright):
    assert os.path.exists(CHROMIUM), (
        f"no Chromium at {CHROMIUM}: make setup installs the Debian package chromium"
    )
    os.makedirs(ARTIFACTS, exist_ok=True)
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
    )


def new_page(browser, base_url: str, viewport, **options):
    """A context and its page; ``page.console_errors`` collects script errors and
    ``page.dialogs_seen`` the messages of alerts (dismissed)."""
    context = browser.new_context(viewport=viewport, base_url=base_url, **options)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.dialogs_seen = []  # window.alert & co.: an injected script would show up here
    pg.on("dialog", lambda d: (pg.dialogs_seen.append(d.message), d.dismiss()))
    pg.console_errors = []  # script errors and CSP violations; 4xx answers to forms are expected
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    pg.on(
        "console",
        lambda m: (
            pg.console_errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    return context, pg


def shot(page, name: str) -> str:
    path = os.path.join(ARTIFACTS, f"{name}.png")
    page.screenshot(path=path)
    return path


# WCAG 2.x contrast of every visible piece of text under `root` (its own text nodes, and the
# value of inputs and selects) against the background it is drawn on: the first opaque
# background among its ancestors, with translucent ones composited over it. Disabled controls
# are exempt (WCAG 1.4.3). Returns [{what, text, fg, bg, ratio}], lowest first.
CONTRAST_JS = """
(root) => {
  const rgba = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat([1]);
  };
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let bg = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const opacity = (el) => {
    let o = 1;
    for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
    return o;
  };
  const disabled = (el) => !!el.closest(':disabled, [aria-disabled="true"]');
  const out = [];
  const seen = new Set();
  const measure = (el, what, text) => {
    if (seen.has(el) || disabled(el) || !el.checkVisibility({visibilityProperty: true})) return;
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2) return;  // sr-only text is not drawn
    seen.add(el);
    const bg = background(el);
    let fg = rgba(getComputedStyle(el).color);
    fg = over([fg[0], fg[1], fg[2], fg[3] * opacity(el)], bg);
    const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    out.push({what, text: text.trim().slice(0, 40), fg: fg.slice(0, 3).join(","),
              bg: bg.slice(0, 3).join(","), ratio: Math.round((l1 + 0.05) / (l2 + 0.05) * 100) / 100});
  };
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || el.closest("script, style, option, .sprite")) continue;
    measure(el, el.tagName.toLowerCase() + (el.className ? "." + String(el.className).split(" ")[0] : ""), n.textContent);
  }
  root.querySelectorAll("input[type=text], input[type=search], input[type=date], select").forEach(
    (el) => measure(el, el.tagName.toLowerCase() + "#" + el.id, el.value || el.placeholder || "(empty)"));
  return out.sort((a, b) => a.ratio - b.ratio);
}
"""


def contrast(locator) -> list[dict]:
    """Every visible text's contrast under ``locator``, lowest first (see CONTRAST_JS)."""
    return locator.evaluate(CONTRAST_JS)
