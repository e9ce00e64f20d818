// A consultation with a fee, in the browser, against the server that charges one (see env.ts):
// the patient asks, pays with M-Pesa (the in-process simulator stands in for Safaricom and
// calls back after 1.5 s), the page says "check your phone", then turns to "paid" by itself,
// and only then does the case reach the doctor's queue, marked paid. A declined payment can be
// tried again. No reload anywhere.
import { execFileSync } from 'child_process';
import { Page } from '@playwright/test';
import { test, expect, expectAccessible, waitForHydration } from './fixtures';
import { feePort, feeServerEnv, tabibuBinary } from './env';

const base = `http://127.0.0.1:${feePort}`;
const unique = () => `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
const PASSWORD = 'mangoes in the market';

async function signUpAndAsk(page: Page, note: string): Promise<string> {
  const reply = await page.context().request.post(`${base}/api/accounts/sign_up`, {
    form: { email: `payer-${unique()}@example.com`, password: PASSWORD, name: 'Wanjiru Kamau', date_of_birth: '1988-06-02' },
  });
  expect(reply.status()).toBe(200);
  await page.goto(`${base}/consultations/new`);
  await waitForHydration(page);
  await page.getByTestId('input-note').fill(note);
  await page.getByTestId('send-request').click();
  await expect(page).toHaveURL(/\/consultations\/[0-9a-f]{32}$/);
  await waitForHydration(page);
  return page.url().split('/').pop()!;
}

test('a consultation with a fee reaches the doctor once paid with M-Pesa', async ({ browser, page, problems }) => {
  const id = await signUpAndAsk(page, 'Burning when passing urine since yesterday, no fever.');
  await expect(page.getByTestId('consultation-status')).toHaveAttribute('data-status', 'awaiting_payment');
  await expect(page.getByTestId('payment-step')).toHaveAttribute('data-state', 'due');
  await expect(page.getByTestId('fee')).toContainText('KES 500');
  await expect(page.getByTestId('closed-notice')).toHaveCount(0);
  await expectAccessible(page);

  // The doctor's queue does not have it yet.
  const doctorEmail = `doctor-${unique()}@example.com`;
  execFileSync(tabibuBinary, ['admin', 'create-user', '--email', doctorEmail, '--role', 'doctor', '--name', 'Dr Achieng'], {
    input: `${PASSWORD}\n`,
    env: { ...process.env, ...feeServerEnv },
  });
  const doctorContext = await browser.newContext();
  const signIn = await doctorContext.request.post(`${base}/api/accounts/sign_in`, { form: { email: doctorEmail, password: PASSWORD } });
  expect(signIn.status()).toBe(200);
  const doctor = await doctorContext.newPage();
  doctor.on('pageerror', (err) => problems.push(`doctor page error: ${err.message}`));
  await doctor.goto(`${base}/doctor`);
  await waitForHydration(doctor);
  await expect(doctor.locator(`[data-testid="queue-item"][data-id="${id}"]`)).toHaveCount(0);

  // A number M-Pesa does not serve is refused in the browser, with the reason.
  await page.getByTestId('input-phone').fill('+44 20 7946 0958');
  await page.getByTestId('pay').click();
  await expect(page.getByTestId('error-phone')).toContainText('M-Pesa');

  await page.getByTestId('input-phone').fill('0712 345 678');
  await page.getByTestId('pay').click();
  await expect(page.getByTestId('check-phone')).toContainText('2547••••5678');
  await expect(page.getByTestId('payment-step')).toHaveAttribute('data-state', 'pending');

  // The simulator's callback arrives; the page follows by itself.
  await expect(page.getByTestId('payment-step')).toHaveAttribute('data-state', 'paid', { timeout: 10_000 });
  await expect(page.getByTestId('receipt')).toHaveText(/^[A-Z0-9]{10}$/);
  await expect(page.getByTestId('consultation-status')).toHaveAttribute('data-status', 'waiting');
  await expectAccessible(page);

  // And the case is on the doctor's live queue, marked paid.
  const item = doctor.locator(`[data-testid="queue-item"][data-id="${id}"]`);
  await expect(item).toHaveCount(1, { timeout: 5_000 });
  await expect(item.getByTestId('payment-badge')).toContainText('KES 500');
  await doctorContext.close();
});

test('a payment declined on the phone can be tried again', async ({ page, problems }) => {
  await signUpAndAsk(page, 'A rash on both arms for a week, itchy at night.');
  // The simulator declines for this number, as a payer pressing "cancel" would.
  await page.getByTestId('input-phone').fill('0700 000 001');
  await page.getByTestId('pay').click();
  await expect(page.getByTestId('payment-step')).toHaveAttribute('data-state', 'cancelled', { timeout: 10_000 });
  await expect(page.getByTestId('payment-outcome')).toContainText('Nothing was charged');
  await page.getByTestId('input-phone').fill('0712 345 678');
  await page.getByTestId('pay').click();
  await expect(page.getByTestId('payment-step')).toHaveAttribute('data-state', 'paid', { timeout: 10_000 });
  await expect(page.getByTestId('consultation-status')).toHaveAttribute('data-status', 'waiting');
});

test('admins see the payments and can download them', async ({ page, problems }) => {
  const email = `admin-${unique()}@example.com`;
  execFileSync(tabibuBinary, ['admin', 'create-user', '--email', email, '--role', 'admin', '--name', 'Admin Wafula'], {
    input: `${PASSWORD}\n`,
    env: { ...process.env, ...feeServerEnv },
  });
  const signIn = await page.context().request.post(`${base}/api/accounts/sign_in`, { form: { email, password: PASSWORD } });
  expect(signIn.status()).toBe(200);
  await page.goto(`${base}/admin/payments`);
  await waitForHydration(page);
  await expect(page.getByTestId('payment-row').first()).toBeVisible();
  await page.getByLabel('State').selectOption('paid');
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(page.locator('[data-testid="payment-row"]:not([data-state="paid"])')).toHaveCount(0);
  await expect(page.locator('[data-testid="payment-row"][data-state="paid"]').first()).toBeVisible();
  const csv = await page.context().request.get(`${base}/api/admin/payments.csv`);
  expect(csv.status()).toBe(200);
  expect(await csv.text()).toMatch(/^payment_id,created_utc/);
  await expectAccessible(page);
});
