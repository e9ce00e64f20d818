// One patient's whole journey in one test, at phone and desktop sizes: sign up, fill the health
// profile, describe chest pain with danger features (emergency banner), describe a mild cold
// (self-care card), upload a lab report with its progress and read the flagged values, ask for
// a consultation from the assistant's result sharing that report, see a doctor's claim and reply
// arrive live, reply, and download the whole record as FHIR; the language changes to Swahili
// and back on the way. The doctor works through the doctors' server functions.
import { execFileSync } from 'child_process';
import { request as playwrightRequest, APIRequestContext, Page } from '@playwright/test';
import { test, expect, expectAccessible, waitForHydration } from './fixtures';
import { port, serverEnv, tabibuBinary } from './env';

const unique = () => `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

/** A one-page PDF whose text is `lines`, with a correct cross-reference table. */
function labPdf(lines: string[]): Buffer {
  let content = 'BT /F1 11 Tf 14 TL 72 750 Td\n';
  for (const line of lines) content += `(${line.replace(/[\\()]/g, (c) => `\\${c}`)}) Tj T*\n`;
  content += 'ET\n';
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}endstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

async function signedInDoctor(): Promise<APIRequestContext> {
  const email = `journey-doctor-${unique()}@example.com`;
  const password = 'clinic opens at eight';
  execFileSync(tabibuBinary, ['admin', 'create-user', '--email', email, '--role', 'doctor', '--name', 'Dr Wekesa'], {
    input: `${password}\n`,
    env: { ...process.env, ...serverEnv },
  });
  const api = await playwrightRequest.newContext({ baseURL: `http://127.0.0.1:${port}` });
  expect((await api.post('/api/accounts/sign_in', { form: { email, password } })).status()).toBe(200);
  return api;
}

async function doctorCalls(api: APIRequestContext, fn: string, form: Record<string, string>) {
  const response = await api.post(`/api/consultations/${fn}`, { form });
  expect(response.status(), `${fn}: ${await response.text()}`).toBe(200);
  return response.json();
}

async function say(page: Page, text: string) {
  await page.getByTestId('assistant-input').fill(text);
  await page.getByTestId('assistant-send').click();
}

test('a patient goes from sign-up to a doctor\'s reply and takes their record home', async ({ page, problems }) => {
  test.setTimeout(90_000);

  // Sign up.
  await page.goto('/sign-up');
  await waitForHydration(page);
  await page.getByTestId('input-name').fill('Nafula Simiyu');
  await page.getByTestId('input-email').fill(`journey-${unique()}@example.com`);
  await page.getByTestId('input-date_of_birth').fill('1984-07-19');
  await page.getByTestId('input-password').fill('long rains in april');
  await page.getByTestId('submit').click();
  await expect(page).toHaveURL(/\/account$/);

  // The health profile, with the M-Pesa number.
  await page.goto('/profile');
  await waitForHydration(page);
  await page.getByTestId('input-sex').selectOption('female');
  await page.getByTestId('input-pregnant').selectOption('no');
  await page.getByTestId('input-allergies').fill('Penicillin');
  await page.getByTestId('input-phone').fill('0712 345 678');
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('profile-saved')).not.toBeEmpty();

  // Chest pain with danger features: the emergency banner, at once.
  await page.getByTestId('nav-assistant').click();
  await expect(page).toHaveURL(/\/assistant$/);
  await waitForHydration(page);
  await say(page, 'Crushing chest pain spreading to my left arm, I am sweating and short of breath');
  await expect(page.getByTestId('emergency-banner')).toBeVisible();
  await expect(page.getByTestId('triage-card')).toHaveAttribute('data-level', 'emergency');

  // A mild cold, in a new conversation: a self-care card, read in Swahili.
  await page.goto('/assistant');
  await waitForHydration(page);
  await say(page, 'A runny nose, sneezing and a mild sore throat since yesterday. No fever.');
  await expect(page.getByTestId('triage-card')).toHaveAttribute('data-level', 'self_care');
  await expect(page.getByTestId('emergency-banner')).toHaveCount(0);
  await page.getByTestId('lang-sw').click();
  await expect(page.getByTestId('triage-level')).toHaveText('Kujitunza');
  const askFromHere = await page.getByTestId('request-consultation').getAttribute('href');
  await page.getByTestId('lang-en').click();
  await expect(page.getByTestId('triage-level')).toHaveText('Self-care');

  // A lab report: uploaded with its progress, values flagged in words.
  await page.getByTestId('nav-documents').click();
  await expect(page).toHaveURL(/\/documents$/);
  await waitForHydration(page);
  const report = labPdf(['Mji Lab', 'Haemoglobin 9.8 g/dL 12.0 - 15.5', 'Platelets 250 x10^9/L 150 - 400']);
  await page.getByTestId('document-files').setInputFiles({ name: 'Blood count.pdf', mimeType: 'application/pdf', buffer: report });
  await expect(page.locator('progress').first()).toBeAttached();
  await expect(page.getByTestId('upload-state')).toHaveText(['Uploaded']);
  await expect(page.locator('[data-testid="lab-row"][data-flag="low"]')).toContainText('Low');
  await expectAccessible(page);

  // A consultation from the assistant's result, sharing the report.
  await page.goto(askFromHere!);
  await waitForHydration(page);
  await page.getByTestId('share-document').check();
  await page.getByTestId('input-note').fill('The cold is mild, but the blood count worries me.');
  await page.getByTestId('send-request').click();
  await expect(page).toHaveURL(/\/consultations\/[0-9a-f]{32}$/);
  const id = page.url().split('/').pop()!;
  await waitForHydration(page);
  await expect(page.getByTestId('consultation-status')).toHaveAttribute('data-status', 'waiting');

  // A doctor claims it and writes; the page follows by itself.
  const doctor = await signedInDoctor();
  await doctorCalls(doctor, 'claim', { id });
  await expect(page.getByTestId('consultation-status')).toHaveAttribute('data-status', 'claimed');
  await expect(page.getByTestId('consultation-doctor')).toHaveText('Dr Wekesa');
  const seen = await doctorCalls(doctor, 'case', { id });
  expect(JSON.stringify(seen)).toContain('Blood count.pdf');
  await doctorCalls(doctor, 'send', { id, body: 'Do you feel tired or short of breath on stairs?', client_key: `journey-${unique()}` });
  await expect(page.getByTestId('thread-message')).toHaveCount(1);
  await expect(page.getByTestId('consultation-status')).toHaveAttribute('data-status', 'replied');

  // The patient answers.
  await page.getByTestId('input-body').fill('Yes, more tired than usual for a month.');
  await page.getByTestId('send-message').click();
  await expect(page.getByTestId('thread-message')).toHaveCount(2);
  const after = await doctorCalls(doctor, 'case', { id });
  expect(JSON.stringify(after)).toContain('more tired than usual');
  await doctor.dispose();

  // The whole record, as FHIR.
  await page.goto('/my-data');
  await waitForHydration(page);
  await expect(page.getByTestId('timeline-item').first()).toBeVisible();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-fhir').click()]);
  const fs = await import('fs');
  const bundle = JSON.parse(fs.readFileSync((await download.path())!, 'utf8'));
  expect(bundle.resourceType).toBe('Bundle');
  const types = new Set(bundle.entry.map((e: { resource: { resourceType: string } }) => e.resource.resourceType));
  for (const t of ['Patient', 'AllergyIntolerance', 'Observation', 'DocumentReference', 'Encounter', 'Communication']) {
    expect(types.has(t), t).toBe(true);
  }
  expect(problems).toEqual([]);
});
