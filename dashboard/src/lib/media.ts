// Small pure helpers about titles, episodes and positions, shared by the pages and the player.
import type { MediaKey } from '$lib/api/client';
import type { LibrarySeason, ProgressEntry, SavedProgress } from '$lib/api/types';
import { formatUnit } from '$lib/i18n';

/** `1:02:03`, or `2:03` under an hour. */
export function formatTime(seconds: number): string {
	if (!Number.isFinite(seconds) || seconds < 0) return '0:00';
	const total = Math.floor(seconds);
	const h = Math.floor(total / 3600);
	const m = Math.floor((total % 3600) / 60);
	const s = String(total % 60).padStart(2, '0');
	return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

export function watchHref(key: MediaKey): string {
	const base = `/watch/${key.media_type}/${key.tmdb_id}`;
	return key.media_type === 'tv' && key.season != null && key.episode != null
		? `${base}?season=${key.season}&episode=${key.episode}`
		: base;
}

/** The player from 0:00 whatever was saved ("Lire depuis le début"). */
export function watchFromStartHref(key: MediaKey): string {
	const href = watchHref(key);
	return `${href}${href.includes('?') ? '&' : '?'}start=0`;
}

export function titleHref(key: Pick<MediaKey, 'media_type' | 'tmdb_id'>): string {
	return `/title/${key.media_type}/${key.tmdb_id}`;
}

export interface EpisodeRef {
	season: number;
	episode: number;
	title: string | null;
}

function ordered(seasons: readonly LibrarySeason[]): EpisodeRef[] {
	return [...seasons]
		.sort((a, b) => a.season - b.season)
		.flatMap((s) =>
			[...s.episodes]
				.sort((a, b) => a.episode - b.episode)
				.map((e) => ({ season: s.season, episode: e.episode, title: e.title }))
		);
}

/**
 * The episode after S`season`E`episode`: the next one in the season, else the first of the next
 * season. Specials (season 0) are only followed by season 1 if one is being watched.
 */
export function nextEpisode(
	seasons: readonly LibrarySeason[],
	season: number,
	episode: number
): EpisodeRef | null {
	const all = ordered(seasons);
	const at = all.findIndex((e) => e.season === season && e.episode === episode);
	if (at >= 0) return all[at + 1] ?? null;
	// Not in the library listing: the first listed episode after it, if any.
	return all.find((e) => e.season > season || (e.season === season && e.episode > episode)) ?? null;
}

/** Below this, a saved position is not worth resuming from. */
export const MIN_RESUME_SECONDS = 10;
/**
 * Past this share of the duration (the credits), the title counts as finished. A share, not a
 * fixed margin: "the last 60 s" made a 12 s clip or a 50 s short "Vu" as soon as it was opened.
 */
export const FINISHED_FRACTION = 0.95;

export function isFinished(position: number, duration: number): boolean {
	if (!Number.isFinite(duration) || duration <= 0) return false;
	return position >= duration * FINISHED_FRACTION;
}

/**
 * A runtime as people say it: `12 s`, `42 min`, `1 h 58 min` (never "0 min"); the units are
 * the interface language's own (`12 sec`, `1 hr 58 min` in English), from Intl.
 */
export function formatDuration(seconds: number): string {
	if (!Number.isFinite(seconds) || seconds <= 0) return '';
	if (seconds < 60) return formatUnit(Math.round(seconds), 'second');
	const minutes = Math.round(seconds / 60);
	if (minutes < 60) return formatUnit(minutes, 'minute');
	const hours = formatUnit(Math.floor(minutes / 60), 'hour');
	return minutes % 60 ? `${hours} ${formatUnit(minutes % 60, 'minute')}` : hours;
}

/**
 * The series' own name from a title that may carry the episode's ("Show – Pilot"), so the
 * player does not say the episode title twice.
 */
export function seriesTitle(title: string, episodeTitle: string | null | undefined): string {
	if (!episodeTitle) return title;
	const suffix = new RegExp(`\\s*[-–—:·]\\s*${episodeTitle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
	const stripped = title.replace(suffix, '');
	return stripped || title;
}

/** Where to start playing: the saved position, unless it is too early or the title was finished. */
export function resumePosition(saved: Pick<SavedProgress, 'position' | 'duration'> | null): number {
	if (!saved || !Number.isFinite(saved.position) || saved.position < MIN_RESUME_SECONDS) return 0;
	return isFinished(saved.position, saved.duration) ? 0 : saved.position;
}

/** The "continue watching" row: started but unfinished, one entry per title, most recent first. */
export function continueWatching(entries: readonly ProgressEntry[], limit = 20): ProgressEntry[] {
	const seen = new Set<string>();
	const row: ProgressEntry[] = [];
	const recentFirst = [...entries].sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at));
	for (const entry of recentFirst) {
		const key = `${entry.media_type}:${entry.tmdb_id}`;
		if (seen.has(key)) continue;
		seen.add(key);
		if (entry.position >= MIN_RESUME_SECONDS && !isFinished(entry.position, entry.duration)) {
			row.push(entry);
		}
		if (row.length >= limit) break;
	}
	return row;
}

/**
 * What "Retirer de Reprendre la lecture" forgets for a title: every unfinished position of it
 * (a series' other half-watched episodes would otherwise take its place in the row), never a
 * finished one, which is what says an episode was watched.
 */
export function entriesToForget(
	entries: readonly ProgressEntry[],
	title: Pick<ProgressEntry, 'media_type' | 'tmdb_id'>
): ProgressEntry[] {
	return entries.filter(
		(e) =>
			e.media_type === title.media_type &&
			e.tmdb_id === title.tmdb_id &&
			!isFinished(e.position, e.duration)
	);
}

/**
 * The episode "Regarder" should start for a series: the most recently watched one if unfinished,
 * else the one after it, else the first episode.
 */
export function upNextEpisode(
	seasons: readonly LibrarySeason[],
	progress: readonly ProgressEntry[]
): EpisodeRef | null {
	const all = ordered(seasons);
	if (all.length === 0) return null;
	const latest = [...progress]
		.filter((p) => p.season != null && p.episode != null)
		.sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at))[0];
	if (!latest) return all.find((e) => e.season > 0) ?? all[0];
	const watched = all.find((e) => e.season === latest.season && e.episode === latest.episode);
	if (watched && !isFinished(latest.position, latest.duration)) return watched;
	return nextEpisode(seasons, latest.season!, latest.episode!) ?? watched ?? all[0];
}
