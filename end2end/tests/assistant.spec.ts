// The symptom assistant in the browser: a patient signs up through the page, describes chest
// pain with danger features and sees the emergency banner; a mild cold gives a self-care card;
// after a reload the conversation and the unsent draft are still there. The page has no
// serious accessibility violations.
import AxeBuilder from '@axe-core/playwright';
import { Page } from '@playwright/test';
import { test, expect, waitForHydration } from './fixtures';

const unique = () => `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

async function signUp(page: Page) {
  await page.goto('/sign-up');
  await waitForHydration(page);
  await page.getByTestId('input-name').fill('Achieng Odhiambo');
  await page.getByTestId('input-email').fill(`assistant-${unique()}@example.com`);
  await page.getByTestId('input-date_of_birth').fill('1990-02-20');
  await page.getByTestId('input-password').fill('mango trees by the lake');
  await page.getByTestId('submit').click();
  await expect(page).toHaveURL(/\/account$/);
}

async function say(page: Page, text: string) {
  await page.getByTestId('assistant-input').fill(text);
  await page.getByTestId('assistant-send').click();
}

test('chest pain with danger features shows the emergency banner with the number', async ({ page, problems }) => {
  await signUp(page);
  await page.goto('/assistant');
  await waitForHydration(page);
  await say(page, 'I have crushing chest pain spreading to my left arm and I am sweating');
  const banner = page.getByTestId('emergency-banner');
  await expect(banner).toBeVisible();
  await expect(banner).toContainText('999');
  await expect(banner).toContainText('112');
  await expect(page.getByTestId('triage-card')).toHaveAttribute('data-level', 'emergency');
  await expect(page).toHaveURL(/\/assistant\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId('request-consultation')).toHaveAttribute('href', /\/consultations\/new\?conversation=/);
  const axe = await new AxeBuilder({ page }).analyze();
  const serious = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => v.id)).toEqual([]);
  expect(problems).toEqual([]);
});

test('a mild cold gets a self-care card, and the conversation and draft survive a reload', async ({ page, problems }) => {
  await signUp(page);
  await page.goto('/assistant');
  await waitForHydration(page);
  await say(page, "I've had a runny nose, sneezing and a mild sore throat since yesterday. No fever.");
  await expect(page).toHaveURL(/\/assistant\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId('triage-card')).toHaveAttribute('data-level', 'self_care');
  await expect(page.getByTestId('emergency-banner')).toHaveCount(0);
  await expect(page.getByTestId('chat-message')).toHaveCount(2);
  await waitForHydration(page);
  await page.getByTestId('assistant-input').fill('It started after a long bus ride');
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId('chat-message').first()).toContainText('runny nose');
  await expect(page.getByTestId('triage-card')).toHaveAttribute('data-level', 'self_care');
  await expect(page.getByTestId('assistant-input')).toHaveValue('It started after a long bus ride');
  await page.getByTestId('lang-sw').click();
  await expect(page.getByTestId('triage-level')).toHaveText('Kujitunza');
  expect(problems).toEqual([]);
});
