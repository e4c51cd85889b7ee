// Audio and subtitle track names in the interface's language. The server names a library track
// in its own language and in English ("English – Signs & Songs (forced)"); the menu says
// "Anglais – Signs & Songs (forcés)" to a French viewer: the language through
// Intl.DisplayNames, the flags from the catalogue, and the file's own title as it is.
import { currentLang, languageName, t } from '$lib/i18n';

const FLAGS = /\s*\(((?:forced|SDH)(?:,\s*(?:forced|SDH))*)\)\s*$/i;

/** Names a track's language could go by in a label ("English", "anglais", "en", "Unknown"). */
function isLanguageWord(word: string, lang: string): boolean {
	const w = word.trim().toLowerCase();
	if (!w || w === 'unknown' || w === lang.toLowerCase()) return true;
	return ['en', 'fr', lang, currentLang()].some((inLang) => {
		try {
			return new Intl.DisplayNames([inLang], { type: 'language' }).of(lang)?.toLowerCase() === w;
		} catch {
			return false;
		}
	});
}

export interface TrackInfo {
	lang: string;
	/** The label the server or the stream gives, if any. */
	name?: string | null;
	forced?: boolean;
}

export function trackLabel({ lang, name, forced }: TrackInfo): string {
	let rest = (name ?? '').trim();
	const flagWords = new Set<string>();
	const flagMatch = FLAGS.exec(rest);
	if (flagMatch) {
		for (const word of flagMatch[1].split(',')) flagWords.add(word.trim().toLowerCase());
		rest = rest.slice(0, flagMatch.index).trim();
	}
	if (forced) flagWords.add('forced');
	const language = languageName(lang);
	let title: string | null = rest || null;
	if (!language && rest.toLowerCase() === 'unknown') title = null;
	if (language && rest) {
		// "English – Signs" (the library), "Français · Addon name" (a Stremio addon).
		const parts = /^(.+?)\s+[–·]\s+(.+)$/.exec(rest);
		if (parts && isLanguageWord(parts[1], lang)) title = parts[2];
		else if (isLanguageWord(rest, lang)) title = null;
	}
	let label = language
		? title
			? t('track.named', { language, title })
			: language
		: (title ?? t('track.unknownLanguage'));
	const flags = [...flagWords].map((f) => (f === 'forced' ? t('track.forced') : t('track.sdh')));
	if (flags.length) label = t('track.flags', { label, flags: flags.join(', ') });
	return label;
}
