// The first slice through both halves: the landing page, server-rendered and hydrated under a
// strict CSP, in English and Swahili, and the operational endpoints.
import { test, expect, waitForHydration } from './fixtures';

const securityHeaders = {
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

test('the landing page renders, hydrates under the CSP and shows the emergency number', async ({ page, problems }) => {
  const response = await page.goto('/');
  expect(response?.status()).toBe(200);
  const headers = response!.headers();
  for (const [name, value] of Object.entries(securityHeaders)) expect(headers[name]).toBe(value);
  expect(headers['content-security-policy']).toMatch(/script-src 'self' 'nonce-[^']+' 'wasm-unsafe-eval'/);
  expect(headers['content-security-policy']).not.toContain('unsafe-inline');
  expect(headers['permissions-policy']).toContain('camera=()');

  await expect(page.getByTestId('landing-title')).toHaveText('Know how urgent it is. Reach a doctor.');
  await expect(page.getByTestId('emergency-number')).toHaveText('999');
  await expect(page.getByTestId('emergency-number')).toHaveAttribute('href', 'tel:999');
  await waitForHydration(page);
  expect(problems).toEqual([]);
});

test('the language switch works in place after hydration and is remembered', async ({ page, problems }) => {
  await page.goto('/');
  await waitForHydration(page);
  // A marker on window survives only if the switch does not reload the page.
  await page.evaluate(() => ((window as any).__stillSamePage = true));
  await page.getByTestId('lang-sw').click();
  await expect(page.getByTestId('landing-title')).toHaveText('Jua uharaka wa tatizo lako. Mfikie daktari.');
  await expect(page.locator('html')).toHaveAttribute('lang', 'sw');
  await expect(page).toHaveTitle(/Tabibu: jua uharaka/);
  await expect(page.getByTestId('lang-sw')).toHaveAttribute('aria-pressed', 'true');
  expect(await page.evaluate(() => (window as any).__stillSamePage)).toBe(true);

  // The choice is stored by the server function; a fresh load is rendered in Swahili.
  await expect.poll(async () => (await page.context().cookies()).find((c) => c.name === 'tabibu_lang')?.value).toBe('sw');
  await page.reload();
  await expect(page.getByTestId('landing-title')).toHaveText('Jua uharaka wa tatizo lako. Mfikie daktari.');
  await expect(page.locator('.emergency-strip')).toContainText('Dharura? Piga');
  await waitForHydration(page);

  await page.getByTestId('lang-en').click();
  await expect(page.getByTestId('landing-title')).toHaveText('Know how urgent it is. Reach a doctor.');
  expect(problems).toEqual([]);
});

test('the language switch works without JavaScript too', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/');
  await page.getByTestId('lang-sw').click();
  await expect(page.getByTestId('landing-title')).toHaveText('Jua uharaka wa tatizo lako. Mfikie daktari.');
  await context.close();
});

test('an unknown address shows the friendly 404 page with every header', async ({ page, problems }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  for (const [name, value] of Object.entries(securityHeaders)) expect(response!.headers()[name]).toBe(value);
  await expect(page.getByTestId('not-found-title')).toHaveText('Page not found');
  await waitForHydration(page);
  // The browser reports the document's own 404 status as a console error; that one is expected.
  expect(problems).toEqual(['console: Failed to load resource: the server responded with a status of 404 (Not Found)']);
  problems.length = 0;
});

test('health and readiness answer', async ({ request }) => {
  const health = await request.get('/health');
  expect(health.status()).toBe(200);
  expect(await health.json()).toMatchObject({ status: 'ok' });
  expect(health.headers()['x-content-type-options']).toBe('nosniff');
  const ready = await request.get('/ready');
  expect(ready.status()).toBe(200);
  expect(await ready.json()).toEqual({ status: 'ready' });
});

test('the page fits a phone screen without sideways scrolling', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto('/');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});
