// The doctors' dashboard with three people at once: a patient and two doctors, each in a
// browser context of their own. A new case reaches both queues within a second, a race to
// claim it has one winner, messages go both ways live, and a dashboard whose server is killed
// and started again reconnects by itself and shows what happened meanwhile.
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as path from 'path';
import { BrowserContext, Page } from '@playwright/test';
import { test, expect, expectAccessible, waitForHydration } from './fixtures';
import { port, root, serverEnv, tabibuBinary } from './env';

const unique = () => `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
const PASSWORD = 'ward round at seven';

function makeDoctor(name: string, env: Record<string, string> = serverEnv): string {
  const email = `doctor-${unique()}@example.com`;
  execFileSync(tabibuBinary, ['admin', 'create-user', '--email', email, '--role', 'doctor', '--name', name], {
    input: `${PASSWORD}\n`,
    env: { ...process.env, ...env },
  });
  return email;
}

/** Signs the context in through the API; its pages then share the session cookie. */
async function signIn(context: BrowserContext, base: string, email: string) {
  const reply = await context.request.post(`${base}/api/accounts/sign_in`, { form: { email, password: PASSWORD } });
  expect(reply.status()).toBe(200);
}

async function signUpPatient(context: BrowserContext, base: string, name: string) {
  const reply = await context.request.post(`${base}/api/accounts/sign_up`, {
    form: { email: `patient-${unique()}@example.com`, password: PASSWORD, name, date_of_birth: '1961-09-30' },
  });
  expect(reply.status()).toBe(200);
}

/** Reports console errors and exceptions of a page that is not the fixture's own. */
function watch(page: Page, problems: string[], who: string) {
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`${who} console: ${msg.text()}`); });
  page.on('pageerror', (err) => problems.push(`${who} page error: ${err.message}`));
}

async function openQueue(page: Page, base: string) {
  await page.goto(`${base}/doctor`);
  await waitForHydration(page);
}

test('a new case reaches both doctors at once, one wins the claim, and they talk live', async ({ browser, page, problems }) => {
  const base = `http://127.0.0.1:${port}`;
  const patientContext = page.context();
  const aContext = await browser.newContext();
  const bContext = await browser.newContext();
  await signUpPatient(patientContext, base, 'Otieno Ouma');
  await signIn(aContext, base, makeDoctor('Dr Amani'));
  await signIn(bContext, base, makeDoctor('Dr Baraka'));
  const doctorA = await aContext.newPage();
  const doctorB = await bContext.newPage();
  watch(doctorA, problems, 'doctor A');
  watch(doctorB, problems, 'doctor B');
  await openQueue(doctorA, base);
  await openQueue(doctorB, base);
  const before = await doctorA.getByTestId('queue-item').count();

  await page.goto('/consultations/new');
  await waitForHydration(page);
  await page.getByTestId('input-note').fill('Sudden weakness of my right arm and my speech is slurred since an hour');
  await page.getByTestId('send-request').click();
  await expect(page).toHaveURL(/\/consultations\/[0-9a-f]{32}$/);
  const id = page.url().split('/').pop()!;
  const sent = Date.now();
  const itemA = doctorA.locator(`[data-testid="queue-item"][data-id="${id}"]`);
  const itemB = doctorB.locator(`[data-testid="queue-item"][data-id="${id}"]`);
  await Promise.all([expect(itemA).toBeVisible({ timeout: 1_000 }), expect(itemB).toBeVisible({ timeout: 1_000 })]);
  expect(Date.now() - sent, 'the case reached both queues within a second').toBeLessThan(1_000);
  await expect(itemA).toHaveAttribute('data-level', 'emergency');
  await expect(doctorA.getByTestId('queue-item')).toHaveCount(before + 1);
  // The most urgent first.
  await expect(doctorA.getByTestId('queue-item').first()).toHaveAttribute('data-level', 'emergency');

  // Both click "Claim" at the same moment: one is taken to the case, the other is told. The two
  // requests are held until both are on their way, so they reach the server together.
  let arrived = 0;
  let bothSent!: () => void;
  const together = new Promise<void>((resolve) => { bothSent = resolve; });
  for (const doctor of [doctorA, doctorB]) {
    await doctor.route('**/api/consultations/claim', async (route) => {
      arrived += 1;
      if (arrived === 2) bothSent();
      await together;
      await route.continue();
    });
  }
  await Promise.all([itemA.getByTestId('claim').click(), itemB.getByTestId('claim').click()]);
  const winners = await Promise.race([
    doctorA.waitForURL(/\/doctor\/cases\//, { timeout: 5_000 }).then(() => [doctorA, doctorB] as const),
    doctorB.waitForURL(/\/doctor\/cases\//, { timeout: 5_000 }).then(() => [doctorB, doctorA] as const),
  ]);
  const [winner, loser] = winners;
  await expect(loser.getByRole('alert').filter({ hasText: 'Another doctor has already taken this case.' })).toBeVisible();
  await expect(loser).toHaveURL(/\/doctor$/);
  await expect(winner.getByTestId('ai-summary')).toContainText('Red flags');
  await expectAccessible(winner);
  await expectAccessible(loser);
  // The loser's browser logs the 409 answer itself; nothing else may go wrong.
  const refused = problems.filter((p) => p.includes('status of 409'));
  expect(refused.length).toBeLessThanOrEqual(1);
  expect(problems.filter((p) => !p.includes('status of 409'))).toEqual([]);
  problems.length = 0;
  await waitForHydration(winner);
  await expect(page.getByTestId('consultation-status')).toHaveAttribute('data-status', 'claimed');

  // Doctor to patient, live.
  await winner.getByTestId('input-body').fill('Call 999 now. Note the time the weakness started.');
  await winner.getByTestId('send-message').click();
  await expect(page.getByTestId('thread-message')).toHaveCount(1);
  await expect(page.getByTestId('thread-message')).toContainText('Call 999 now');
  // Patient to doctor, live, with the typing signal first.
  await page.getByTestId('input-body').fill('It started at 9 this morning.');
  await expect(winner.getByTestId('typing')).toHaveText('The patient is typing…');
  await page.getByTestId('send-message').click();
  await expect(winner.getByTestId('thread-message')).toHaveCount(2);
  await expect(winner.getByTestId('thread-message').nth(1)).toContainText('It started at 9');

  // A private note stays with the doctors.
  await winner.getByTestId('input-note').fill('FAST positive; ambulance advised.');
  await winner.getByTestId('add-note').click();
  await expect(winner.getByTestId('note')).toContainText('FAST positive');
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator('body')).not.toContainText('FAST positive');

  await aContext.close();
  await bContext.close();
  expect(problems).toEqual([]);
});

test('the queue answers the keyboard', async ({ browser, page, problems }) => {
  const base = `http://127.0.0.1:${port}`;
  await signUpPatient(page.context(), base, 'Keyboard Patient');
  const mine: string[] = [];
  for (const note of ['A rash on my arm for a week', 'A mild sore throat since yesterday']) {
    const reply = await page.context().request.post(`${base}/api/consultations/request`, {
      form: { note, request_key: `kbd-${unique()}` },
    });
    expect(reply.status()).toBe(200);
    mine.push(await reply.json());
  }
  const doctorContext = await browser.newContext();
  await signIn(doctorContext, base, makeDoctor('Dr Keys'));
  const doctor = await doctorContext.newPage();
  await openQueue(doctor, base);
  const items = doctor.getByTestId('queue-item');
  await expect(items.first()).toHaveAttribute('aria-current', 'true');
  await doctor.keyboard.press('j');
  await expect(items.nth(1)).toHaveAttribute('aria-current', 'true');
  await doctor.keyboard.press('k');
  await expect(items.first()).toHaveAttribute('aria-current', 'true');
  // Walk down to the newest of this patient's waiting cases (other tests leave cases in the
  // queue too), then claim it with "c".
  const order = await items.evaluateAll((els) => els.map((el) => el.getAttribute('data-id')));
  const target = order.indexOf(mine[1]);
  expect(target).toBeGreaterThanOrEqual(0);
  for (let i = 1; i <= target; i++) {
    await doctor.keyboard.press('j');
    await expect(items.nth(i)).toHaveAttribute('aria-current', 'true');
  }
  await doctor.keyboard.press('c');
  await doctor.waitForURL(new RegExp(`/doctor/cases/${mine[1]}$`));
  await doctorContext.close();
  expect(problems).toEqual([]);
});

test.describe('a server that dies', () => {
  const ownPort = port + 7;
  const dataDir = path.join(root, 'target', 'e2e-restart');
  const env: Record<string, string> = {
    ...serverEnv,
    TABIBU_E2E_DATA: dataDir,
    DATABASE_URL: `sqlite://${dataDir}/tabibu.db`,
    LEPTOS_SITE_ADDR: `127.0.0.1:${ownPort}`,
    TABIBU_PUBLIC_URL: `http://127.0.0.1:${ownPort}`,
  };
  let server: ChildProcess | undefined;

  async function start() {
    server = spawn(tabibuBinary, ['serve'], { cwd: root, env: { ...process.env, ...env }, stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      try {
        const r = await fetch(`http://127.0.0.1:${ownPort}/health`);
        if (r.ok) return;
      } catch { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the second server did not start');
  }

  test.afterEach(() => server?.kill('SIGKILL'));

  test('the dashboard reconnects by itself and shows the cases that came meanwhile', async ({ browser, problems }) => {
    execFileSync('rm', ['-rf', dataDir]);
    await start();
    const base = `http://127.0.0.1:${ownPort}`;
    const doctorContext = await browser.newContext();
    await signIn(doctorContext, base, makeDoctor('Dr Restart', env));
    const patientContext = await browser.newContext();
    await signUpPatient(patientContext, base, 'Patient Restart');
    const doctor = await doctorContext.newPage();
    await openQueue(doctor, base);
    await expect(doctor.getByTestId('queue-empty')).toBeVisible();

    server!.kill('SIGKILL');
    await expect(doctor.getByTestId('offline')).toBeVisible({ timeout: 5_000 });
    await start();
    // While the page has not reconnected yet, a patient asks for a doctor.
    const reply = await patientContext.request.post(`${base}/api/consultations/request`, {
      form: { note: 'Chest pain and sweating for 20 minutes', request_key: `restart-${unique()}` },
    });
    expect(reply.status()).toBe(200);
    await expect(doctor.getByTestId('queue-item')).toHaveCount(1, { timeout: 10_000 });
    await expect(doctor.getByTestId('offline')).toBeHidden();
    await doctorContext.close();
    await patientContext.close();
    // The browser logs the dropped stream and the refused reconnects while the server was down.
    expect(problems.filter((p) => !p.includes('ERR_CONNECTION_REFUSED') && !p.includes('ERR_INCOMPLETE_CHUNKED_ENCODING') && !p.includes('/api/events'))).toEqual([]);
    problems.length = 0;
  });
});
