// Debian's Chromium driven by playwright-core, for tests that must see a page the way a browser renders it.
// This machine is offline and sandbox-less, hence the flags.
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  });
}

/**
 * Opens the page `server` serves at `/` in a new tab, waits (up to two minutes) for its script to publish
 * `window.results`, closes the tab and returns those results with the page's uncaught errors.
 */
export async function pageResults<T>(
  browser: Browser,
  server: Server,
): Promise<{ results: T; errors: string[] }> {
  const page = await browser.newPage();
  try {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => (window as { results?: unknown }).results !== undefined, undefined, {
      timeout: 120_000,
    });
    const results = (await page.evaluate(() => (window as { results?: unknown }).results)) as T;
    return { results, errors };
  } finally {
    await page.close();
  }
}
