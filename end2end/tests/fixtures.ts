// Shared test helpers: every page load is watched for console errors, uncaught exceptions and
// Content-Security-Policy violations, and a test fails if any happened.
import AxeBuilder from '@axe-core/playwright';
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

/** Runs axe-core on the page as it is now; fails on any serious or critical violation. */
export async function expectAccessible(page: Page) {
  const result = await new AxeBuilder({ page }).analyze();
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`)).toEqual([]);
}
