// Shared test helpers: every page load is watched for console errors, uncaught exceptions and
// Content-Security-Policy violations, and a test fails if any happened.
import { test as base, expect, Page } from '@playwright/test';

export const test = base.extend<{ problems: string[] }>({
  problems: async ({ page }, use) => {
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    await use(problems);
    expect(problems, 'no console errors, exceptions or CSP violations').toEqual([]);
  },
});

export { expect };

/** Waits until the WASM bundle has hydrated the page (the frontend marks <html>). */
export async function waitForHydration(page: Page) {
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true', { timeout: 15_000 });
}
