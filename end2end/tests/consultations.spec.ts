// Consultations in the browser: a patient asks a doctor, then watches the page change by
// itself as a doctor (driven through the doctors' server functions, as their dashboard would)
// claims the case, writes, reads the reply and closes it. No reload anywhere.
import { execFileSync } from 'child_process';
import { request as playwrightRequest, APIRequestContext } from '@playwright/test';
import { test, expect, expectAccessible, waitForHydration } from './fixtures';
import { port, serverEnv, tabibuBinary } from './env';

const unique = () => `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

/** A doctor made on the command line and signed in through the API. */
async function signedInDoctor(name: string): Promise<APIRequestContext> {
  const email = `doctor-${unique()}@example.com`;
  const password = 'night shift on ward four';
  execFileSync(tabibuBinary, ['admin', 'create-user', '--email', email, '--role', 'doctor', '--name', name], {
    input: `${password}\n`,
    env: { ...process.env, ...serverEnv },
  });
  const api = await playwrightRequest.newContext({ baseURL: `http://127.0.0.1:${port}` });
  const signIn = await api.post('/api/accounts/sign_in', { form: { email, password } });
  expect(signIn.status()).toBe(200);
  return api;
}

async function call(api: APIRequestContext, fn: string, form: Record<string, string>) {
  const response = await api.post(`/api/consultations/${fn}`, { form });
  expect(response.status(), `${fn}: ${await response.text()}`).toBe(200);
  return response.json();
}

test('a patient asks a doctor and sees the claim, the reply and the closing arrive live', async ({ page, problems }) => {
  await page.goto('/sign-up');
  await waitForHydration(page);
  await page.getByTestId('input-name').fill('Baraka Mwangi');
  await page.getByTestId('input-email').fill(`patient-${unique()}@example.com`);
  await page.getByTestId('input-date_of_birth').fill('1979-02-11');
  await page.getByTestId('input-password').fill('rain on the tin roof');
  await page.getByTestId('submit').click();
  await expect(page).toHaveURL(/\/account$/);

  await page.getByTestId('nav-consultations').click();
  await expect(page).toHaveURL(/\/consultations$/);
  await waitForHydration(page);
  await page.getByTestId('new-consultation').click();
  await expect(page).toHaveURL(/\/consultations\/new$/);
  await waitForHydration(page);
  // Nothing written: the browser says so without asking the server.
  await page.getByTestId('send-request').click();
  await expect(page.getByTestId('error-note')).toHaveText('Please write something here.');
  await page.getByTestId('input-note').fill('A dry cough for three weeks, worse at night.');
  await page.getByTestId('send-request').click();
  await expect(page).toHaveURL(/\/consultations\/[0-9a-f]{32}$/);
  const id = page.url().split('/').pop()!;
  await waitForHydration(page);
  await expect(page.getByTestId('consultation-status')).toHaveAttribute('data-status', 'waiting');
  await expectAccessible(page);

  const doctor = await signedInDoctor('Dr Njeri Kariuki');
  const queue = await call(doctor, 'queue', {});
  expect(queue.some((item: { id: string }) => item.id === id)).toBe(true);

  await call(doctor, 'claim', { id });
  await expect(page.getByTestId('consultation-status')).toHaveAttribute('data-status', 'claimed');
  await expect(page.getByTestId('consultation-doctor')).toHaveText('Dr Njeri Kariuki');

  await call(doctor, 'send', { id, body: 'Any fever or weight loss?', client_key: `doc-${unique()}` });
  await expect(page.getByTestId('thread-message')).toHaveCount(1);
  await expect(page.getByTestId('thread-message').first()).toContainText('Any fever or weight loss?');
  await expect(page.getByTestId('consultation-status')).toHaveAttribute('data-status', 'replied');

  await page.getByTestId('input-body').fill('No fever, but I sweat at night.');
  await page.getByTestId('send-message').click();
  await expect(page.getByTestId('thread-message')).toHaveCount(2);
  await expect(page.getByTestId('input-body')).toHaveValue('');
  const seen = await call(doctor, 'case', { id });
  expect(seen.consultation.messages.map((m: { body: string }) => m.body)).toContain('No fever, but I sweat at night.');
  // The doctor opened the thread: the patient's message shows as read.
  await expect(page.getByTestId('read-receipt')).toHaveCount(1);

  // In Swahili, the page keeps updating.
  await page.getByTestId('lang-sw').click();
  await expect(page.getByTestId('consultation-status')).toHaveText('Daktari amejibu');
  await call(doctor, 'close', {
    id,
    outcome: 'Needs a chest X-ray and a TB test.',
    final_level: 'urgent',
    advice: 'Go to the clinic within 24 hours.',
  });
  await expect(page.getByTestId('consultation-outcome')).toContainText('Needs a chest X-ray');
  await expect(page.getByTestId('closed-notice')).toBeVisible();
  await expectAccessible(page);
  await expect(page.getByTestId('compose')).toHaveCount(0);
  await doctor.dispose();
  expect(problems).toEqual([]);
});

test('a message written while offline is sent once when the connection is back', async ({ page, problems }) => {
  await page.goto('/sign-up');
  await waitForHydration(page);
  await page.getByTestId('input-name').fill('Neema Achieng');
  await page.getByTestId('input-email').fill(`patient-${unique()}@example.com`);
  await page.getByTestId('input-date_of_birth').fill('1992-07-21');
  await page.getByTestId('input-password').fill('rain on the tin roof');
  await page.getByTestId('submit').click();
  await expect(page).toHaveURL(/\/account$/);
  const reply = await page.context().request.post('/api/consultations/request', {
    form: { note: 'Back pain after lifting', request_key: `offline-${unique()}` },
  });
  const id: string = await reply.json();
  await page.goto(`/consultations/${id}`);
  await waitForHydration(page);
  const doctor = await signedInDoctor('Dr Offline');
  await call(doctor, 'claim', { id });
  await expect(page.getByTestId('consultation-status')).toHaveAttribute('data-status', 'claimed');

  await page.context().setOffline(true);
  await expect(page.getByTestId('offline')).toBeVisible({ timeout: 10_000 });
  await page.getByTestId('input-body').fill('It hurts more when I bend.');
  await page.getByTestId('send-message').click();
  await expect(page.getByTestId('unsent')).toBeVisible();
  await page.context().setOffline(false);
  await expect(page.getByTestId('offline')).toBeHidden({ timeout: 10_000 });
  await expect(page.getByTestId('thread-message')).toHaveCount(1, { timeout: 10_000 });
  await expect(page.getByTestId('unsent')).toBeHidden();
  const seen = await call(doctor, 'case', { id });
  expect(seen.consultation.messages.map((m: { body: string }) => m.body)).toEqual(['It hurts more when I bend.']);
  await doctor.dispose();
  // The browser reports the failed requests while offline; nothing else may go wrong.
  expect(problems.filter((p) => !p.includes('ERR_INTERNET_DISCONNECTED') && !p.includes('/api/events'))).toEqual([]);
  problems.length = 0;
});
