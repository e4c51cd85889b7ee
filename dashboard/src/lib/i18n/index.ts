// A deliberately tiny i18n layer: every user-facing string lives in one messages module
// (`fr.ts`); another language is another module of the same shape passed to `setMessages`.
import { fr } from './fr';

export type MessageKey = keyof typeof fr;
export type Messages = Record<MessageKey, string>;
type Params = Record<string, string | number>;

/** Keys that come as a `_one` / `_other` pair, named without the suffix. */
export type PluralKey = {
	[K in MessageKey]: K extends `${infer Base}_one` ? Base : never;
}[MessageKey];

let messages: Messages = fr;
let lang = 'fr';

export function setMessages(next: Messages, nextLang: string): void {
	messages = next;
	lang = nextLang;
}

export function currentLang(): string {
	return lang;
}

function interpolate(template: string, params?: Params): string {
	if (!params) return template;
	return template.replace(/\{(\w+)\}/g, (match, name: string) =>
		name in params ? String(params[name]) : match
	);
}

/** The message for `key`, with `{name}` placeholders filled from `params`. */
export function t(key: MessageKey, params?: Params): string {
	return interpolate(messages[key] ?? key, params);
}

/** Plural form picked by the language's rules (`count` is also available as `{count}`). */
export function tp(key: PluralKey, count: number, params?: Params): string {
	const form = new Intl.PluralRules(lang).select(count) === 'one' ? 'one' : 'other';
	return t(`${key}_${form}` as MessageKey, { count: formatNumber(count), ...params });
}

export function formatNumber(value: number, maximumFractionDigits = 1): string {
	return new Intl.NumberFormat(lang, { maximumFractionDigits }).format(value);
}
