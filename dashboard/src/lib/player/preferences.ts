// Player choices that carry over to the next episode and the next visit (localStorage), one set
// per profile: the tab's profile id (sessionStorage, set by the layout) names the entry.
// Subtitle timing offsets are deliberately not kept: they belong to one file, not to the next.
import { SUBTITLE_SIZES, type SubtitleSize } from './subtitles';
import { ENGINE_QUALITIES, type EngineQuality } from './quality';

export interface PlayerPreferences {
	/** Language (or name) of the last chosen audio track. */
	audioLang: string | null;
	/** Language of the last chosen subtitles; `off` when the user turned them off. */
	subtitleLang: string | null;
	subtitleSize: SubtitleSize;
	volume: number;
	muted: boolean;
	/** Skip intros and recaps without asking (once each per title). */
	autoSkip: boolean;
	/** The engine's rendition for library and remote files (`quality.ts`); `original` by default. */
	quality: EngineQuality;
}

export const PREFERENCES_KEY = 'sokoul.player';
/** sessionStorage: the profile this tab watches as (an id, not a credential). */
export const CHOSEN_KEY = 'sokoul.profile';

export const DEFAULT_PREFERENCES: PlayerPreferences = {
	audioLang: null,
	subtitleLang: null,
	subtitleSize: 'm',
	volume: 1,
	muted: false,
	autoSkip: false,
	quality: 'original'
};

/** `en-US` and `en` are the same language for carrying a choice over. */
export function sameLanguage(a: string, b: string): boolean {
	const primary = (s: string) => s.toLowerCase().split(/[-_]/)[0];
	return a !== '' && b !== '' && primary(a) === primary(b);
}

function storage(): Storage | null {
	try {
		return globalThis.localStorage ?? null;
	} catch {
		return null;
	}
}

function tabProfile(): string | null {
	try {
		return globalThis.sessionStorage?.getItem(CHOSEN_KEY) ?? null;
	} catch {
		return null;
	}
}

/** Records (or, with null, forgets) the profile this tab watches as. */
export function setPreferencesProfile(id: number | null): void {
	try {
		if (id == null) globalThis.sessionStorage?.removeItem(CHOSEN_KEY);
		else globalThis.sessionStorage?.setItem(CHOSEN_KEY, String(id));
	} catch {
		// Privacy mode: the shared entry is used.
	}
}

/** The profile's entry; before profiles (or without one) the shared entry. */
function preferencesKey(): string {
	const profile = tabProfile();
	return profile ? `${PREFERENCES_KEY}.${profile}` : PREFERENCES_KEY;
}

/** Stored values are checked field by field: an old or hand-edited entry must not break playback. */
export function loadPreferences(): PlayerPreferences {
	let raw: Record<string, unknown> = {};
	try {
		// A profile's first visit starts from the shared entry that earlier versions wrote.
		const stored = storage()?.getItem(preferencesKey()) ?? storage()?.getItem(PREFERENCES_KEY);
		const parsed: unknown = JSON.parse(stored ?? '{}');
		if (parsed && typeof parsed === 'object') raw = parsed as Record<string, unknown>;
	} catch {
		// Corrupt JSON: start from the defaults.
	}
	const prefs = { ...DEFAULT_PREFERENCES };
	if (typeof raw.audioLang === 'string') prefs.audioLang = raw.audioLang;
	if (typeof raw.subtitleLang === 'string') prefs.subtitleLang = raw.subtitleLang;
	if (SUBTITLE_SIZES.includes(raw.subtitleSize as SubtitleSize)) {
		prefs.subtitleSize = raw.subtitleSize as SubtitleSize;
	}
	if (typeof raw.volume === 'number' && raw.volume >= 0 && raw.volume <= 1) prefs.volume = raw.volume;
	if (typeof raw.muted === 'boolean') prefs.muted = raw.muted;
	if (typeof raw.autoSkip === 'boolean') prefs.autoSkip = raw.autoSkip;
	if (ENGINE_QUALITIES.includes(raw.quality as EngineQuality)) prefs.quality = raw.quality as EngineQuality;
	return prefs;
}

export function savePreferences(patch: Partial<PlayerPreferences>): PlayerPreferences {
	const next = { ...loadPreferences(), ...patch };
	try {
		storage()?.setItem(preferencesKey(), JSON.stringify(next));
	} catch {
		// Quota or privacy mode: the choice still applies to this page.
	}
	return next;
}
