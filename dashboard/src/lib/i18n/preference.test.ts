import { afterEach, describe, expect, it, vi } from 'vitest';
import { currentLang, setMessages, t } from './index';
import { CHOSEN_KEY } from '$lib/player/preferences';
import {
	chooseLanguage,
	initLanguage,
	LANGUAGE_KEY,
	leaveProfile,
	pickLanguage,
	profileLanguageKey,
	useProfileLanguage
} from './preference';

afterEach(() => {
	localStorage.clear();
	setMessages(null, 'fr');
});

describe('pickLanguage', () => {
	it('takes the first language the interface speaks, in the browser’s order', () => {
		expect(pickLanguage(['fr-CA', 'en-US'])).toBe('fr');
		expect(pickLanguage(['en-GB', 'fr'])).toBe('en');
		expect(pickLanguage(['de-DE', 'FR-be'])).toBe('fr');
	});

	it('falls back to English for a browser that asks for neither', () => {
		expect(pickLanguage(['de-DE', 'it'])).toBe('en');
		expect(pickLanguage([])).toBe('en');
	});
});

describe('initLanguage and chooseLanguage', () => {
	it('a remembered choice wins over the browser’s languages, and sets <html lang>', () => {
		chooseLanguage('en');
		expect(localStorage.getItem(LANGUAGE_KEY)).toBe('en');
		setMessages(null, 'fr');
		expect(initLanguage()).toBe('en');
		expect(currentLang()).toBe('en');
		expect(document.documentElement.lang).toBe('en');
		expect(t('title.watch')).toBe('Watch');
	});

	it('without a choice, follows the browser (jsdom says en-US)', () => {
		expect(initLanguage()).toBe(pickLanguage(navigator.languages));
	});

	it('ignores a stored value it does not know', () => {
		localStorage.setItem(LANGUAGE_KEY, 'xx');
		expect(initLanguage()).toBe(pickLanguage(navigator.languages));
	});
});

describe('the profile’s language', () => {
	const saved: string[] = [];
	const save = (lang: string) => {
		saved.push(lang);
		return Promise.resolve();
	};
	afterEach(() => {
		leaveProfile();
		sessionStorage.clear();
		saved.length = 0;
	});

	it('a choice in the header is saved to the current profile, not as this browser’s', () => {
		useProfileLanguage(7, null, save);
		chooseLanguage('en');
		expect(saved).toEqual(['en']);
		expect(currentLang()).toBe('en');
		expect(localStorage.getItem(profileLanguageKey(7))).toBe('en');
		expect(localStorage.getItem(LANGUAGE_KEY)).toBeNull();
	});

	it('a choice the server cannot save is kept in this browser for the profile', async () => {
		const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
		useProfileLanguage(7, null, () => Promise.reject(new Error('offline')));
		chooseLanguage('en');
		await new Promise((resolve) => setTimeout(resolve));
		expect(localStorage.getItem(profileLanguageKey(7))).toBe('en');
		expect(warn).toHaveBeenCalled();
		warn.mockRestore();
	});

	it('the profile’s choice wins over this browser’s', () => {
		chooseLanguage('fr');
		useProfileLanguage(7, 'en-gb', save);
		expect(currentLang()).toBe('en');
		expect(document.documentElement.lang).toBe('en');
		expect(saved).toEqual([]);
	});

	it('a profile without a choice does not inherit the one another profile made here', () => {
		chooseLanguage('fr');
		useProfileLanguage(7, 'en', save);
		useProfileLanguage(8, null, save);
		expect(currentLang()).toBe('fr');
		useProfileLanguage(9, 'de', save);
		expect(currentLang()).toBe('fr');
	});

	it('the next page load of a tab watching as a profile starts in that profile’s language', () => {
		useProfileLanguage(7, 'en', save);
		sessionStorage.setItem(CHOSEN_KEY, '7');
		setMessages(null, 'fr');
		expect(initLanguage()).toBe('en');
		sessionStorage.setItem(CHOSEN_KEY, '8');
		expect(initLanguage()).toBe(pickLanguage(navigator.languages));
	});
});
