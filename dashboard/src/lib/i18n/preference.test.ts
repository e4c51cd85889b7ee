import { afterEach, describe, expect, it } from 'vitest';
import { currentLang, setMessages, t } from './index';
import { chooseLanguage, initLanguage, LANGUAGE_KEY, pickLanguage } from './preference';

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
