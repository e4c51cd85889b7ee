// Issue 19, deliver 3 (end card): when an episode ends with nothing playing next (the last
// episode, or "Annuler" on the next-episode card), a card over the player says what to do
// next; it takes focus, Tab stays inside, Esc closes it, and a tap on a button reaches it.
import type { Page } from '@playwright/test';
import { axeSerious } from './support/axe';
import { clearProgress, expect, expectNoFatal, expectPlays, expectTappable, servers, snap, test } from './support/fixtures';

test.use({ baseURL: servers.local });
test.beforeEach(async ({ request }) => clearProgress(request, servers.local));

/** Two seconds before the end, playing. */
async function nearTheEnd(page: Page): Promise<void> {
	await page.evaluate(() => {
		const v = document.querySelector<HTMLVideoElement>('[data-testid=player] video')!;
		v.currentTime = v.duration - 2;
		void v.play();
	});
}

test('after the last episode: back to the title or replay, by keyboard', async ({ page, consoleLines }, testInfo) => {
	await page.goto('/watch/tv/1396?season=1&episode=2');
	await expectPlays(page, { from: 0, seconds: 1 });
	await nearTheEnd(page);
	const card = page.getByTestId('end-card');
	await expect(card).toBeVisible({ timeout: 15_000 });
	await expect(card).toContainText('Vous avez vu le dernier épisode');
	await expect(page.getByTestId('end-next')).toHaveCount(0);
	// Focus went into the card, and Tab keeps it there.
	await expect(page.getByTestId('end-back')).toBeFocused();
	for (let i = 0; i < 4; i++) {
		await page.keyboard.press('Tab');
		expect(await card.evaluate((el) => el.contains(document.activeElement))).toBe(true);
	}
	await snap(page, testInfo, 'end-card-last-episode');
	expect(await axeSerious(page, testInfo, 'end-card')).toEqual([]);
	await expect(page.getByTestId('end-back')).toHaveAttribute('href', '/title/tv/1396');

	await page.getByTestId('end-replay').focus();
	await page.keyboard.press('Enter');
	await expect(card).toBeHidden();
	await expect(page.getByTestId('player')).toHaveAttribute('data-state', 'playing');
	const at = await page.evaluate(() => document.querySelector<HTMLVideoElement>('[data-testid=player] video')!.currentTime);
	expect(at).toBeLessThan(20);

	await nearTheEnd(page);
	await expect(card).toBeVisible({ timeout: 15_000 });
	await page.keyboard.press('Escape');
	await expect(card).toBeHidden();
	expectNoFatal(consoleLines);
});

test.describe('phone with touch', () => {
	test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });

	test('after "Annuler" on the next episode, the card offers it again; a tap plays it', async ({
		page,
		consoleLines
	}, testInfo) => {
		await page.goto('/watch/tv/1396?season=1&episode=1');
		await expectPlays(page, { from: 0, seconds: 1 });
		await page.keyboard.press('8');
		await expect(page.getByTestId('next-episode')).toBeVisible();
		await page.getByRole('button', { name: 'Annuler' }).tap();
		await nearTheEnd(page);
		const card = page.getByTestId('end-card');
		await expect(card).toBeVisible({ timeout: 15_000 });
		await expect(card).toContainText('Épisode terminé');
		await expect(page).toHaveURL(/season=1&episode=1$/);
		for (const id of ['end-next', 'end-back', 'end-replay']) await expectTappable(page.getByTestId(id));
		await snap(page, testInfo, 'end-card-phone');
		await page.getByTestId('end-next').tap();
		await expect(page).toHaveURL(/\/watch\/tv\/1396\?season=1&episode=2$/);
		await expect(card).toBeHidden();
		expectNoFatal(consoleLines);
	});
});
