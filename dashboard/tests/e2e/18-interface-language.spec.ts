// Issue 19, item 5 "Two languages, no leaks": the interface speaks the browser's language
// (Playwright's `locale` sets navigator.languages), French or English, with no word of the other
// on the home page, a title page, the player with its menu open and the no-source page; the
// header's switch is remembered across a reload.
import type { Page } from '@playwright/test';
import { clearProgress, expect, expectPlays, servers, snap, test } from './support/fixtures';

test.use({ baseURL: servers.local });
test.beforeEach(async ({ request }) => clearProgress(request, servers.local));

/** Words of the interface only one language uses (a title's own words are taken out first). */
const FRENCH_ONLY =
	/(?<!\p{L})(Regarder|Reprendre|Bibliothèque|Réessayer|Rechercher|Lecture|Réglages|Sous-titres|Qualité|Vitesse|Aucune|Saisons?|Épisodes?|Plein écran|Couper le son|Chargement|Votre|Détails techniques|introuvable|fournisseur)(?!\p{L})/iu;
const ENGLISH_ONLY =
	/(?<!\p{L})(Watch|Resume|Library|Try again|Retry|Search|Settings|Subtitles|Quality|Speed|No source|Seasons?|Episodes?|Full screen|Mute|Loading|Your|Technical details|not in the library|Failed to fetch|English|Back)(?!\p{L})/iu;

/** Every text node and every label a person or a screen reader meets, titles of the demo media removed. */
async function interfaceText(page: Page): Promise<string> {
	const text = await page.evaluate(() => {
		const parts: string[] = [document.title];
		// What is marked as another language (the switch names each language in itself) is not a leak.
		const otherLanguage = (el: Element | null) =>
			(el?.closest('[lang]')?.getAttribute('lang') ?? document.documentElement.lang) !== document.documentElement.lang;
		const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
			acceptNode: (node) =>
				node.parentElement?.closest('script, style, noscript') || otherLanguage(node.parentElement)
					? NodeFilter.FILTER_REJECT
					: NodeFilter.FILTER_ACCEPT
		});
		for (let node = walker.nextNode(); node; node = walker.nextNode()) parts.push(node.textContent ?? '');
		for (const el of document.querySelectorAll('[aria-label], [title], [placeholder], [alt], [aria-valuetext]')) {
			if (otherLanguage(el)) continue;
			for (const name of ['aria-label', 'title', 'placeholder', 'alt', 'aria-valuetext']) {
				const value = el.getAttribute(name);
				if (value) parts.push(value);
			}
		}
		return parts.join('\n');
	});
	// The demo library's own names ("Sokoul Demo Direct Play", its episodes) are content, not interface.
	return text.replace(/Sokoul Demo [A-Za-z ]+|Episode \d+|Sokoul/g, '');
}

async function expectNoLeak(page: Page, other: RegExp, where: string): Promise<void> {
	const text = await interfaceText(page);
	const leak = other.exec(text);
	const context = leak ? text.slice(Math.max(0, leak.index - 60), leak.index + 60) : '';
	expect(leak?.[0], `${where}: "${context}"`).toBeUndefined();
}

const LANGUAGES = [
	{
		locale: 'en-US',
		lang: 'en',
		other: FRENCH_ONLY,
		watch: 'Watch',
		play: 'Play',
		settings: 'Settings',
		quality: 'Quality',
		noSource: 'No source was found for this title.',
		libraryRow: 'Library',
		notInLibrary: 'no source: not in the library',
		details: 'Technical details'
	},
	{
		locale: 'fr-FR',
		lang: 'fr',
		other: ENGLISH_ONLY,
		watch: 'Regarder',
		play: 'Lecture',
		settings: 'Réglages',
		quality: 'Qualité',
		noSource: 'Aucune source n’a été trouvée pour ce titre.',
		libraryRow: 'Bibliothèque',
		notInLibrary: 'aucune source : pas dans la bibliothèque',
		details: 'Détails techniques'
	}
] as const;

for (const l of LANGUAGES) {
	test.describe(`with the browser in ${l.locale}`, () => {
		test.use({ locale: l.locale });

		test(`home, title page, player and no-source page read in ${l.lang} only`, async ({ page }, testInfo) => {
			await page.goto('/');
			await expect(page.locator('html')).toHaveAttribute('lang', l.lang);
			await expect(page.getByTestId('language-switch')).toHaveValue(l.lang);
			await expect(page.locator('main a[href^="/title/"]').first()).toBeVisible();
			await snap(page, testInfo, `${l.lang}-home`);
			await expectNoLeak(page, l.other, 'home');

			await page.goto('/title/movie/603');
			await expect(page.getByTestId('watch-button')).toContainText(l.watch);
			await expectNoLeak(page, l.other, 'title page');

			await page.goto('/watch/movie/603');
			await expectPlays(page, { from: 0, seconds: 0.5 });
			await page.getByTestId('player').hover();
			await page.getByTestId('player').evaluate((el) => el.querySelector('video')!.pause());
			await expect(page.getByTestId('play-pause')).toHaveAttribute('aria-label', l.play);
			await page.getByRole('button', { name: l.settings, exact: true }).click();
			await expect(page.getByTestId('settings-menu')).toContainText(l.quality);
			await snap(page, testInfo, `${l.lang}-player-menu`);
			await expectNoLeak(page, l.other, 'player with its menu open');

			await page.goto('/watch/movie/99999');
			const error = page.getByTestId('player-error');
			await expect(error).toContainText(l.noSource);
			const row = error.locator('li[data-provider="library"]');
			await expect(row).toContainText(l.libraryRow);
			await expect(row).toContainText(l.notInLibrary);
			// The server's English message waits behind the toggle.
			await error.getByText(l.details).click();
			await expect(error.getByTestId('error-details')).toContainText('not_in_library');
			await snap(page, testInfo, `${l.lang}-no-source`);
		});
	});
}

test.describe('the header’s language switch', () => {
	test.use({ locale: 'en-US' });

	test('changes the interface at once and is remembered across a reload', async ({ page }, testInfo) => {
		await page.goto('/title/movie/603');
		await expect(page.getByTestId('watch-button')).toContainText('Watch');
		await page.getByTestId('language-switch').selectOption('fr');
		await expect(page.getByTestId('watch-button')).toContainText('Regarder');
		await expect(page.locator('html')).toHaveAttribute('lang', 'fr');
		await expectNoLeak(page, ENGLISH_ONLY, 'after switching to French');

		await page.reload();
		await expect(page.getByTestId('watch-button')).toContainText('Regarder');
		await expect(page.getByTestId('language-switch')).toHaveValue('fr');
		await snap(page, testInfo, 'switched-to-french-after-reload');

		await page.getByTestId('language-switch').selectOption('en');
		await page.reload();
		await expect(page.getByTestId('watch-button')).toContainText('Watch');
	});
});
