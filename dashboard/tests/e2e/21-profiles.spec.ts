// Profiles (issue 16), on a server of its own that has no account yet: its first run makes the
// admin, a second profile is added, one profile watches a film, and "Reprendre la lecture"
// offers it on that profile only; a new login asks "Qui regarde ?".
import type { Page } from '@playwright/test';
import { expect, expectNoFatal, expectPlays, servers, snap, test } from './support/fixtures';

const ADMIN = 'parent';
const PASSWORD = 'household password';

function tile(page: Page, name: string) {
	return page.locator(`[data-testid=profile-tile][data-name="${name}"]`);
}

/** Plays film 603 from 20 s and pauses, which saves the position at once. */
async function watchAWhile(page: Page) {
	await page.goto(`${servers.household}/watch/movie/603`);
	await expectPlays(page, { from: 0, seconds: 1 });
	await page.evaluate(() => {
		document.querySelector<HTMLVideoElement>('[data-testid=player] video')!.currentTime = 20;
	});
	await expectPlays(page, { from: 20, seconds: 1 });
	const saved = page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().includes('/api/progress/movie/603'));
	await page.keyboard.press('k');
	expect((await saved).status()).toBe(204);
}

test('first run → admin → second profile → what one profile watched resumes on that profile only', async ({
	page,
	browser,
	consoleLines
}, testInfo) => {
	await page.goto(`${servers.household}/`);
	await page.getByTestId('setup-link').click();
	await page.getByTestId('login-username').fill(ADMIN);
	await page.getByTestId('login-password').fill(PASSWORD);
	await page.getByTestId('login-submit').click();
	// One profile, named after the account: nobody is asked who watches.
	await expect(page.getByTestId('current-profile')).toHaveText(ADMIN);
	await expect(page.getByTestId('profile-picker')).toHaveCount(0);

	await page.getByTestId('current-profile').click();
	const picker = page.getByTestId('profile-picker');
	await expect(picker).toContainText('Qui regarde ?');
	await page.getByTestId('manage-profiles').click();
	await page.getByTestId('profile-name').fill('Léa');
	await page.getByTestId('profile-create').click();
	await expect(page.getByTestId('profile-tile')).toHaveCount(2);
	await page.getByTestId('manage-profiles').click();
	await snap(page, testInfo, 'who-is-watching');

	await tile(page, 'Léa').click();
	await expect(page.getByTestId('current-profile')).toHaveText('Léa');
	await watchAWhile(page);

	await page.goto(`${servers.household}/`);
	const resume = page.getByTestId('continue-item');
	await expect(resume).toHaveCount(1);
	// The card's link (the card also holds "Retirer de Reprendre la lecture").
	await expect(resume.locator('a.card')).toHaveAttribute('href', /\/watch\/movie\/603/);
	await expect(page.getByRole('heading', { name: 'Reprendre la lecture' })).toBeVisible();
	await snap(page, testInfo, 'lea-resumes');

	// The admin's own profile has nothing to resume.
	await page.getByTestId('current-profile').click();
	await tile(page, ADMIN).click();
	await expect(page.getByTestId('current-profile')).toHaveText(ADMIN);
	await expect(page.locator('[data-testid=library-item][href="/title/movie/603"]')).toBeVisible();
	await expect(resume).toHaveCount(0);
	await expect(page.getByRole('heading', { name: 'Reprendre la lecture' })).toHaveCount(0);

	// A new login asks who watches; Léa finds her film again.
	await page.getByTestId('logout').click();
	await page.getByTestId('login-username').fill(ADMIN);
	await page.getByTestId('login-password').fill(PASSWORD);
	await page.getByTestId('login-submit').click();
	await expect(picker).toBeVisible();
	await expect(page.getByTestId('profile-tile')).toHaveCount(2);
	await tile(page, 'Léa').click();
	await expect(page.getByTestId('current-profile')).toHaveText('Léa');
	await expect(resume).toHaveCount(1);

	// The interface language belongs to the profile: Léa reads English, the admin's profile
	// (which chose none) stays in the browser's French, and another device showing Léa is in English.
	const languageSaved = page.waitForResponse(
		(r) => r.request().method() === 'PATCH' && /\/api\/profiles\/\d+$/.test(r.url())
	);
	await page.getByTestId('language-switch').selectOption('en');
	expect((await languageSaved).status()).toBe(200);
	await expect(page.getByRole('heading', { name: 'Continue watching' })).toBeVisible();
	await page.getByTestId('current-profile').click();
	await tile(page, ADMIN).click();
	await expect(page.getByTestId('current-profile')).toHaveText(ADMIN);
	await expect(page.getByTestId('language-switch')).toHaveValue('fr');

	const device = await browser.newContext({ locale: 'fr-FR' });
	const other = await device.newPage();
	await other.goto(`${servers.household}/`);
	await other.getByTestId('login-username').fill(ADMIN);
	await other.getByTestId('login-password').fill(PASSWORD);
	await other.getByTestId('login-submit').click();
	await tile(other, 'Léa').click();
	await expect(other.getByTestId('current-profile')).toHaveText('Léa');
	await expect(other.getByTestId('language-switch')).toHaveValue('en');
	await expect(other.getByRole('heading', { name: 'Continue watching' })).toBeVisible();
	await device.close();
	expectNoFatal(consoleLines);
});
