// Which audio track and which subtitles a source starts with, from the viewer's languages (kept
// server-side: /api/preferences/languages) and the series' last choice, which wins for its next
// episodes. Pure: the player passes the tracks it has; `undefined` means "no opinion" (the
// player keeps the source's default, or the device's last choice).
import type { LanguagePreferences } from '$lib/api/generated/LanguagePreferences';
import { sameLanguage } from './preferences';

export interface AudioChoice {
	id: number;
	lang: string;
	name: string;
	/** The track the source marks as default (hls.js `default`, the file's first track). */
	default?: boolean;
}

export interface SubtitleChoice {
	id: string;
	lang: string;
	label: string;
	/** Forced subtitles (signs and foreign dialogue only). */
	forced?: boolean;
	/** Image subtitles are never chosen automatically (showing them reloads the stream). */
	image?: true;
}

export interface LanguageContext {
	prefs: LanguagePreferences | null;
	/** The series' last choice (`subtitles: 'off'` when turned off). */
	series: { audio: string | null; subtitles: string | null } | null;
	/** The title's original language (TMDB), when known: what VOSTFR plays. */
	originalLanguage?: string | null;
}

const FRENCH = 'fr';

/** Forced subtitles: the flag, else a label that says so ("Français (forced)", "Forcés"). */
export function isForced(option: Pick<SubtitleChoice, 'label' | 'forced'>): boolean {
	return option.forced ?? /\bforc/i.test(option.label);
}

function byLanguage<T extends { lang: string }>(items: T[], wanted: string[]): T | undefined {
	for (const lang of wanted) {
		const match = items.find((t) => sameLanguage(t.lang, lang));
		if (match) return match;
	}
	return undefined;
}

/** The audio track to start with, or undefined to keep the source's own choice. */
export function chooseAudio(tracks: AudioChoice[], ctx: LanguageContext): number | undefined {
	if (tracks.length === 0) return undefined;
	const seriesAudio = ctx.series?.audio;
	if (seriesAudio) return byLanguage(tracks, [seriesAudio])?.id;
	const prefs = ctx.prefs;
	switch (prefs?.mode ?? 'none') {
		case 'vf':
			return byLanguage(tracks, [FRENCH])?.id;
		case 'vostfr': {
			const original = ctx.originalLanguage && byLanguage(tracks, [ctx.originalLanguage]);
			if (original) return original.id;
			// Unknown original: the source's default track, if it is not the French dub.
			const fallback =
				tracks.find((t) => t.default && !sameLanguage(t.lang, FRENCH)) ??
				tracks.find((t) => t.lang !== '' && !sameLanguage(t.lang, FRENCH)) ??
				tracks.find((t) => t.default) ??
				tracks[0];
			return fallback.id;
		}
		case 'forced':
		case 'custom':
			return byLanguage(tracks, prefs?.audio ?? [])?.id;
		default:
			return undefined;
	}
}

/**
 * The subtitles to start with: an option id, null for none, or undefined for no opinion.
 * `audioLang` is the language of the audio track that will play.
 */
export function chooseSubtitle(
	options: SubtitleChoice[],
	audioLang: string | null,
	ctx: LanguageContext
): string | null | undefined {
	const drawn = options.filter((o) => !o.image);
	const seriesSubs = ctx.series?.subtitles;
	if (seriesSubs) return seriesSubs === 'off' ? null : (byLanguage(drawn, [seriesSubs])?.id ?? null);
	const forcedIn = (lang: string | null) =>
		drawn.find((o) => isForced(o) && (!lang || o.lang === '' || sameLanguage(o.lang, lang)))?.id ?? null;
	const full = drawn.filter((o) => !isForced(o));
	const prefs = ctx.prefs;
	switch (prefs?.mode ?? 'none') {
		case 'vostfr':
			return (byLanguage(full, [FRENCH]) ?? byLanguage(drawn, [FRENCH]))?.id ?? null;
		case 'vf':
			return forcedIn(FRENCH);
		case 'forced':
			return forcedIn(audioLang);
		case 'custom': {
			const wanted = prefs?.subtitles ?? [];
			if (wanted.length === 0) return forcedIn(audioLang);
			// No subtitles in the language one listens to: it is understood.
			const useful = wanted.filter((l) => !audioLang || !sameLanguage(l, audioLang));
			return byLanguage(full, useful)?.id ?? forcedIn(audioLang);
		}
		default:
			return undefined;
	}
}
