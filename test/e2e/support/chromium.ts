import { type Browser, chromium } from "playwright-core"

/*
 * The Debian Chromium every browser test uses (E2E_CHROMIUM overrides the path). Without the
 * background-networking flags it floods the closed network with refused connections (TRAPS.md);
 * Playwright's launch() gives every run a fresh, throw-away user-data-dir.
 */
export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: process.env["E2E_CHROMIUM"] ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync"
    ]
  })
