// Accounts in the browser: sign-up, two-factor sign-in with codes the test computes, sign-out,
// and an admin creating a doctor who then signs in.
import { execFileSync } from 'child_process';
import { test, expect, waitForHydration } from './fixtures';
import { serverEnv, tabibuBinary } from './env';
import { totp } from './totp';

const unique = () => `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

test('the sign-up form checks its fields in the browser before sending anything', async ({ page, problems }) => {
  await page.goto('/sign-up');
  await waitForHydration(page);
  const calls: string[] = [];
  page.on('request', (r) => { if (r.url().includes('/api/accounts/sign_up')) calls.push(r.url()); });
  await page.getByTestId('input-email').fill('not-an-email');
  await page.getByTestId('input-password').fill('short');
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('error-email')).toHaveText('Enter an email address like name@example.com.');
  await expect(page.getByTestId('error-password')).toHaveText('Use at least 12 characters.');
  await expect(page.getByTestId('error-name')).toHaveText('Enter your name.');
  await expect(page.getByTestId('input-email')).toHaveAttribute('aria-invalid', 'true');
  expect(calls).toEqual([]);
  await page.getByTestId('lang-sw').click();
  await expect(page.getByTestId('error-password')).toHaveText('Tumia angalau herufi 12.');
  expect(problems).toEqual([]);
});

test('a patient signs up, turns on two-factor sign-in, signs out and signs in with a code', async ({ page, problems }) => {
  const email = `patient-${unique()}@example.com`;
  const password = 'maize field at sunrise';
  await page.goto('/sign-up');
  await waitForHydration(page);
  await page.getByTestId('input-name').fill('Wanjiru Kamau');
  await page.getByTestId('input-email').fill(email);
  await page.getByTestId('input-date_of_birth').fill('1988-06-15');
  await page.getByTestId('input-password').fill(password);
  await page.getByTestId('submit').click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId('profile-email')).toHaveText(email);
  await waitForHydration(page);

  await page.getByTestId('mfa-start').click();
  const secret = (await page.getByTestId('mfa-secret').textContent())!.trim();
  await page.getByTestId('input-code').fill(totp(secret));
  await page.getByTestId('mfa-confirm').click();
  await expect(page.getByTestId('recovery-codes').locator('li')).toHaveCount(10);
  await expect(page.getByTestId('mfa-state')).toContainText('On');

  await page.getByTestId('nav-sign-out').click();
  await expect(page.getByTestId('nav-sign-in')).toBeVisible();

  await page.goto('/sign-in');
  await waitForHydration(page);
  await page.getByTestId('input-email').fill(email);
  await page.getByTestId('input-password').fill(password);
  await page.getByTestId('submit').click();
  await expect(page).toHaveURL(/\/sign-in\/code$/);
  await waitForHydration(page);
  // The enrolment used this 30-second step; the next one is still accepted (clock drift).
  await page.getByTestId('input-code').fill(totp(secret, Math.floor(Date.now() / 1000) + 30));
  await page.getByTestId('submit').click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId('profile-email')).toHaveText(email);
  await expect(page.getByTestId('sessions').locator('li')).toHaveCount(1);
  expect(problems).toEqual([]);
});

test('a wrong password gets a clear message', async ({ page, problems }) => {
  await page.goto('/sign-in');
  await waitForHydration(page);
  await page.getByTestId('input-email').fill(`nobody-${unique()}@example.com`);
  await page.getByTestId('input-password').fill('definitely not right');
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('form-error')).toHaveText('Wrong email or password.');
  // The browser logs the 422 answer itself; nothing else may go wrong.
  expect(problems.filter((p) => !p.includes('status of 422'))).toEqual([]);
  problems.length = 0;
});

test('an admin creates a doctor who can then sign in', async ({ page, problems }) => {
  const adminEmail = `admin-${unique()}@example.com`;
  const adminPassword = 'clinic keys on the hook';
  execFileSync(tabibuBinary, ['admin', 'create-user', '--email', adminEmail, '--role', 'admin', '--name', 'Admin'], {
    input: `${adminPassword}\n`,
    env: { ...process.env, ...serverEnv },
  });

  await page.goto('/sign-in');
  await waitForHydration(page);
  await page.getByTestId('input-email').fill(adminEmail);
  await page.getByTestId('input-password').fill(adminPassword);
  await page.getByTestId('submit').click();
  await expect(page).toHaveURL(/\/admin\/users$/);
  await waitForHydration(page);

  const doctorEmail = `doctor-${unique()}@example.com`;
  await page.getByTestId('input-name').fill('Dr Achieng Odhiambo');
  await page.getByTestId('input-email').fill(doctorEmail);
  await page.getByTestId('create-doctor').click();
  const link = (await page.getByTestId('set-password-link').textContent())!.trim();
  await expect(page.getByTestId('users-table')).toContainText(doctorEmail);
  await page.getByTestId('nav-sign-out').click();
  await expect(page.getByTestId('nav-sign-in')).toBeVisible();

  await page.goto(new URL(link).pathname + new URL(link).search);
  await waitForHydration(page);
  const doctorPassword = 'ward round at seven';
  await page.getByTestId('input-password').fill(doctorPassword);
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('reset-done')).toBeVisible();

  await page.goto('/sign-in');
  await waitForHydration(page);
  await page.getByTestId('input-email').fill(doctorEmail);
  await page.getByTestId('input-password').fill(doctorPassword);
  await page.getByTestId('submit').click();
  // Doctors land on their queue.
  await expect(page).toHaveURL(/\/doctor$/);
  await page.goto('/account');
  await expect(page.getByTestId('profile-role')).toHaveText('Doctor');
  expect(problems).toEqual([]);
});
