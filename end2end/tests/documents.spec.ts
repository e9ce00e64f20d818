// Documents in the browser: a patient adds several files at once (and one by dropping it),
// watches each upload finish, sees the lab values of a report flagged in words and charted
// across two reports, previews, downloads and deletes; a program renamed .pdf is refused with
// a clear message. The page has no serious accessibility violations.
import { test, expect, expectAccessible, waitForHydration } from './fixtures';

const unique = () => `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

/** A minimal valid one-page PDF whose text is `lines`, with a correct cross-reference table. */
function labPdf(lines: string[]): Buffer {
  let content = 'BT /F1 11 Tf 14 TL 72 750 Td\n';
  for (const line of lines) {
    const escaped = line.replace(/\\/g, '\\\\').replace(/\(/g, '\\(').replace(/\)/g, '\\)');
    content += `(${escaped}) Tj T*\n`;
  }
  content += 'ET\n';
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R ' +
      '/Resources << /Font << /F1 5 0 R >> >> >>',
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

/** The signature and header of a small PNG (enough for Tabibu to accept it). */
function png(width: number, height: number): number[] {
  const bytes = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52];
  for (const n of [width, height]) bytes.push((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
  bytes.push(8, 6, 0, 0, 0, 0, 0, 0, 0);
  return bytes;
}

test('a patient uploads several documents, reads flagged lab values, previews, downloads and deletes', async ({ page, problems }) => {
  await page.goto('/sign-up');
  await waitForHydration(page);
  await page.getByTestId('input-name').fill('Achieng Odhiambo');
  await page.getByTestId('input-email').fill(`docs-${unique()}@example.com`);
  await page.getByTestId('input-date_of_birth').fill('1985-02-01');
  await page.getByTestId('input-password').fill('sunlight over lake victoria');
  await page.getByTestId('submit').click();
  await expect(page).toHaveURL(/\/account$/);
  await waitForHydration(page);
  await page.getByTestId('nav-documents').click();
  await expect(page).toHaveURL(/\/documents$/);
  await waitForHydration(page);
  await expect(page.getByTestId('documents-empty')).toBeVisible();

  const march = labPdf(['City Lab', 'Page 1 of 1', 'Haemoglobin 10.2 g/dL 12.0 - 15.5',
    'WBC: 13.5 x10^9/L (4.0-11.0) H', 'Potassium 3.1 mmol/L [3.5-5.1] L']);
  const april = labPdf(['City Lab', 'Haemoglobin 11.8 g/dL 12.0 - 15.5']);
  await page.getByTestId('document-files').setInputFiles([
    { name: 'March results.pdf', mimeType: 'application/pdf', buffer: march },
    { name: 'April results.pdf', mimeType: 'application/pdf', buffer: april },
  ]);
  await expect(page.getByTestId('upload-state')).toHaveText(['Uploaded', 'Uploaded']);
  await expect(page.getByTestId('document-row')).toHaveCount(2);

  // One more, dropped onto the page.
  const dropped = await page.evaluateHandle((bytes) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(bytes)], 'rash.png', { type: 'image/png' }));
    return transfer;
  }, png(64, 48));
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer: dropped });
  await expect(page.getByTestId('upload-state')).toHaveText(['Uploaded', 'Uploaded', 'Uploaded']);
  await expect(page.getByTestId('document-row')).toHaveCount(3);

  // Flags are words, not only colours; haemoglobin appears in both reports and is charted.
  const rows = page.getByTestId('lab-row');
  await expect(rows).toHaveCount(4);
  await expect(page.locator('[data-testid="lab-row"][data-flag="high"]')).toContainText('High');
  await expect(page.locator('[data-testid="lab-row"][data-flag="low"]').first()).toContainText('Low');
  await expect(page.getByTestId('lab-chart')).toHaveCount(1);
  await expect(page.getByTestId('lab-chart').locator('circle')).toHaveCount(2);

  // A program renamed .pdf is refused by its content, with a clear message.
  await page.getByTestId('document-files').setInputFiles({
    name: 'labs.pdf', mimeType: 'application/pdf', buffer: Buffer.from('MZ\x90\x00 This program cannot be run in DOS mode.'),
  });
  await expect(page.getByTestId('upload-state').last()).toContainText('Only PDF, JPEG and PNG');
  await expect(page.getByTestId('document-row')).toHaveCount(3);

  await expectAccessible(page);

  // Preview in the page, then download the exact bytes.
  const march_row = page.getByTestId('document-row').filter({ hasText: 'March results.pdf' });
  await march_row.getByRole('button', { name: /View/ }).click();
  await expect(page.getByTestId('document-preview').locator('iframe')).toHaveAttribute('src', /\/api\/documents\//);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    march_row.getByRole('link', { name: 'Download' }).click(),
  ]);
  const path = await download.path();
  const fs = await import('fs');
  expect(fs.readFileSync(path!).equals(march)).toBe(true);

  // Delete asks once more, then the document and its values are gone.
  await march_row.getByTestId('delete-document').click();
  await march_row.getByTestId('confirm-delete').click();
  await expect(page.getByTestId('document-row')).toHaveCount(2);
  await expect(rows).toHaveCount(1);

  // The refused upload is logged by the browser as a failed request; nothing else may fail.
  expect(problems.filter((p) => !p.includes('status of 415'))).toEqual([]);
  problems.length = 0;
});
