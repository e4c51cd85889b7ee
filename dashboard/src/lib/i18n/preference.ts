// Which language the interface speaks: the current profile's choice (kept on the server, so it
// follows the viewer to every device), else this browser's last choice, else the browser's
// languages. The browser copy (localStorage: a preference, not a credential) lets the next page
// load start in the right language before the profile is known.
import { CHOSEN_KEY } from '$lib/player/preferences';
import { currentLang, LANGUAGES, setMessages, type Language } from './index';

export const LANGUAGE_KEY = 'sokoul.lang';

/** What a page load `depends` on when it fetches texts in the interface's language. */
export const LANGUAGE_DEPENDENCY = 'sokoul:language';

/** The first of the browser's languages the interface speaks; English when none is. */
export function pickLanguage(browser: readonly string[]): Language {
	for (const tag of browser) {
		const primary = tag.toLowerCase().split('-')[0];
		if ((LANGUAGES as readonly string[]).includes(primary)) return primary as Language;
	}
	return 'en';
}

function stored(key: string): Language | null {
	try {
		const value = globalThis.localStorage?.getItem(key);
		return (LANGUAGES as readonly string[]).includes(value ?? '') ? (value as Language) : null;
	} catch {
		return null;
	}
}

function write(key: string, lang: Language | null): void {
	try {
		if (lang) globalThis.localStorage?.setItem(key, lang);
		else globalThis.localStorage?.removeItem(key);
	} catch {
		// Storage refused (private mode): the choice lasts for this page only.
	}
}

/** This browser's copy of a profile's choice, read at start before the profile is known. */
export const profileLanguageKey = (profile: number | string) => `${LANGUAGE_KEY}.p${profile}`;

/** The profile this tab watches as (the layout records it with the player's preferences). */
function tabProfile(): string | null {
	try {
		return globalThis.sessionStorage?.getItem(CHOSEN_KEY) ?? null;
	} catch {
		return null;
	}
}

function browserLanguage(): Language {
	const nav = globalThis.navigator;
	return pickLanguage(nav?.languages?.length ? nav.languages : [nav?.language ?? '']);
}

function apply(lang: Language): void {
	setMessages(null, lang);
	if (typeof document !== 'undefined') document.documentElement.lang = lang;
}

/** At start: this tab's profile's choice, else this browser's, else the browser's languages. */
export function initLanguage(): Language {
	const profile = tabProfile();
	const lang = (profile ? stored(profileLanguageKey(profile)) : null) ?? stored(LANGUAGE_KEY) ?? browserLanguage();
	apply(lang);
	return lang;
}

/** The profile being watched as, and how to save its choice on the server. */
let active: { id: number; save: (lang: Language) => Promise<unknown> } | null = null;

/**
 * The current profile is known: its language (a BCP-47 tag from the server) is applied when the
 * interface speaks it; a profile that chose none gets this browser's choice or languages, not
 * the language another profile chose here.
 */
export function useProfileLanguage(id: number, tag: string | null | undefined, save: (lang: Language) => Promise<unknown>): void {
	active = { id, save };
	const primary = tag?.toLowerCase().split('-')[0] ?? '';
	const chosen = (LANGUAGES as readonly string[]).includes(primary) ? (primary as Language) : null;
	write(profileLanguageKey(id), chosen);
	const lang = chosen ?? stored(LANGUAGE_KEY) ?? browserLanguage();
	if (lang !== currentLang()) apply(lang);
}

/** Logged out: choices are this browser's again. */
export function leaveProfile(): void {
	active = null;
}

/** The viewer's choice: applied at once, kept by the profile (on the server) or by this browser. */
export function chooseLanguage(lang: Language): void {
	apply(lang);
	if (!active) {
		write(LANGUAGE_KEY, lang);
		return;
	}
	write(profileLanguageKey(active.id), lang);
	// Best effort: this browser's copy holds the choice meanwhile.
	active.save(lang).catch((error) => console.warn('[i18n] the profile keeps its old language', error));
}
