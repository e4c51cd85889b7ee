// Library search as you type, pure: accents and case do not matter, every word must match, titles
// that start with the query come first.
import type { LibraryItem } from '$lib/api/types';

export function normalise(text: string): string {
	return text
		.normalize('NFD')
		.replace(/\p{Diacritic}/gu, '')
		.toLowerCase()
		.trim();
}

export function searchLibrary<T extends Pick<LibraryItem, 'title'>>(items: readonly T[], query: string, limit = 8): T[] {
	const words = normalise(query).split(/\s+/).filter(Boolean);
	if (!words.length) return [];
	const first = words.join(' ');
	return items
		.map((item) => ({ item, title: normalise(item.title) }))
		.filter(({ title }) => words.every((word) => title.includes(word)))
		.sort((a, b) => Number(b.title.startsWith(first)) - Number(a.title.startsWith(first)) || a.title.localeCompare(b.title))
		.slice(0, limit)
		.map(({ item }) => item);
}

/** A query that is a TMDB id ("603"): it can be opened as a film or a series. */
export function tmdbIdOf(query: string): number | null {
	const trimmed = query.trim();
	return /^\d{1,9}$/.test(trimmed) && Number(trimmed) > 0 ? Number(trimmed) : null;
}
