// Issue 19, deliver 3: a player every hand and keyboard can drive. Keyboard-only use on a
// desktop (Tab reveals the controls, Space presses the focused button, the settings menu takes
// and returns focus, arrows on the volume slider do not seek, `?` lists the shortcuts, on-screen
// feedback), and a phone with touch (every overlay button is what a tap on its centre reaches,
// double tap on a side seeks 10 s).
import type { Locator, Page } from '@playwright/test';
import {
	clearProgress,
	currentTime,
	expect,
	expectNoFatal,
	expectPlays,
	expectTappable,
	servers,
	snap,
	test
} from './support/fixtures';

test.beforeEach(async ({ request }) => clearProgress(request, servers.local));

const video = (page: Page) =>
	page.evaluate(() => {
		const v = document.querySelector<HTMLVideoElement>('[data-testid=player] video')!;
		return { paused: v.paused, muted: v.muted, volume: v.volume, time: v.currentTime, rate: v.playbackRate };
	});

/** Presses Tab until `target` has focus (keyboard only: no .focus() call). */
async function tabTo(page: Page, target: Locator, max = 25): Promise<void> {
	for (let i = 0; i < max; i++) {
		if (await target.evaluate((el) => el === document.activeElement)) return;
		await page.keyboard.press('Tab');
	}
	await expect(target).toBeFocused();
}

test.describe('desktop, keyboard only', () => {
	test.use({ baseURL: servers.local, viewport: { width: 1280, height: 800 } });

	test('Tab shows the controls, Space presses buttons, menus keep and return focus', async ({ page, consoleLines }, testInfo) => {
		await page.goto('/watch/movie/603');
		await expectPlays(page, { from: 0, seconds: 1 });
		const player = page.getByTestId('player');
		// Nothing moves: the controls hide while playing…
		await expect(player).toHaveAttribute('data-controls', 'hidden');
		// …and the first key brings them back before Tab lands anywhere.
		await page.keyboard.press('Tab');
		await expect(player).toHaveAttribute('data-controls', 'shown');

		// Space on the focused mute button mutes; it does not pause.
		const mute = page.getByTestId('mute');
		await tabTo(page, mute);
		const before = await video(page);
		await page.keyboard.press('Space');
		await expect.poll(async () => (await video(page)).muted).toBe(!before.muted);
		expect((await video(page)).paused).toBe(false);
		await expect(player).toHaveAttribute('data-controls', 'shown');
		await page.keyboard.press('Space');
		await expect.poll(async () => (await video(page)).muted).toBe(before.muted);

		// Space on the play/pause button pauses once (not twice: button and shortcut).
		await tabTo(page, page.getByTestId('play-pause'));
		await page.keyboard.press('Space');
		await expect(player).toHaveAttribute('data-state', 'paused');

		// Arrows on the volume slider change the volume and do not seek.
		const volume = page.getByRole('slider', { name: 'Volume' });
		await tabTo(page, volume);
		const atVolume = await video(page);
		await page.keyboard.press('ArrowLeft');
		await page.keyboard.press('ArrowLeft');
		await expect.poll(async () => (await video(page)).volume).toBeLessThan(atVolume.volume);
		expect((await video(page)).time).toBeCloseTo(atVolume.time, 1);

		// The settings menu takes focus, keeps Tab inside, and Esc gives it back to its button.
		const settings = page.getByTestId('settings');
		await tabTo(page, settings);
		await page.keyboard.press('Enter');
		const menu = page.getByTestId('settings-menu');
		await expect(menu).toBeVisible();
		const inMenu = () => menu.evaluate((el) => el.contains(document.activeElement));
		await expect.poll(inMenu).toBe(true);
		for (let i = 0; i < 12; i++) {
			await page.keyboard.press('Tab');
			expect(await inMenu(), `focus after Tab ${i + 1}`).toBe(true);
		}
		// A sub-page replaces the focused row: focus follows into the page, not to <body>.
		await tabTo(page, menu.getByRole('button', { name: /Vitesse/ }));
		await page.keyboard.press('Enter');
		await expect(menu.getByRole('button', { name: '1,5×' })).toBeVisible();
		await expect.poll(inMenu).toBe(true);
		await snap(page, testInfo, 'settings-speed-page');
		await page.keyboard.press('Escape');
		await expect(menu).toBeHidden();
		await expect(settings).toBeFocused();

		// `?` lists the shortcuts in a dialog that takes focus; Esc closes it.
		await page.keyboard.press('?');
		const help = page.getByTestId('shortcuts');
		await expect(help).toBeVisible();
		await expect(help).toContainText('Raccourcis clavier');
		await expect(help).toContainText('Espace');
		await expect.poll(() => help.evaluate((el) => el.contains(document.activeElement))).toBe(true);
		await snap(page, testInfo, 'shortcuts');
		await page.keyboard.press('Escape');
		await expect(help).toBeHidden();
		await expect(settings).toBeFocused();

		// On-screen feedback for seek, volume and speed.
		const feedback = page.getByTestId('player-feedback');
		await page.keyboard.press('l');
		await expect(feedback).toHaveText('+10 s');
		await page.keyboard.press('>');
		await expect(feedback).toHaveText('Vitesse 1,25×');
		expect((await video(page)).rate).toBe(1.25);
		await page.keyboard.press('m');
		await expect(feedback).toHaveText(/Son coupé|Volume \d+ %/);
		expectNoFatal(consoleLines);
	});
});

test.describe('phone with touch', () => {
	test.use({ baseURL: servers.local, viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });

	test('the next-episode card and "Annuler" are tappable; a double tap on a side seeks 10 s', async ({ page, consoleLines }, testInfo) => {
		await page.goto('/watch/tv/1396?season=1&episode=1');
		await expectPlays(page, { from: 0, seconds: 1 });
		await page.keyboard.press('8');
		const next = page.getByTestId('next-episode');
		await expect(next).toBeVisible();
		// Paused: the controls stay up, which is when their layer used to swallow the taps.
		await page.keyboard.press('k');
		const player = page.getByTestId('player');
		await expect(player).toHaveAttribute('data-state', 'paused');
		await expect(player).toHaveAttribute('data-controls', 'shown');
		await snap(page, testInfo, 'next-card-phone');
		await expectTappable(page.getByTestId('big-play'));
		await expectTappable(next);
		const dismiss = page.getByRole('button', { name: 'Annuler' });
		await expectTappable(dismiss);
		await dismiss.tap();
		await expect(next).toBeHidden();

		// Double tap on the left third: 10 s back; on the right third: 10 s forward.
		const box = (await page.locator('[data-testid=player] video').boundingBox())!;
		const from = await currentTime(page);
		await page.touchscreen.tap(box.x + box.width * 0.15, box.y + box.height * 0.35);
		await page.touchscreen.tap(box.x + box.width * 0.15, box.y + box.height * 0.35);
		await expect.poll(() => currentTime(page)).toBeCloseTo(from - 10, 0);
		await expect(page.getByTestId('player-feedback')).toHaveText('−10 s');
		await page.touchscreen.tap(box.x + box.width * 0.85, box.y + box.height * 0.35);
		await page.touchscreen.tap(box.x + box.width * 0.85, box.y + box.height * 0.35);
		await expect.poll(() => currentTime(page)).toBeCloseTo(from, 0);
		// Still a page, not fullscreen: the double tap is not a double click.
		expect(await page.evaluate(() => document.fullscreenElement)).toBeNull();
		expectNoFatal(consoleLines);
	});

	test('"Passer l’intro" is tappable over the controls', async ({ page, request }, testInfo) => {
		await clearProgress(request, servers.remote);
		await page.goto(`${servers.remote}/watch/movie/550`);
		await expectPlays(page, { from: 0, seconds: 1 });
		const skip = page.getByTestId('skip-intro');
		await expect(skip).toBeVisible();
		await page.evaluate(() => document.querySelector<HTMLVideoElement>('[data-testid=player] video')!.pause());
		await expect(page.getByTestId('player')).toHaveAttribute('data-controls', 'shown');
		await snap(page, testInfo, 'skip-phone');
		await expectTappable(skip);
		await skip.tap();
		await expect(skip).toBeHidden();
		expect(await currentTime(page)).toBeGreaterThanOrEqual(11.9);
	});

	test('the error panel\'s "Réessayer" is tappable', async ({ page }, testInfo) => {
		await page.goto('/watch/movie/99999');
		const retry = page.getByTestId('retry');
		await expect(retry).toBeVisible();
		await snap(page, testInfo, 'error-phone');
		await expectTappable(retry);
	});
});
