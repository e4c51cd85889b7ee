// Which language the interface speaks: the viewer's own choice (the header's switch), else the
// browser's languages. The choice is a preference, not a credential, so localStorage is enough;
// it could move to the profile (issue #12) once profiles carry settings.
import { LANGUAGES, setMessages, type Language } from './index';

export const LANGUAGE_KEY = 'sokoul.lang';

/** The first of the browser's languages the interface speaks; English when none is. */
export function pickLanguage(browser: readonly string[]): Language {
	for (const tag of browser) {
		const primary = tag.toLowerCase().split('-')[0];
		if ((LANGUAGES as readonly string[]).includes(primary)) return primary as Language;
	}
	return 'en';
}

function stored(): Language | null {
	try {
		const value = globalThis.localStorage?.getItem(LANGUAGE_KEY);
		return (LANGUAGES as readonly string[]).includes(value ?? '') ? (value as Language) : null;
	} catch {
		return null;
	}
}

function apply(lang: Language): void {
	setMessages(null, lang);
	if (typeof document !== 'undefined') document.documentElement.lang = lang;
}

/** At start: the remembered choice, else the browser's languages. */
export function initLanguage(): Language {
	const nav = globalThis.navigator;
	const lang = stored() ?? pickLanguage(nav?.languages?.length ? nav.languages : [nav?.language ?? '']);
	apply(lang);
	return lang;
}

/** The viewer's choice: applied at once and remembered in this browser. */
export function chooseLanguage(lang: Language): void {
	apply(lang);
	try {
		globalThis.localStorage?.setItem(LANGUAGE_KEY, lang);
	} catch {
		// Storage refused (private mode): the choice lasts for this page only.
	}
}
