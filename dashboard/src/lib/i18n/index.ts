// A deliberately tiny i18n layer: every user-facing string lives in one catalogue per language
// (`fr.ts`, `en.ts`, same keys: i18n.test.ts checks keys and placeholders). Numbers, units,
// plurals and language names come from `Intl`, in the interface's language.
import { en } from './en';
import { fr } from './fr';
import { locale } from './state.svelte';

export type MessageKey = keyof typeof fr;
export type Messages = Record<MessageKey, string>;
type Params = Record<string, string | number>;

/** Keys that come as a `_one` / `_other` pair, named without the suffix. */
export type PluralKey = {
	[K in MessageKey]: K extends `${infer Base}_one` ? Base : never;
}[MessageKey];

export type Language = 'fr' | 'en';
export const LANGUAGES: readonly Language[] = ['fr', 'en'];
const CATALOGUES: Record<Language, Messages> = { fr, en };

/**
 * Overrides the active catalogue (tests of a missing translation); `null` goes back to the
 * language's own catalogue.
 */
let override: Messages | null = null;

export function setMessages(next: Messages | null, nextLang: Language): void {
	override = next;
	locale.lang = nextLang;
}

export function currentLang(): Language {
	return locale.lang;
}

/** Whether the catalogue has `key` (a server code, a provider id…). */
export function hasMessage(key: string): key is MessageKey {
	return key in fr;
}

function interpolate(template: string, params?: Params): string {
	if (!params) return template;
	return template.replace(/\{(\w+)\}/g, (match, name: string) =>
		name in params ? String(params[name]) : match
	);
}

/** The message for `key`, with `{name}` placeholders filled from `params`. */
export function t(key: MessageKey, params?: Params): string {
	const messages = override ?? CATALOGUES[locale.lang];
	return interpolate(messages[key] ?? key, params);
}

/** Plural form picked by the language's rules (`count` is also available as `{count}`). */
export function tp(key: PluralKey, count: number, params?: Params): string {
	const form = new Intl.PluralRules(locale.lang).select(count) === 'one' ? 'one' : 'other';
	return t(`${key}_${form}` as MessageKey, { count: formatNumber(count), ...params });
}

export function formatNumber(value: number, maximumFractionDigits = 1): string {
	return new Intl.NumberFormat(locale.lang, { maximumFractionDigits }).format(value);
}

/** `12 s` / `12 sec`, `42 min`, `1 h` / `1 hr`: a quantity of one unit, the language's way. */
export function formatUnit(value: number, unit: 'second' | 'minute' | 'hour'): string {
	return new Intl.NumberFormat(locale.lang, { style: 'unit', unit, unitDisplay: 'short' }).format(value);
}

/** `anglais` → `Anglais`: a language name, capitalised as a menu label, or null if unknown. */
export function languageName(code: string | null | undefined): string | null {
	if (!code || code === 'und') return null;
	try {
		const name = new Intl.DisplayNames([locale.lang], { type: 'language', fallback: 'none' }).of(code);
		return name ? name.charAt(0).toLocaleUpperCase(locale.lang) + name.slice(1) : null;
	} catch {
		// Not a well-formed language tag (a file's free-form tag).
		return null;
	}
}

/** `fr` → `Français`, `en` → `English`: each language named in itself, for the switch. */
export function nativeLanguageName(code: Language): string {
	const name = new Intl.DisplayNames([code], { type: 'language' }).of(code) ?? code;
	return name.charAt(0).toLocaleUpperCase(code) + name.slice(1);
}

/** `library` → `Bibliothèque`; a provider the catalogue does not know keeps its id. */
export function providerName(id: string): string {
	const key = `provider.${id}`;
	return hasMessage(key) ? t(key) : id;
}

/** `+0,5` / `−0,5` (`+0.5` / `-0.5` in English): an offset, its sign always shown. */
export function formatSigned(value: number): string {
	return new Intl.NumberFormat(locale.lang, { maximumFractionDigits: 1, signDisplay: 'always' }).format(value);
}
