"""Screenshots of the Access Token page with 10,000 tokens, for the README: desktop (1280 px)
and phone (390 x 844), and a new token's secret dialog (1280 light, 390 dark), in
docs/screenshots/. Runs the page under uvicorn on a free loopback
port over a temporary store and drives Debian's Chromium (/usr/bin/chromium, or
$TOKENKEEP_CHROMIUM) with Playwright; the PNGs are reduced to 128 colours (a third of the
bytes, no visible change). `make page-screenshots`."""

import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import timedelta

import tokenkeep
import uvicorn
from PIL import Image  # Pillow, from the jupyter extra (matplotlib)
from playwright.sync_api import sync_playwright
from tokenkeep.web.admin import create_app

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "screenshots")
CHROMIUM = os.environ.get("TOKENKEEP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
USER = "alice"


def seed(store: tokenkeep.TokenStore) -> None:
    scopes = ({"device:read"}, {"policy", "collection:read"}, {"device", "policy:read"})
    store.create_many(USER, [(f"fleet-agent-{i:05d}", scopes[i % 3]) for i in range(10_000)])
    store.create(USER, "nightly-backup", {"collection"}, expires_in=timedelta(days=4))
    store.create(USER, "grafana-readonly", {"device:read", "policy:read", "collection:read"})
    used = store.create(
        USER,
        "ci-deploy-production-pipeline",
        {"device", "policy:read"},
        expires_in=timedelta(days=90),
    )
    store.verify(used.secret)
    store._e.uses_flush()


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        tokenkeep.TokenStore(os.path.join(tmp, "tokens.db")) as store,
    ):
        seed(store)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(store, current_user=lambda r: USER),
                host="127.0.0.1",
                port=port,
                log_level="warning",
            )
        )
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/profile/access-tokens"
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
            for name, viewport in (
                ("access-tokens-1280.png", (1280, 860)),
                ("access-tokens-390.png", (390, 844)),
            ):
                page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
                page.goto(url)
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= viewport[0], f"{name}: the document is {width} px wide"
                path = os.path.join(OUT, name)
                page.screenshot(path=path)
                Image.open(path).convert("RGB").quantize(colors=128).save(path, optimize=True)
                print(
                    f"wrote docs/screenshots/{name} "
                    f"({os.path.getsize(os.path.join(OUT, name)) // 1024} KB)"
                )
                page.close()
            # A new token's secret dialog: desktop in light mode, phone in dark mode. The
            # token is a throwaway store's, gone with the temporary directory.
            for name, viewport, scheme in (
                ("secret-dialog-1280-light.png", (1280, 860), "light"),
                ("secret-dialog-390-dark.png", (390, 844), "dark"),
            ):
                page = browser.new_page(
                    viewport={"width": viewport[0], "height": viewport[1]}, color_scheme=scheme
                )
                page.goto(url)
                page.get_by_role("link", name="Create Access Token").click()
                dialog = page.locator("#create-dialog")
                dialog.get_by_label("Token Name").fill(f"release-bot-{viewport[0]}")
                dialog.locator('input[value="device"]').check()
                dialog.locator('input[value="policy:read"]').check()
                dialog.get_by_role("button", name="Create", exact=True).click()
                page.locator("#created-dialog").wait_for(state="visible")
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= viewport[0], f"{name}: the document is {width} px wide"
                path = os.path.join(OUT, name)
                page.screenshot(path=path)
                Image.open(path).convert("RGB").quantize(colors=128).save(path, optimize=True)
                print(
                    f"wrote docs/screenshots/{name} "
                    f"({os.path.getsize(os.path.join(OUT, name)) // 1024} KB)"
                )
                page.close()
            browser.close()
        server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
